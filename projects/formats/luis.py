"""LUIS app JSON (schema 3.x to 7.x) converted to a CLU exported-project document.

What maps: intents; machine-learned entities and their children (flattened, each a
learned entity); pattern.any entities (learned); closed lists (list component);
regex entities (regex component); prebuilt entities (prebuilt component, when the
engine knows the prebuilt); labeled utterances (``startPos``/``endPos`` are inclusive
UTF-16 indexes). What does not map is reported as warnings: patterns, phrase lists,
roles, composites and unknown prebuilts.

The result goes through the normal CLU validation, so every rule of a Conversation
import applies; utterance paths in errors are the LUIS file's indexes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projects.formats._parse import expect_dict, expect_list
from studio.errors import ErrorCollector, ErrorDetail

IGNORED_ASSETS = ("patterns", "phraselists", "composites", "model_features")


def _warning(message: str, target: str) -> ErrorDetail:
    return ErrorDetail("Warning", message, target)


def luis_to_clu(
    document: Any,
    *,
    name: str,
    known_prebuilt: Callable[[str], bool] | None,
) -> tuple[dict[str, Any], list[ErrorDetail]]:
    """The CLU document for a LUIS app, and warnings about what was dropped."""
    errors = ErrorCollector()
    warnings: list[ErrorDetail] = []
    app = expect_dict(document, "", errors, what="a LUIS app JSON object")
    if app is None:
        errors.raise_if_any("The LUIS app file is invalid")
        raise AssertionError("unreachable")
    if "intents" not in app or "utterances" not in app:
        errors.add(
            "A LUIS app needs 'intents' and 'utterances' (is this a LUIS export?).",
            target="intents",
        )
        errors.raise_if_any("The LUIS app file is invalid")
    entities: dict[str, dict[str, Any]] = {}

    def entity(entity_name: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(entity_name, str) or not entity_name:
            errors.add("Entity name must be a non-empty string.", target=path)
            return None
        return entities.setdefault(entity_name, {"category": entity_name})

    def learned(items: list[Any], path: str) -> None:
        for i, item in enumerate(items):
            data = expect_dict(item, f"{path}[{i}]", errors)
            if data is None:
                continue
            entity(data.get("name"), f"{path}[{i}].name")
            if data.get("roles"):
                warnings.append(
                    _warning("Entity roles are not imported.", f"{path}[{i}]")
                )
            learned(
                expect_list(data.get("children"), f"{path}[{i}].children", errors),
                f"{path}[{i}].children",
            )

    learned(expect_list(app.get("entities"), "entities", errors), "entities")
    learned(
        expect_list(app.get("hierarchicals"), "hierarchicals", errors), "hierarchicals"
    )
    learned(
        expect_list(app.get("patternAnyEntities"), "patternAnyEntities", errors),
        "patternAnyEntities",
    )
    for i, item in enumerate(
        expect_list(app.get("closedLists"), "closedLists", errors)
    ):
        path = f"closedLists[{i}]"
        data = expect_dict(item, path, errors)
        target = entity((data or {}).get("name"), f"{path}.name")
        if data is None or target is None:
            continue
        sublists = []
        for j, sub in enumerate(
            expect_list(data.get("subLists"), f"{path}.subLists", errors)
        ):
            sub_data = expect_dict(sub, f"{path}.subLists[{j}]", errors)
            if sub_data is None:
                continue
            values = [sub_data.get("canonicalForm"), *(sub_data.get("list") or [])]
            unique = list(dict.fromkeys(v for v in values if isinstance(v, str) and v))
            sublists.append(
                {
                    "listKey": sub_data.get("canonicalForm"),
                    "synonyms": [
                        {"language": app.get("culture") or "en-us", "values": unique}
                    ],
                }
            )
        target["list"] = {"sublists": sublists}
    for i, item in enumerate(
        expect_list(app.get("regex_entities"), "regex_entities", errors)
    ):
        path = f"regex_entities[{i}]"
        data = expect_dict(item, path, errors)
        target = entity((data or {}).get("name"), f"{path}.name")
        if data is None or target is None:
            continue
        target["regex"] = {
            "expressions": [
                {
                    "regexKey": data.get("name"),
                    "language": app.get("culture") or "en-us",
                    "regexPattern": data.get("regexPattern"),
                }
            ]
        }
    for i, item in enumerate(
        expect_list(app.get("prebuiltEntities"), "prebuiltEntities", errors)
    ):
        path = f"prebuiltEntities[{i}]"
        data = expect_dict(item, path, errors)
        prebuilt = (data or {}).get("name")
        if not isinstance(prebuilt, str) or not prebuilt:
            errors.add("Prebuilt entity name must be a non-empty string.", target=path)
            continue
        if known_prebuilt is not None and not known_prebuilt(prebuilt):
            warnings.append(
                _warning(
                    f"Prebuilt entity {prebuilt!r} is not supported; skipped.", path
                )
            )
            continue
        target = entity(prebuilt, f"{path}.name")
        if target is not None:
            target["prebuilts"] = [{"category": prebuilt}]
    for key in IGNORED_ASSETS:
        if app.get(key):
            warnings.append(_warning(f"LUIS {key} are not imported.", key))

    intents = []
    for i, item in enumerate(expect_list(app.get("intents"), "intents", errors)):
        data = expect_dict(item, f"intents[{i}]", errors)
        if data is not None:
            intents.append({"category": data.get("name")})
    utterances = []
    for i, item in enumerate(expect_list(app.get("utterances"), "utterances", errors)):
        path = f"utterances[{i}]"
        data = expect_dict(item, path, errors)
        if data is None:
            continue
        labels = []
        for j, label in enumerate(
            expect_list(data.get("entities"), f"{path}.entities", errors)
        ):
            ldata = expect_dict(label, f"{path}.entities[{j}]", errors)
            if ldata is None:
                continue
            start, end = ldata.get("startPos"), ldata.get("endPos")
            if not isinstance(start, int) or not isinstance(end, int) or end < start:
                errors.add(
                    f"startPos {start!r} / endPos {end!r} must be integers with "
                    "endPos >= startPos.",
                    target=f"{path}.entities[{j}]",
                )
                continue
            entity(ldata.get("entity"), f"{path}.entities[{j}].entity")
            labels.append(
                {
                    "category": ldata.get("entity"),
                    "offset": start,
                    "length": end - start + 1,
                }
            )
        utterances.append(
            {"text": data.get("text"), "intent": data.get("intent"), "entities": labels}
        )
    errors.raise_if_any("The LUIS app file is invalid")
    clu = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Conversation",
            "projectName": name,
            "language": app.get("culture") or "en-us",
            "description": app.get("desc") or "",
            "multilingual": False,
            "settings": {"confidenceThreshold": 0.0},
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": intents,
            "entities": list(entities.values()),
            "utterances": utterances,
        },
    }
    return clu, warnings
