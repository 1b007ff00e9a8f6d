"""Service messages in the words of the studio, not of the API.

Services word their messages for the REST API, where naming the offending item by
its JSON path is what Azure does (``"[0].value.answer must not be empty."``,
``"firstDeploymentName and secondDeploymentName must ..."``). A person in the studio
never typed those names: the studio views that show a ``StudioError`` (a form's
field messages, a flash message; a job's errors through ``plain_job_messages``)
pass it through ``plain_message``, which rewrites each API path or field name into
the words the screen uses ("Answer must not be empty.", "First deployment and
second deployment must ..."), keeping the item's position where it helps find it
("Start (utterance 13, entity 1) ..."). Quoted values (names the user typed) are
left exactly as they are.
"""

from __future__ import annotations

import re
from typing import Any

# API field names the services put in messages or targets, as the studio says them.
LABELS: dict[str, str] = {
    "answer": "answer",
    "appId": "LUIS app ID",
    "appVersion": "LUIS app version",
    "assets": "project data",
    "canonicalForm": "normalized value",
    "category": "name",
    "confidenceThreshold": "confidence threshold",
    "defaultAnswer": "default answer",
    "deploymentName": "deployment",
    "description": "description",
    "displayOrder": "display order",
    "displayText": "prompt text",
    "evaluationOptions": "evaluation options",
    "firstDeploymentName": "first deployment",
    "headers": "headers",
    "httpOrchestration": "HTTP target",
    "intent": "intent",
    "jobId": "job",
    "language": "language",
    "listKey": "normalized value",
    "luisOrchestration": "LUIS target",
    "metadata": "metadata",
    "modelLabel": "model name",
    "offset": "start",
    "length": "length",
    "projectKind": "project kind",
    "projectName": "project name",
    "qnaId": "question-answer pair",
    "question": "question",
    "questions": "questions",
    "regexKey": "expression name",
    "regexPattern": "regular expression",
    "secondDeploymentName": "second deployment",
    "slotName": "LUIS slot",
    "source": "source",
    "stringIndexType": "offset encoding",
    "synonyms": "synonyms",
    "targetDeploymentName": "target deployment",
    "targetProjectKind": "target kind",
    "targetProjectName": "target project",
    "testingSplitPercentage": "testing percentage",
    "trainedModelLabel": "trained model",
    "trainingMode": "training mode",
    "trainingSplitPercentage": "training percentage",
    "url": "URL",
    "userQuestion": "question",
    "value": "value",
    "values": "values",
}
# Whole paths whose last name alone would say too little.
PATHS: dict[str, str] = {
    "evaluationOptions.kind": "the evaluation split",
    "settings.confidenceThreshold": "confidence threshold",
}
# A list in a path, as one of its items is called: ``utterances[12]`` is utterance 13.
ITEMS: dict[str, str] = {
    "alternateQuestions": "alternate question",
    "entities": "entity",
    "expressions": "regular expression",
    "intents": "intent",
    "metadata": "metadata pair",
    "prebuilts": "prebuilt",
    "prompts": "follow-up prompt",
    "qnas": "question-answer pair",
    "questions": "question",
    "records": "question-answer pair",
    "sublists": "list",
    "synonyms": "synonym group",
    "utterances": "utterance",
    "values": "value",
}
# Where a path starts: the document's top-level objects, which say nothing to a person.
ROOTS = frozenset(
    {"assets", "body", "list", "metadata", "orchestration", "regex", "settings"}
    | {"value"}
)

# A quoted value: not an apostrophe inside a word ("isn't", "project's").
_QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)|\"[^\"]*\"")
_SEGMENT = r"(?:[A-Za-z_]\w*(?:\[\d+\])*|(?:\[\d+\])+)"
_PATH = re.compile(rf"(?<![\w.\[\]]){_SEGMENT}(?:\.{_SEGMENT})*(?![\w\[])")
_PART = re.compile(r"([A-Za-z_]\w*)?((?:\[\d+\])*)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(name: str) -> str:
    return LABELS.get(name) or _CAMEL.sub(" ", name).lower()


def _is_path(token: str) -> bool:
    """Whether a word of a message is an API path or field name (not an ordinary
    word, a number or a host name such as ``example.com``)."""
    if "[" in token:
        return True
    names = token.split(".")
    if len(names) == 1:
        return token in LABELS and _CAMEL.search(token) is not None
    return (
        names[0] in ROOTS
        or any(n in LABELS for n in names[1:])
        or any(_CAMEL.search(n) for n in names)
    )


def _phrase(token: str) -> str:
    """``assets.utterances[12].entities[0].offset`` -> ``start (utterance 13,
    entity 1)``; ``[0].value.answer`` -> ``answer``."""
    if token in PATHS:
        return PATHS[token]
    label = ""
    where: list[str] = []
    for segment in token.split("."):
        match = _PART.fullmatch(segment)
        if match is None:  # pragma: no cover - _PATH only yields matching segments
            continue
        name, indexes = match.group(1), match.group(2)
        positions = [int(i) + 1 for i in re.findall(r"\d+", indexes)]
        if name and positions:
            item = ITEMS.get(name, _words(name))
            where.extend(f"{item} {n}" for n in positions)
            label = item
        elif name and not (name in ROOTS and segment != token.split(".")[-1]):
            label = _words(name)
    if where and label == where[-1].rsplit(" ", 1)[0]:
        # The path ends at an item (``intents[3]``): "intent 4" says it all.
        return ", ".join(where)
    return f"{label} ({', '.join(where)})" if where else label


def _rewrite(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        return _phrase(token) if _is_path(token) else token

    return _PATH.sub(one, text)


def plain_message(message: str) -> str:
    """``message`` with every API path or field name in plain words, quoted values
    untouched, starting with a capital letter."""
    parts: list[str] = []
    end = 0
    for quoted in _QUOTED.finditer(message):
        parts.append(_rewrite(message[end : quoted.start()]))
        parts.append(quoted.group(0))
        end = quoted.end()
    parts.append(_rewrite(message[end:]))
    text = "".join(parts).strip()
    return text[:1].upper() + text[1:] if text else text


def plain_location(target: str | None) -> str:
    """Where a problem is, from its target: ``assets.utterances[3].text`` ->
    ``utterance 4``; ``line 7`` (a TSV file) stays; "" when it says nothing."""
    if not target:
        return ""
    if target.startswith("line "):
        return target
    where: list[str] = []
    for name, indexes in re.findall(r"([A-Za-z_]\w*)((?:\[\d+\])+)", target):
        item = ITEMS.get(name, _words(name))
        where.extend(f"{item} {int(i) + 1}" for i in re.findall(r"\d+", indexes))
    return ", ".join(where)


def plain_job_messages(entries: Any) -> list[str]:
    """A job's ``errors`` or ``warnings`` (Azure error objects) as sentences, each
    with where it is in the file ("... (utterance 4)"): a job has no form field to
    put a message next to."""
    texts: list[str] = []
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        text = plain_message(str(entry.get("message", "")))
        where = plain_location(entry.get("target"))
        if where and where.lower() not in text.lower():
            stop = "." if text.endswith(".") else ""
            text = f"{text.removesuffix('.')} ({where}){stop}"
        texts.append(text)
    return texts
