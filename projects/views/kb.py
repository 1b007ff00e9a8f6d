"""Knowledge-base screen (QuestionAnswering projects): QnA pairs with alternate
questions, a multi-line answer, metadata, source and follow-up prompts; search; add,
edit inline, delete; synonym groups.

The form is turned into Azure's QnA record and handed to ``projects.services``
(``kb_qna_add`` / ``kb_qnas_update``), so the screen and the REST API accept and
refuse the same things. Reads need ``read``; changes need ``label``.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects import kb_selectors, selectors, services
from projects import validators as v
from projects.formats import qna as fmt
from projects.models import Project, QnaPair
from projects.permissions import project_view, user_can
from projects.views.ui_forms import FieldErrors, done, field_errors, invalid, is_htmx
from studio.errors import NotFound, StudioError

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


def _blank_values() -> dict[str, Any]:
    return {
        "questions": "",
        "answer": "",
        "source": "",
        "context_only": False,
        "metadata": [{"key": "", "value": ""} for _ in range(BLANK_ROWS)],
        "prompts": [{"text": "", "qna": "", "order": ""} for _ in range(BLANK_ROWS)],
    }


def _values_of(qna: QnaPair) -> dict[str, Any]:
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
    values["prompts"] = [
        {
            "text": p["displayText"],
            "qna": str(p["qnaId"]),
            "order": str(p["displayOrder"]),
        }
        for p in qna.prompts
    ] + values["prompts"]
    return values


def _posted(request: HttpRequest) -> tuple[dict[str, Any], dict[str, Any], FieldErrors]:
    """``(values as typed, Azure QnA record, errors of the form itself)``.

    The form's own checks are only what the record cannot express (a prompt's
    target that is not a number, a metadata key given twice); everything else is
    the service's.
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
        {"text": t.strip(), "qna": q.strip(), "order": o.strip()}
        for t, q, o in zip(
            post.getlist("prompt_text"),
            post.getlist("prompt_qna"),
            post.getlist("prompt_order"),
            strict=False,
        )
    ]
    values: dict[str, Any] = {
        "questions": post.get("questions", ""),
        "answer": post.get("answer", ""),
        "source": post.get("source", "").strip(),
        "context_only": post.get("context_only") == "on",
        "metadata": [r for r in metadata_rows if r["key"] or r["value"]]
        + [{"key": "", "value": ""}],
        "prompts": [r for r in prompt_rows if r["text"] or r["qna"] or r["order"]]
        + [{"text": "", "qna": "", "order": ""}],
    }
    metadata: dict[str, str] = {}
    for row in values["metadata"][:-1]:
        if row["key"] in metadata:
            errors.setdefault("metadata", []).append(
                f"Metadata key {row['key']!r} is given twice."
            )
        metadata[row["key"]] = row["value"]
    prompts: list[dict[str, Any]] = []
    for position, row in enumerate(values["prompts"][:-1]):
        qna_id = _int(row["qna"])
        order = _int(row["order"]) if row["order"] else position
        if qna_id is None or order is None:
            errors.setdefault("prompts", []).append(
                f"Prompt {row['text'] or position + 1!r}: the QnA id and the order "
                "must be whole numbers."
            )
            continue
        prompts.append(
            {"displayText": row["text"], "qnaId": qna_id, "displayOrder": order}
        )
    record: dict[str, Any] = {
        "questions": [q.strip() for q in values["questions"].splitlines() if q.strip()],
        "answer": values["answer"].strip(),
        "source": values["source"],
        "metadata": metadata,
        "dialog": {"isContextOnly": values["context_only"], "prompts": prompts},
    }
    return values, record, errors


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


def _list_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    query = request.GET.get("q", "")
    paginator = Paginator(
        kb_selectors.kb_qna_search(project=project, query=query), PER_PAGE
    )
    page = paginator.get_page(request.GET.get("page"))
    return {
        "project": project,
        "can_edit": _can_edit(request, project),
        "q": query,
        "page_obj": page,
        "total": project.qnas.count(),
    }


def _context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    context = _list_context(request, project)
    context.update(
        {
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
    """The pairs, searched and paged; htmx searches get the list only."""
    if is_htmx(request) and request.htmx.target == "qna-list":  # type: ignore[attr-defined]
        return render(request, f"{PAGE}#qna-list", _list_context(request, project))
    return render(request, PAGE, _context(request, project))


@require_POST
@project_view("label", kinds=QA)
def qna_add(request: HttpRequest, project: Project) -> HttpResponse:
    values, record, errors = _posted(request)
    if not errors:
        try:
            qna = services.kb_qna_add(project=project, record=record)
        except StudioError as exc:
            errors = field_errors(exc, QNA_RULES)
        else:
            return done(
                request,
                fragment=f"{PAGE}#kb",
                # The form stays open (empty) for the next pair.
                context=_context(request, project, added=qna.qna_id, adding=True),
                redirect_to=_page_url(project),
                message=f"QnA {qna.qna_id} added.",
            )
    context = _context(
        request, project, add_values=values, add_errors=errors, adding=True
    )
    return invalid(request, f"{PAGE}#kb" if is_htmx(request) else PAGE, context)


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
        context = _qna_context(request, project, qna, values=_values_of(qna))
        return render(request, template, context)
    values, record, errors = _posted(request)
    if not errors:
        try:
            services.kb_qnas_update(
                project=project,
                operations=[{"op": "replace", "value": _replacement(qna, record)}],
            )
        except StudioError as exc:
            errors = field_errors(exc, QNA_RULES)
        else:
            qna.refresh_from_db()
            return done(
                request,
                fragment=f"{PAGE}#qna",
                context=_qna_context(request, project, qna),
                redirect_to=_page_url(project),
                message=f"QnA {qna.qna_id} saved.",
            )
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
        context = _qna_context(request, project, qna, errors=field_errors(exc, []))
        return invalid(request, template, context)
    if is_htmx(request):
        # The card goes away (outerHTML swap with nothing).
        return HttpResponse("")
    return done(
        request,
        fragment=f"{PAGE}#kb",
        context=_context(request, project),
        redirect_to=_page_url(project),
        message=f"QnA {qna_id} deleted.",
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
            errors = field_errors(exc, [], default="suggestions")
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
            errors=field_errors(exc, [], default="synonyms"),
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
