"""Knowledge-base screen (QuestionAnswering projects): QnA pairs with alternate
questions, a multi-line answer, metadata, source and follow-up prompts; search; add,
edit inline, delete; synonym groups.

The form is turned into Azure's QnA record and handed to ``projects.services``
(``kb_qna_add`` / ``kb_qnas_update``), so the screen and the REST API accept and
refuse the same things; their messages are reworded without the API's field paths
(``_plain``). Beyond the API, the screen warns about a question another pair
already has. Answers are shown as rendered Markdown (``projects.markdown``), with a
preview. A follow-up prompt's target is picked by searching questions (or created
with the prompt). Reads need ``read``; changes need ``label``.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects import services
from projects import validators as v
from projects.formats import qna as fmt
from projects.models import Project, QnaPair
from projects.permissions import project_view, user_can
from projects.selectors import authoring as selectors
from projects.selectors import kb as kb_selectors
from projects.views.ui_forms import FieldErrors, done, field_errors, invalid, is_htmx
from studio.errors import NotFound, StudioError

VIEWS = ("cards", "table")
VIEW_SESSION_KEY = "kb_view"

QA = (Project.Kind.QUESTION_ANSWERING.value,)
PAGE = "projects/kb/page.html"
PER_PAGE = 25
BLANK_ROWS = 2
QNA_RULES = [
    (r"\.questions", "questions"),
    (r"\.answer$", "answer"),
    (r"\.source$", "source"),
    (r"\.metadata", "metadata"),
    (r"isContextOnly", "prompts"),
    (r"prompts", "prompts"),
]
# The API's field paths (after "[0].value.") in words a person reads.
_PATH_WORDS = [
    (r"dialog\.prompts\[(\d+)\]\.qna\.questions.*", "prompt {n}'s new question"),
    (r"dialog\.prompts\[(\d+)\]\.qna\.answer", "prompt {n}'s new answer"),
    (r"dialog\.prompts\[(\d+)\]\.qna.*", "prompt {n}'s new pair"),
    (r"dialog\.prompts\[(\d+)\]\.displayText", "the text of prompt {n}"),
    (r"dialog\.prompts\[(\d+)\].*", "prompt {n}"),
    (r"dialog\.prompts", "the follow-up prompts"),
    (r"dialog.*", "the follow-up settings"),
    (r"questions\[(\d+)\]", "question {n}"),
    (r"questions", "the questions"),
    (r"answer", "the answer"),
    (r"source", "the source"),
    (r"metadata\.(.+)", "metadata key \u201c{0}\u201d"),
    (r"metadata", "the metadata"),
    (r"id", "the pair's id"),
]  # fmt: skip
_SYNONYM_WORDS = [
    (r"value\[(\d+)\]\.alterations\[(\d+)\]", "word {1} of group {0}"),
    (r"value\[(\d+)\].*", "group {0}"),
]
_API_PREFIX = re.compile(r"^(?:\[\d+\]\.)?(?:value\.?)?")


def _plain(message: str, target: str) -> str:
    """``message`` with the API field path it names (``[0].value.answer``) said in
    words ("The answer"): the studio shows no JSON paths."""
    return _reword(message, target, _API_PREFIX.sub("", target), _PATH_WORDS)


def _plain_synonyms(message: str, target: str) -> str:
    """The synonyms form's messages: ``value[2].alterations[0]`` is "word 1 of
    line 3"."""
    return _reword(message, target, target, _SYNONYM_WORDS)


def _reword(message: str, target: str, path: str, table: list[tuple[str, str]]) -> str:
    if not re.search(r"[.\[]", target) or target not in message:
        return message
    words = "this entry"
    for pattern, phrase in table:
        found = re.fullmatch(pattern, path)
        if found:
            groups = [g for g in found.groups() if g is not None]
            numbers = [int(g) + 1 if g.isdigit() else g for g in groups]
            words = phrase.format(*numbers, n=numbers[0] if numbers else "")
            break
    said = message.replace(target, words)
    return said[:1].upper() + said[1:]


def _qna_errors(exc: StudioError, rules: list[tuple[str, str]]) -> FieldErrors:
    """The service's problems under the form's fields, in plain words."""
    return field_errors(exc, rules, plain=_plain)


def _page_url(project: Project) -> str:
    return reverse("ui:kb", args=[project.name])


def _qna(project: Project, qna_id: int) -> QnaPair:
    try:
        return selectors.kb_qna_get(project=project, qna_id=qna_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _can_edit(request: HttpRequest, project: Project) -> bool:
    return user_can(request.user, project, "label")


# ---------------------------------------------------------------- form <-> record


def _blank_prompt() -> dict[str, Any]:
    return {"text": "", "target": "", "answer": "", "order": "", "invalid": False}


def _blank_values() -> dict[str, Any]:
    return {
        "questions": "",
        "answer": "",
        "source": "",
        "context_only": False,
        "metadata": [{"key": "", "value": ""} for _ in range(BLANK_ROWS)],
        "prompts": [_blank_prompt() for _ in range(BLANK_ROWS)],
    }


def _target_label(qna_id: int, question: str) -> str:
    """How a prompt's target reads in its field: ``#12 How do I reset...``; the
    leading ``#12`` is what the form reads back."""
    return f"#{qna_id} {question}".strip()


def _values_of(project: Project, qna: QnaPair) -> dict[str, Any]:
    """The edit form's values for a stored pair, plus blank rows to add more."""
    values = _blank_values()
    values.update(
        questions="\n".join(qna.questions),
        answer=qna.answer,
        source=qna.source,
        context_only=qna.is_context_only,
    )
    values["metadata"] = [
        {"key": k, "value": val} for k, val in qna.metadata.items()
    ] + values["metadata"]
    titles = kb_selectors.kb_qna_titles(
        project=project, qna_ids=[p["qnaId"] for p in qna.prompts]
    )
    values["prompts"] = [
        {
            **_blank_prompt(),
            "text": p["displayText"],
            "target": _target_label(p["qnaId"], titles.get(p["qnaId"], "")),
            "order": str(p["displayOrder"]),
        }
        for p in qna.prompts
    ] + values["prompts"]
    return values


_PICKED = re.compile(r"#\s*(\d{1,9})\b")


def _prompt_target(
    project: Project, row: dict[str, Any], position: int, errors: FieldErrors
) -> dict[str, Any] | None:
    """A prompt row's target: ``{"qnaId": n}`` for a pair picked (``#n ...``) or
    named by one of its questions, ``{"qna": record}`` for a new pair (a question
    no pair has, with an answer); ``None`` with an error otherwise."""
    target, answer = row["target"], row["answer"]
    picked = _PICKED.match(target)
    if picked:
        return {"qnaId": int(picked.group(1))}
    name = row["text"] or f"{position + 1}"
    if not target:
        errors.setdefault("prompts", []).append(
            f"Prompt “{name}”: choose the pair it leads to (search its questions), "
            "or type a new question and its answer."
        )
        return None
    owners = kb_selectors.kb_question_owners(project=project, questions=[target])
    if owners:
        return {"qnaId": owners[target]}
    if answer:
        return {"qna": {"questions": [target], "answer": answer}}
    errors.setdefault("prompts", []).append(
        f"Prompt “{name}”: no pair has the question “{target}”. Pick one of the "
        "suggestions, or type an answer to create that pair with the prompt."
    )
    return None


def _posted(
    request: HttpRequest, project: Project
) -> tuple[dict[str, Any], dict[str, Any], FieldErrors]:
    """``(values as typed, Azure QnA record, errors of the form itself)``.

    The form's own checks are only what the record cannot express (a prompt's
    target that names no pair, an order that is not a number, a metadata key
    given twice); everything else is the service's.
    """
    post = request.POST
    errors: FieldErrors = {}
    metadata_rows = [
        {"key": k.strip(), "value": val.strip()}
        for k, val in zip(
            post.getlist("meta_key"), post.getlist("meta_value"), strict=False
        )
    ]
    prompt_rows = [
        {
            **_blank_prompt(),
            "text": t.strip(),
            "target": q.strip(),
            "answer": a.strip(),
            "order": o.strip(),
        }
        for t, q, a, o in zip(
            post.getlist("prompt_text"),
            post.getlist("prompt_target"),
            post.getlist("prompt_answer"),
            post.getlist("prompt_order"),
            strict=False,
        )
    ]
    values: dict[str, Any] = {
        "questions": post.get("questions", ""),
        "answer": post.get("answer", ""),
        "source": post.get("source", "").strip(),
        "context_only": post.get("context_only") == "on",
        "allow_duplicate": post.get("allow_duplicate") == "on",
        "metadata": [r for r in metadata_rows if r["key"] or r["value"]]
        + [{"key": "", "value": ""}],
        "prompts": [r for r in prompt_rows if r["text"] or r["target"] or r["answer"]]
        + [_blank_prompt()],
    }
    metadata: dict[str, str] = {}
    for row in values["metadata"][:-1]:
        if row["key"] in metadata:
            errors.setdefault("metadata", []).append(
                f"The metadata key “{row['key']}” is given twice."
            )
        metadata[row["key"]] = row["value"]
    prompts: list[dict[str, Any]] = []
    for position, row in enumerate(values["prompts"][:-1]):
        order = _int(row["order"]) if row["order"] else position
        target = _prompt_target(project, row, position, errors)
        if order is None:
            errors.setdefault("prompts", []).append(
                f"Prompt “{row['text'] or position + 1}”: the order must be a "
                "whole number."
            )
        if order is None or target is None:
            row["invalid"] = True
            continue
        prompts.append({"displayText": row["text"], "displayOrder": order, **target})
    record: dict[str, Any] = {
        "questions": [q.strip() for q in values["questions"].splitlines() if q.strip()],
        "answer": values["answer"].strip(),
        "source": values["source"],
        "metadata": metadata,
        "dialog": {"isContextOnly": values["context_only"], "prompts": prompts},
    }
    return values, record, errors


def _duplicates(
    project: Project,
    values: dict[str, Any],
    record: dict[str, Any],
    errors: FieldErrors,
    *,
    qna_id: int | None = None,
) -> None:
    """Unless the analyst confirmed it, a question that another pair already has
    (same words, case and punctuation aside) stops the save with a warning next
    to the questions: two pairs for one question make the ranking a coin toss."""
    if values.get("allow_duplicate"):
        return
    owners = kb_selectors.kb_question_owners(
        project=project, questions=record["questions"], exclude_qna_id=qna_id
    )
    for question, owner in owners.items():
        errors.setdefault("questions", []).append(
            f"“{question}” is already a question of QnA {owner}."
        )
    if owners:
        values["duplicate"] = True


def _prompt_rows_invalid(
    values: dict[str, Any], errors: FieldErrors, exc: StudioError | None = None
) -> None:
    """Mark the prompt rows in error (those the service named, else the first),
    so their fields say so and the focus goes there."""
    rows = values["prompts"]
    for detail in (exc.details or [exc.as_detail()]) if exc else []:
        found = re.search(r"dialog\.prompts\[(\d+)\]", detail.target or "")
        if found and int(found.group(1)) < len(rows) - 1:
            rows[int(found.group(1))]["invalid"] = True
    if errors.get("prompts") and not any(row["invalid"] for row in rows):
        rows[0]["invalid"] = True


def _replacement(qna: QnaPair, record: dict[str, Any]) -> dict[str, Any]:
    """A replace operation's value: the form's record for ``qna``, keeping what the
    form does not edit (the active-learning suggestions)."""
    return {
        "id": qna.qna_id,
        **record,
        "activeLearningSuggestions": qna.active_learning_suggestions,
    }


def _without_suggestion(
    clusters: list[dict[str, Any]], question: str
) -> tuple[list[dict[str, Any]], bool]:
    """The suggestion clusters without ``question`` (case-insensitive), and whether
    it was there."""
    found = False
    kept: list[dict[str, Any]] = []
    for cluster in clusters:
        questions = []
        for suggestion in cluster.get("suggestedQuestions", []):
            if str(suggestion.get("question", "")).casefold() == question.casefold():
                found = True
            else:
                questions.append(suggestion)
        if questions:
            kept.append({**cluster, "suggestedQuestions": questions})
    return kept, found


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# ---------------------------------------------------------------- contexts


def _filters(params: Any, *, default_view: str) -> dict[str, str]:
    """The list's filters from GET (or a delete's POST, which carries them):
    search text, source, ``key:value`` metadata, and the view."""
    view = params.get("view", "")
    return {
        "q": params.get("q", "").strip(),
        "source": params.get("source", ""),
        "meta": params.get("meta", "").strip(),
        "view": view if view in VIEWS else default_view,
    }


def _view_remembered(request: HttpRequest) -> str:
    """The view (cards or table) this user chose last, kept in their session so
    the compact table stays once chosen."""
    chosen = request.GET.get("view", "")
    if chosen in VIEWS and request.session.get(VIEW_SESSION_KEY) != chosen:
        request.session[VIEW_SESSION_KEY] = chosen
    view = request.session.get(VIEW_SESSION_KEY, "cards")
    return view if view in VIEWS else "cards"


def _list_context(
    request: HttpRequest, project: Project, params: Any = None
) -> dict[str, Any]:
    filters = _filters(
        request.GET if params is None else params,
        default_view=_view_remembered(request),
    )
    meta: tuple[str, str] | None = None
    if filters["meta"]:
        key, _, value = filters["meta"].partition(":")
        meta = (key.strip(), value.strip())
    found = kb_selectors.kb_qna_search(
        project=project,
        query=filters["q"],
        source=filters["source"] or None,
        metadata=meta,
    )
    paginator = Paginator(found, PER_PAGE)
    page = paginator.get_page((params or request.GET).get("page"))
    filtered = any(filters[k] for k in ("q", "source", "meta"))
    return {
        "project": project,
        "can_edit": _can_edit(request, project),
        **filters,
        "filtered": filtered,
        "page_obj": page,
        "total": project.qnas.count(),
    }


def _context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    context = _list_context(request, project)
    context.update(
        {
            "sources": kb_selectors.kb_source_list(project=project),
            "add_values": _blank_values(),
            "add_errors": {},
            "limits": {
                "questions": v.MAX_QUESTIONS_PER_QNA,
                "metadata": v.MAX_METADATA_PER_QNA,
                "prompts": v.MAX_PROMPTS_PER_QNA,
            },
        }
    )
    context.update(extra)
    return context


def _qna_context(
    request: HttpRequest, project: Project, qna: QnaPair, **extra: Any
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "project": project,
        "can_edit": _can_edit(request, project),
        "qna": qna,
        "prefix": f"qna-{qna.qna_id}",
        "values": {},
        "errors": {},
    }
    context.update(extra)
    return context


# ---------------------------------------------------------------- views


@require_GET
@project_view("read", kinds=QA)
def kb_page(request: HttpRequest, project: Project) -> HttpResponse:
    """The pairs, searched, filtered and paged, as cards or a compact table; htmx
    searches get the list only."""
    if is_htmx(request) and request.htmx.target == "qna-list":  # type: ignore[attr-defined]
        return render(request, f"{PAGE}#qna-list", _list_context(request, project))
    return render(request, PAGE, _context(request, project))


@require_POST
@project_view("label", kinds=QA)
def qna_add(request: HttpRequest, project: Project) -> HttpResponse:
    values, record, errors = _posted(request, project)
    if not errors:
        _duplicates(project, values, record, errors)
    if not errors:
        try:
            qna = services.kb_qna_add(project=project, record=record)
        except StudioError as exc:
            errors = _qna_errors(exc, QNA_RULES)
            _prompt_rows_invalid(values, errors, exc)
        else:
            return done(
                request,
                fragment=f"{PAGE}#kb",
                # The form stays open (empty) for the next pair.
                context=_context(request, project, added=qna.qna_id, adding=True),
                redirect_to=_page_url(project),
                message=f"QnA {qna.qna_id} added.",
            )
    _prompt_rows_invalid(values, errors)
    context = _context(
        request, project, add_values=values, add_errors=errors, adding=True
    )
    return invalid(request, f"{PAGE}#kb" if is_htmx(request) else PAGE, context)


@require_POST
@project_view("label", kinds=QA)
def answer_preview(request: HttpRequest, project: Project) -> HttpResponse:
    """The answer being typed, rendered as the page will show it (nothing saved)."""
    return render(
        request, f"{PAGE}#answer-preview", {"answer": request.POST.get("answer", "")}
    )


@require_GET
@project_view("read", kinds=QA)
def qna_lookup(request: HttpRequest, project: Project) -> HttpResponse:
    """Pairs whose questions contain what is typed in a prompt's target field (at
    most ``kb_selectors.LOOKUP_LIMIT``): the choices of the follow-up picker.
    ``for`` names the field a choice fills."""
    query = request.GET.get("prompt_target", request.GET.get("q", ""))
    field = request.GET.get("for", "")
    context = {
        "query": query.strip(),
        "field": field if re.fullmatch(r"[\w-]{1,80}", field) else "",
        "choices": [
            (_target_label(q.qna_id, q.questions[0] if q.questions else ""), q)
            for q in kb_selectors.kb_qna_lookup(project=project, query=query)
        ],
    }
    return render(request, f"{PAGE}#qna-choices", context)


@require_GET
@project_view("read", kinds=QA)
def qna_card(request: HttpRequest, project: Project, qna_id: int) -> HttpResponse:
    qna = _qna(project, qna_id)
    return render(request, f"{PAGE}#qna", _qna_context(request, project, qna))


@require_http_methods(["GET", "POST"])
@project_view("label", kinds=QA)
def qna_edit(request: HttpRequest, project: Project, qna_id: int) -> HttpResponse:
    qna = _qna(project, qna_id)
    template = f"{PAGE}#qna-edit" if is_htmx(request) else "projects/kb/edit.html"
    if request.method == "GET":
        context = _qna_context(request, project, qna, values=_values_of(project, qna))
        return render(request, template, context)
    values, record, errors = _posted(request, project)
    if not errors:
        _duplicates(project, values, record, errors, qna_id=qna.qna_id)
    if not errors:
        try:
            services.kb_qnas_update(
                project=project,
                operations=[{"op": "replace", "value": _replacement(qna, record)}],
            )
        except StudioError as exc:
            errors = _qna_errors(exc, QNA_RULES)
            _prompt_rows_invalid(values, errors, exc)
        else:
            qna.refresh_from_db()
            return done(
                request,
                fragment=f"{PAGE}#qna",
                context=_qna_context(request, project, qna),
                redirect_to=_page_url(project),
                message=f"QnA {qna.qna_id} saved.",
            )
    _prompt_rows_invalid(values, errors)
    context = _qna_context(request, project, qna, values=values, errors=errors)
    return invalid(request, template, context)


@require_http_methods(["GET", "POST"])
@project_view("label", kinds=QA)
def qna_delete(request: HttpRequest, project: Project, qna_id: int) -> HttpResponse:
    """GET asks for confirmation; a pair that another pair's prompt points at is
    refused by the service until that prompt is removed."""
    qna = _qna(project, qna_id)
    template = f"{PAGE}#qna-delete" if is_htmx(request) else "projects/kb/delete.html"
    if request.method == "GET":
        return render(request, template, _qna_context(request, project, qna))
    try:
        services.kb_qnas_update(
            project=project, operations=[{"op": "delete", "value": {"id": qna.qna_id}}]
        )
    except StudioError as exc:
        context = _qna_context(request, project, qna, errors=_qna_errors(exc, []))
        return invalid(request, template, context)
    if is_htmx(request):
        # The card goes away (outerHTML swap with nothing); the counts, swapped
        # out of band, follow (the confirmation posts the list's filters).
        context = _list_context(request, project, params=request.POST)
        return render(request, f"{PAGE}#kb-count-oob", context)
    return done(
        request,
        fragment=f"{PAGE}#kb",
        context=_context(request, project),
        redirect_to=_page_url(project),
        message=f"QnA {qna_id} deleted.",
    )


SOURCES = "projects/kb/sources.html"


@require_GET
@project_view("read", kinds=QA)
def sources_page(request: HttpRequest, project: Project) -> HttpResponse:
    """The KB's sources with their pair counts; editors may delete a source's
    pairs."""
    context = {
        "project": project,
        "can_edit": _can_edit(request, project),
        "sources": kb_selectors.kb_source_list(project=project),
        "errors": {},
    }
    return render(request, SOURCES, context)


@require_POST
@project_view("label", kinds=QA)
def source_delete(request: HttpRequest, project: Project) -> HttpResponse:
    """Delete every pair of one source (the form on the sources page confirms)."""
    source = request.POST.get("source", "")
    try:
        if not source:
            raise NotFound("Choose a source to delete.", target="source")
        count = services.kb_source_delete(project=project, source=source)
    except StudioError as exc:
        context = {
            "project": project,
            "can_edit": True,
            "sources": kb_selectors.kb_source_list(project=project),
            "errors": _qna_errors(
                exc,
                [],
            ),
            "error_source": source,
        }
        return invalid(request, SOURCES, context)
    return done(
        request,
        fragment=f"{SOURCES}#sources",
        context={
            "project": project,
            "can_edit": True,
            "sources": kb_selectors.kb_source_list(project=project),
            "errors": {},
            "deleted": f"{count} pair{'s' if count != 1 else ''} of “{source}” "
            "deleted.",
        },
        redirect_to=reverse("ui:kb-sources", args=[project.name]),
        message=f"{count} pair{'s' if count != 1 else ''} of “{source}” deleted.",
    )


@require_POST
@project_view("label", kinds=QA)
def qna_suggestion(request: HttpRequest, project: Project, qna_id: int) -> HttpResponse:
    """Review one active-learning suggestion (a user question sent as feedback):
    ``accept`` makes it an alternate question of the pair, ``dismiss`` drops it."""
    qna = _qna(project, qna_id)
    question = request.POST.get("question", "")
    action = request.POST.get("action", "")
    clusters, found = _without_suggestion(qna.active_learning_suggestions, question)
    errors: FieldErrors = {}
    if not found:
        errors["suggestions"] = [f"QnA {qna_id} has no suggestion {question!r}."]
    elif action not in ("accept", "dismiss"):
        errors["suggestions"] = ["Choose accept or dismiss."]
    else:
        value = fmt.qna_as_azure(qna)
        value.pop("lastUpdatedDateTime", None)
        value["activeLearningSuggestions"] = clusters
        if action == "accept" and question not in value["questions"]:
            value["questions"] = [*value["questions"], question]
        try:
            services.kb_qnas_update(
                project=project, operations=[{"op": "replace", "value": value}]
            )
        except StudioError as exc:
            errors = field_errors(exc, [], default="suggestions", plain=_plain)
        else:
            qna.refresh_from_db()
            verb = "added as an alternate" if action == "accept" else "dismissed"
            return done(
                request,
                fragment=f"{PAGE}#qna",
                context=_qna_context(request, project, qna),
                redirect_to=_page_url(project),
                message=f"Suggestion {question!r} {verb}.",
            )
    if is_htmx(request):
        context = _qna_context(request, project, qna, errors=errors, error_qna=qna_id)
        return invalid(request, f"{PAGE}#qna", context)
    context = _context(request, project, errors=errors, error_qna=qna_id)
    return invalid(request, PAGE, context)


SYNONYMS = "projects/kb/synonyms.html"


def _synonyms_context(
    request: HttpRequest, project: Project, **extra: Any
) -> dict[str, Any]:
    groups = [g.alterations for g in selectors.kb_synonym_list(project=project)]
    context: dict[str, Any] = {
        "project": project,
        "can_edit": _can_edit(request, project),
        "groups": groups,
        "text": "\n".join(", ".join(g) for g in groups),
        "errors": {},
    }
    context.update(extra)
    return context


@require_GET
@project_view("read", kinds=QA)
def synonyms_page(request: HttpRequest, project: Project) -> HttpResponse:
    """Synonym groups (word alterations), one group per line."""
    return render(request, SYNONYMS, _synonyms_context(request, project))


@require_POST
@project_view("label", kinds=QA)
def synonyms_save(request: HttpRequest, project: Project) -> HttpResponse:
    """Replace every group: one per line, words separated by commas."""
    text = request.POST.get("synonyms", "")
    parsed = [
        [word.strip() for word in line.split(",") if word.strip()]
        for line in text.splitlines()
        if line.strip()
    ]
    try:
        services.kb_synonyms_update(project=project, synonyms=parsed)
    except StudioError as exc:
        context = _synonyms_context(
            request,
            project,
            text=text,
            errors=field_errors(exc, [], default="synonyms", plain=_plain_synonyms),
        )
        template = f"{SYNONYMS}#synonyms-form" if is_htmx(request) else SYNONYMS
        return invalid(request, template, context)
    context = _synonyms_context(request, project, saved=True)
    count = len(context["groups"])
    return done(
        request,
        fragment=f"{SYNONYMS}#synonyms-form",
        context=context,
        redirect_to=reverse("ui:kb-synonyms", args=[project.name]),
        message=f"{count} synonym group{'s' if count != 1 else ''} saved.",
    )
