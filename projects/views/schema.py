"""Schema screen: intents (Conversation and Orchestration projects) and entities with
their components (Conversation projects).

Views only parse the form, call one service and render; every rule (names, limits,
regex that compiles, known prebuilts) is the services', and their messages land next
to the field they name. Reads need ``read``; changes need ``label`` (analysts and
admins).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects import services
from projects import validators as v
from projects.models import Entity, Intent, Project
from projects.permissions import project_view, user_can
from projects.selectors import authoring as selectors
from projects.views.ui_forms import (
    FieldErrors,
    done,
    field_errors,
    invalid,
    is_htmx,
    lines,
)
from studio.errors import StudioError
from studio.vocabulary import CLU_KINDS
from training.engine.entities import PREBUILT_CATALOG

CONVERSATION = (Project.Kind.CONVERSATION.value,)
PAGE = "projects/schema/page.html"
ENTITY_PAGE = "projects/schema/entity.html"

NAME_RULES = [(r"category$", "category")]


def _schema_url(project: Project) -> str:
    return reverse("ui:schema", args=[project.name])


def _entity_url(entity: Entity) -> str:
    return reverse("ui:schema-entity", args=[entity.project.name, entity.pk])


def _intent(project: Project, pk: int) -> Intent:
    return get_object_or_404(project.intents, pk=pk)


def _entity(project: Project, pk: int) -> Entity:
    return get_object_or_404(project.entities, pk=pk)


def _can_edit(request: HttpRequest, project: Project) -> bool:
    return user_can(request.user, project, "label")


def _entities(project: Project) -> list[Entity]:
    if project.kind != Project.Kind.CONVERSATION:
        return []
    return list(selectors.entity_list(project=project).annotate(n_spans=Count("spans")))


def _context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "project": project,
        "can_edit": _can_edit(request, project),
        "intents": selectors.intent_list_with_counts(project=project),
        "entities": _entities(project),
        "has_entities": project.kind == Project.Kind.CONVERSATION,
        "values": {},
        "errors": {},
    }
    context.update(extra)
    return context


def _row_context(request: HttpRequest, intent: Intent, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "project": intent.project,
        "can_edit": _can_edit(request, intent.project),
        "intent": intent,
        "counts": selectors.intent_utterance_counts(intent=intent),
        "values": {},
        "errors": {},
    }
    context.update(extra)
    return context


# ---------------------------------------------------------------- page


@require_GET
@project_view("read", kinds=CLU_KINDS)
def schema_page(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, PAGE, _context(request, project))


# ---------------------------------------------------------------- intents


@require_POST
@project_view("label", kinds=CLU_KINDS)
def intent_add(request: HttpRequest, project: Project) -> HttpResponse:
    name = request.POST.get("category", "").strip()
    try:
        intent = services.intent_create(
            project=project, data={"category": name}, actor=request.user
        )
    except StudioError as exc:
        context = _context(
            request,
            project,
            add_values={"category": name},
            add_errors=field_errors(exc, NAME_RULES, default="category"),
        )
        return invalid(
            request, f"{PAGE}#intents" if is_htmx(request) else PAGE, context
        )
    return done(
        request,
        fragment=f"{PAGE}#intents",
        context=_context(request, project, added=intent.pk),
        redirect_to=_schema_url(project),
        message=f"Intent {intent.name!r} added.",
    )


@require_GET
@project_view("read", kinds=CLU_KINDS)
def intent_row(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """One intent's row (what "Cancel" swaps back in)."""
    intent = _intent(project, pk)
    return render(request, f"{PAGE}#intent-row", _row_context(request, intent))


@require_http_methods(["GET", "POST"])
@project_view("label", kinds=CLU_KINDS)
def intent_rename(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    intent = _intent(project, pk)
    form_template = (
        f"{PAGE}#intent-rename"
        if is_htmx(request)
        else ("projects/schema/intent_rename.html")
    )
    if request.method == "GET":
        context = _row_context(request, intent, values={"category": intent.name})
        return render(request, form_template, context)
    name = request.POST.get("category", "").strip()
    old = intent.name
    try:
        services.intent_update(
            intent=intent, data={"category": name}, actor=request.user
        )
    except StudioError as exc:
        intent.name = old
        context = _row_context(
            request,
            intent,
            values={"category": name},
            errors=field_errors(exc, NAME_RULES, default="category"),
        )
        return invalid(request, form_template, context)
    return done(
        request,
        fragment=f"{PAGE}#intent-row",
        context=_row_context(request, intent),
        redirect_to=_schema_url(project),
        message=f"Intent {old!r} renamed to {intent.name!r}.",
    )


@require_http_methods(["GET", "POST"])
@project_view("label", kinds=CLU_KINDS)
def intent_delete(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """GET asks for confirmation, saying how many utterances go with the intent."""
    intent = _intent(project, pk)
    confirm_template = (
        f"{PAGE}#intent-delete"
        if is_htmx(request)
        else "projects/schema/intent_delete.html"
    )
    # Only a fixed choice of pages to return to: never an open redirect.
    back = "orchestration" if request.GET.get("from") == "orchestration" else ""
    if request.method == "GET":
        context = _row_context(request, intent, back=back)
        return render(request, confirm_template, context)
    name = intent.name
    try:
        services.intent_delete(intent=intent)
    except StudioError as exc:
        context = _row_context(
            request,
            intent,
            back=back,
            errors=field_errors(exc, [], default="category"),
        )
        return invalid(request, confirm_template, context)
    return done(
        request,
        fragment=f"{PAGE}#intents",
        context=_context(request, project),
        redirect_to=(
            reverse("ui:orchestration", args=[project.name])
            if back
            else _schema_url(project)
        ),
        message=f"Intent {name!r} deleted with its utterances.",
    )


# ---------------------------------------------------------------- entities


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_add(request: HttpRequest, project: Project) -> HttpResponse:
    name = request.POST.get("category", "").strip()
    try:
        entity = services.entity_create(project=project, data={"category": name})
    except StudioError as exc:
        context = _context(
            request,
            project,
            entity_values={"category": name},
            entity_errors=field_errors(exc, NAME_RULES, default="category"),
        )
        return invalid(
            request, f"{PAGE}#entities" if is_htmx(request) else PAGE, context
        )
    return done(
        request,
        fragment=f"{PAGE}#entities",
        context=_context(request, project, entity_added=entity.pk),
        redirect_to=_entity_url(entity),
        message=f"Entity {entity.name!r} added; add its components here.",
    )


def _entity_context(
    request: HttpRequest, entity: Entity, **extra: Any
) -> dict[str, Any]:
    present = set(entity.prebuilts)
    context: dict[str, Any] = {
        "project": entity.project,
        "entity": entity,
        "can_edit": _can_edit(request, entity.project),
        "n_spans": entity.spans.count(),
        "catalog": [c for c in PREBUILT_CATALOG if c["category"] not in present],
        "composition_settings": Entity.CompositionSetting.choices,
        "components": v.ENTITY_COMPONENTS,
        "regex_total": sum(
            len(r)
            for r in entity.project.entities.values_list("regex_expressions", flat=True)
        ),
        "regex_limit": v.MAX_REGEX_PER_PROJECT,
        "values": {},
        "errors": {},
    }
    context.update(extra)
    return context


@require_GET
@project_view("read", kinds=CONVERSATION)
def entity_page(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    entity = _entity(project, pk)
    return render(request, ENTITY_PAGE, _entity_context(request, entity))


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_rename(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    return _entity_change(
        request,
        _entity(project, pk),
        section="entity-head",
        form="rename",
        values={"category": request.POST.get("category", "").strip()},
        data=lambda values: {"category": values["category"]},
        rules=NAME_RULES,
        default="category",
        message="Entity renamed.",
    )


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_settings(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    values = {
        "compositionSetting": request.POST.get("compositionSetting", ""),
        "requiredComponents": request.POST.getlist("requiredComponents"),
    }
    return _entity_change(
        request,
        _entity(project, pk),
        section="entity-settings",
        form="settings",
        values=values,
        data=lambda values: dict(values),
        rules=[
            (r"compositionSetting", "compositionSetting"),
            (r"requiredComponents", "requiredComponents"),
        ],
        default="compositionSetting",
        message="Entity settings saved.",
    )


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_list_add(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """Add a sublist: a list key with synonyms in one language."""
    entity = _entity(project, pk)
    values = {
        "listKey": request.POST.get("listKey", "").strip(),
        "language": request.POST.get("language", "").strip(),
        "synonyms": request.POST.get("synonyms", ""),
    }
    synonyms = lines(values["synonyms"])
    sublist = {
        "listKey": values["listKey"],
        "synonyms": [{"language": values["language"], "values": synonyms}]
        if synonyms
        else [],
    }
    return _entity_change(
        request,
        entity,
        section="entity-list",
        form="list-add",
        values=values,
        data=lambda _values: {"list": {"sublists": [*entity.list_sublists, sublist]}},
        rules=LIST_RULES,
        default="listKey",
        message=f"List key {values['listKey']!r} added.",
    )


LIST_RULES = [
    (r"listKey$", "listKey"),
    (r"\.language$", "language"),
    (r"(values|synonyms)", "synonyms"),
    (r"^(list|entities)$", "synonyms"),
]


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_synonyms_add(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    """Add synonyms in one language to an existing list key."""
    entity = _entity(project, pk)
    key = request.POST.get("listKey", "")
    values = {
        "listKey": key,
        "language": request.POST.get("language", "").strip(),
        "synonyms": request.POST.get("synonyms", ""),
    }
    new = lines(values["synonyms"])
    sublists = [dict(s) for s in entity.list_sublists]
    target = next((s for s in sublists if s["listKey"] == key), None)
    if target is None:
        return _list_key_missing(request, entity, key, values)
    if not new:
        errors = {"synonyms": ["Type at least one synonym, one per line."]}
        return _entity_invalid(
            request,
            entity,
            "entity-list",
            values,
            errors,
            form="synonyms",
            form_key=key,
        )
    groups = [dict(g) for g in target.get("synonyms", [])]
    group = next((g for g in groups if g["language"] == values["language"]), None)
    if group is None:
        groups.append({"language": values["language"], "values": new})
    else:
        group["values"] = [
            *group["values"],
            *(n for n in new if n not in group["values"]),
        ]
    target["synonyms"] = groups
    return _entity_change(
        request,
        entity,
        section="entity-list",
        form="synonyms",
        values=values,
        data=lambda _values: {"list": {"sublists": sublists}},
        rules=LIST_RULES,
        default="synonyms",
        message=f"Synonyms added to {key!r}.",
        form_key=key,
    )


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_synonym_remove(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    entity = _entity(project, pk)
    key = request.POST.get("listKey", "")
    language = request.POST.get("language", "")
    value = request.POST.get("value", "")
    sublists = [dict(s) for s in entity.list_sublists]
    target = next((s for s in sublists if s["listKey"] == key), None)
    if target is None:
        return _list_key_missing(request, entity, key, {})
    groups = []
    for group in target.get("synonyms", []):
        kept = [
            s
            for s in group["values"]
            if not (group["language"] == language and s == value)
        ]
        if kept:
            groups.append({"language": group["language"], "values": kept})
    target["synonyms"] = groups
    return _entity_change(
        request,
        entity,
        section="entity-list",
        form="list",
        values={},
        data=lambda _values: {"list": {"sublists": sublists}},
        rules=LIST_RULES,
        default="synonyms",
        message=f"Synonym {value!r} removed from {key!r}.",
    )


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_list_remove(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    entity = _entity(project, pk)
    key = request.POST.get("listKey", "")
    sublists = [s for s in entity.list_sublists if s["listKey"] != key]
    if len(sublists) == len(entity.list_sublists):
        return _list_key_missing(request, entity, key, {})
    return _entity_change(
        request,
        entity,
        section="entity-list",
        form="list",
        values={},
        data=lambda _values: {"list": {"sublists": sublists} if sublists else None},
        rules=LIST_RULES,
        default="listKey",
        message=f"List key {key!r} removed.",
    )


REGEX_RULES = [
    (r"regexKey$", "regexKey"),
    (r"\.language$", "language"),
    (r"regexPattern$", "regexPattern"),
    (r"^regex", "regexPattern"),
]


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_regex_add(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    entity = _entity(project, pk)
    values = {
        "regexKey": request.POST.get("regexKey", "").strip(),
        "language": request.POST.get("language", "").strip(),
        "regexPattern": request.POST.get("regexPattern", ""),
    }
    return _entity_change(
        request,
        entity,
        section="entity-regex",
        form="regex-add",
        values=values,
        data=lambda values: {
            "regex": {"expressions": [*entity.regex_expressions, dict(values)]}
        },
        rules=REGEX_RULES,
        default="regexPattern",
        message=f"Regular expression {values['regexKey']!r} added.",
    )


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_regex_remove(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    entity = _entity(project, pk)
    key = request.POST.get("regexKey", "")
    kept = [r for r in entity.regex_expressions if r["regexKey"] != key]
    if len(kept) == len(entity.regex_expressions):
        errors = {"regexKey": [f"Entity {entity.name!r} has no expression {key!r}."]}
        return _entity_invalid(
            request, entity, "entity-regex", {}, errors, form="regex"
        )
    return _entity_change(
        request,
        entity,
        section="entity-regex",
        form="regex",
        values={},
        data=lambda _values: {"regex": {"expressions": kept} if kept else None},
        rules=REGEX_RULES,
        default="regexKey",
        message=f"Regular expression {key!r} removed.",
    )


PREBUILT_RULES = [(r"prebuilts", "category")]


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_prebuilt_add(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    entity = _entity(project, pk)
    category = request.POST.get("category", "").strip()
    return _entity_change(
        request,
        entity,
        section="entity-prebuilts",
        form="prebuilt-add",
        values={"category": category},
        data=lambda _values: {
            "prebuilts": [{"category": c} for c in [*entity.prebuilts, category]]
        },
        rules=PREBUILT_RULES,
        default="category",
        message=f"Prebuilt {category!r} added.",
    )


@require_POST
@project_view("label", kinds=CONVERSATION)
def entity_prebuilt_remove(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    entity = _entity(project, pk)
    category = request.POST.get("category", "")
    kept = [c for c in entity.prebuilts if c != category]
    if len(kept) == len(entity.prebuilts):
        errors = {"category": [f"Entity {entity.name!r} has no prebuilt {category!r}."]}
        return _entity_invalid(
            request, entity, "entity-prebuilts", {}, errors, form="prebuilts"
        )
    return _entity_change(
        request,
        entity,
        section="entity-prebuilts",
        form="prebuilts",
        values={},
        data=lambda _values: {"prebuilts": [{"category": c} for c in kept] or None},
        rules=PREBUILT_RULES,
        default="category",
        message=f"Prebuilt {category!r} removed.",
    )


@require_http_methods(["GET", "POST"])
@project_view("label", kinds=CONVERSATION)
def entity_delete(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """GET asks for confirmation, saying how many labels go with the entity."""
    entity = _entity(project, pk)
    if request.method == "GET":
        return render(
            request,
            "projects/schema/entity_delete.html",
            _entity_context(request, entity),
        )
    name = entity.name
    services.entity_delete(entity=entity)
    return done(
        request,
        fragment=f"{PAGE}#entities",
        context=_context(request, project),
        redirect_to=_schema_url(project),
        message=f"Entity {name!r} deleted with its labels.",
    )


# ---------------------------------------------------------------- entity helpers


def _entity_change(
    request: HttpRequest,
    entity: Entity,
    *,
    section: str,
    values: dict[str, Any],
    data: Any,
    rules: list[tuple[str, str]],
    default: str,
    message: str,
    form: str,
    form_key: str = "",
) -> HttpResponse:
    """Apply one ``entity_update`` from a section's form and answer with that
    section (htmx) or the entity page (plain post)."""
    try:
        services.entity_update(entity=entity, data=data(values))
    except StudioError as exc:
        entity.refresh_from_db()
        errors = field_errors(exc, rules, default=default)
        return _entity_invalid(
            request, entity, section, values, errors, form=form, form_key=form_key
        )
    return done(
        request,
        fragment=f"{ENTITY_PAGE}#{section}",
        context=_entity_context(request, entity),
        redirect_to=_entity_url(entity),
        message=message,
    )


def _entity_invalid(
    request: HttpRequest,
    entity: Entity,
    section: str,
    values: dict[str, Any],
    errors: FieldErrors,
    *,
    form: str,
    form_key: str = "",
) -> HttpResponse:
    """The section (htmx) or page again with what was typed; ``form`` (and
    ``form_key`` for a sublist's own form) says which form the errors belong to."""
    context = _entity_context(
        request, entity, values=values, errors=errors, form=form, form_key=form_key
    )
    template = f"{ENTITY_PAGE}#{section}" if is_htmx(request) else ENTITY_PAGE
    return invalid(request, template, context)


def _list_key_missing(
    request: HttpRequest, entity: Entity, key: str, values: dict[str, Any]
) -> HttpResponse:
    errors = {"listKey": [f"Entity {entity.name!r} has no list key {key!r}."]}
    return _entity_invalid(request, entity, "entity-list", values, errors, form="list")
