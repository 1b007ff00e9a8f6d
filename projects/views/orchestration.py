"""Configure orchestration: the studio's Conversation and QuestionAnswering projects
the user can read, shown as linkable tasks; linked / unlinked intents; routing
intents without a target; external HTTP and LUIS targets.

A user links only projects they may read: the server checks every submitted project
name against ``projects_for_user`` (an unreadable name gets the same answer as a
missing one). Links are by name, as in Azure, so an intent may name a project that
does not exist (yet); the screen says so.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects import services
from projects.formats.conversation import SECRET_MASK
from projects.models import Intent, Project
from projects.permissions import project_view, projects_for_user, user_can
from projects.selectors import authoring as selectors
from projects.services.links import TASK_KINDS
from projects.views.ui_forms import FieldErrors, done, field_errors, invalid, is_htmx
from studio.errors import Forbidden, StudioError
from studio.plain_errors import plain_message

ORCHESTRATION = (Project.Kind.ORCHESTRATION.value,)
PAGE = "projects/orchestration/page.html"
TARGET_PAGE = "projects/orchestration/target.html"
TARGET_KINDS = [
    ("", "Not linked (routing intent)"),
    ("Conversation", "Conversation project"),
    ("QuestionAnswering", "Question answering project"),
    ("Http", "External HTTP endpoint"),
    ("Luis", "LUIS app"),
]
EXTERNAL_KINDS = [k for k in TARGET_KINDS if k[0] in ("", "Http", "Luis")]
# LUIS and HTTP targets are for project admins (services/targets.py).
ADMIN_KINDS = ("Http", "Luis")
TARGET_FIELDS = (
    "target_kind",
    "project_name",
    "deployment_name",
    "http_url",
    "http_headers",
    "http_key",
    "luis_app_id",
    "luis_app_version",
    "luis_slot_name",
)
TARGET_RULES = [
    (r"category$", "category"),
    # check_link_targets: an existing project of the other kind.
    (r"^orchestration$", "project_name"),
    (r"targetProjectKind$", "target_kind"),
    (r"projectName$", "project_name"),
    (r"deploymentName$", "deployment_name"),
    (r"\.url$", "http_url"),
    (r"\.headers$", "http_headers"),
    (r"\.key$", "http_key"),
    (r"appId$", "luis_app_id"),
    (r"appVersion$", "luis_app_version"),
    (r"slotName$", "luis_slot_name"),
]


def _page_url(project: Project) -> str:
    return reverse("ui:orchestration", args=[project.name])


def _readable_tasks(request: HttpRequest) -> QuerySet[Project]:
    return projects_for_user(request.user).filter(kind__in=TASK_KINDS)


def _intent(project: Project, pk: int) -> Intent:
    return get_object_or_404(project.intents, pk=pk)


def _targets_allowed(request: HttpRequest, project: Project) -> bool:
    return user_can(request.user, project, "admin")


def _kinds(kinds: list[tuple[str, str]], allowed: bool) -> list[tuple[str, str]]:
    return [k for k in kinds if allowed or k[0] not in ADMIN_KINDS]


def _task_rows(
    request: HttpRequest,
    project: Project,
    posted: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One row per linkable task, with what was typed for it (after an error)."""
    rows = []
    for task in services.linkable_tasks(
        project=project, candidates=_readable_tasks(request)
    ):
        name = task.project.name
        typed = (posted or {}).get(name, {})
        default_deployment = (
            "production"
            if task.project.kind == Project.Kind.QUESTION_ANSWERING
            or "production" in task.deployments
            else (task.deployments[0] if task.deployments else "")
        )
        rows.append(
            {
                "task": task,
                "checked": typed.get("checked", False),
                "intent_name": typed.get("intent_name", name),
                "deployment": typed.get("deployment", default_deployment),
                "errors": typed.get("errors", {}),
            }
        )
    return rows


def _intent_rows(request: HttpRequest, project: Project) -> list[dict[str, Any]]:
    """Every intent with its status; a linked studio project that does not exist
    (or no longer exists) is flagged, and so is one the user may not read: the
    badge must not tell who may not read a project that it exists."""
    names = dict(
        projects_for_user(request.user)
        .filter(
            name__in=list(
                project.intents.exclude(target_project_name="").values_list(
                    "target_project_name", flat=True
                )
            )
        )
        .values_list("name", "kind")
    )
    return [
        _intent_row(intent, names.get(intent.target_project_name), counts)
        for intent, counts in selectors.intent_list_with_counts(project=project)
    ]


def _intent_row(
    intent: Intent, target_kind_now: str | None, counts: dict[str, int]
) -> dict[str, Any]:
    missing = intent.target_kind in TASK_KINDS and target_kind_now != intent.target_kind
    return {"intent": intent, "target_missing": missing, "counts": counts}


def _context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    allowed = _targets_allowed(request, project)
    context: dict[str, Any] = {
        "project": project,
        "can_edit": user_can(request.user, project, "label"),
        "can_change_targets": allowed,
        "task_rows": _task_rows(request, project),
        "intent_rows": _intent_rows(request, project),
        "external_kinds": _kinds(EXTERNAL_KINDS, allowed),
        "add_values": {},
        "add_errors": {},
        "link_errors": [],
    }
    context.update(extra)
    return context


def _row_context(request: HttpRequest, intent: Intent, **extra: Any) -> dict[str, Any]:
    tasks = list(_readable_tasks(request).order_by("name"))
    allowed = _targets_allowed(request, intent.project)
    # As on the page: a target the user may not read is "not found".
    target_kind_now = next(
        (t.kind for t in tasks if t.name == intent.target_project_name), None
    )
    context: dict[str, Any] = {
        "project": intent.project,
        "can_edit": user_can(request.user, intent.project, "label"),
        "can_change_targets": allowed,
        "row": _intent_row(
            intent,
            target_kind_now,
            selectors.intent_utterance_counts(intent=intent),
        ),
        "target_kinds": _kinds(TARGET_KINDS, allowed),
        "tasks": tasks,
        "task_names": [t.name for t in tasks],
        "target_prefix": f"target-{intent.pk}",
        "values": {},
        "errors": {},
    }
    context.update(extra)
    # The deployment is picked among the chosen project's deployments; free text
    # only for a project not deployed yet, or a stored name not found.
    deployments = {
        task.project.name: task.deployments
        for task in services.linkable_tasks(project=intent.project, candidates=tasks)
    }
    chosen = context["values"].get("project_name", "")
    context["task_deployments"] = [(n, d) for n, d in deployments.items() if d]
    context["free_text_projects"] = [n for n, d in deployments.items() if not d] + (
        [chosen] if chosen and chosen not in deployments else []
    )
    return context


# ---------------------------------------------------------------- page


@require_GET
@project_view("read", kinds=ORCHESTRATION)
def orchestration_page(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, PAGE, _context(request, project))


# ---------------------------------------------------------------- link tasks


@require_POST
@project_view("label", kinds=ORCHESTRATION)
def tasks_link(request: HttpRequest, project: Project) -> HttpResponse:
    """Link the checked tasks, each as an intent named as typed in its row."""
    chosen = request.POST.getlist("task")
    readable = dict(
        _readable_tasks(request).filter(name__in=chosen).values_list("name", "kind")
    )
    posted: dict[str, dict[str, Any]] = {
        name: {
            "checked": True,
            "intent_name": request.POST.get(f"intent-{name}", "").strip(),
            "deployment": request.POST.get(f"deployment-{name}", "").strip(),
            "errors": {},
        }
        for name in chosen
    }
    general: list[str] = []
    unknown = [name for name in chosen if name not in readable]
    if unknown:
        # Same words for "missing" and "not yours": existence is not revealed.
        general.append(
            f"No project you can read is called {', '.join(map(repr, unknown))}."
        )
    elif not chosen:
        general.append("Choose at least one task to link.")
    else:
        links = [
            services.TaskLink(
                intent_name=posted[name]["intent_name"],
                target_kind=readable[name],
                project_name=name,
                deployment_name=posted[name]["deployment"],
            )
            for name in chosen
        ]
        try:
            created = services.intents_link_tasks(
                project=project, links=links, actor=request.user
            )
        except StudioError as exc:
            _errors_per_row(exc, chosen, posted, general)
        else:
            names = ", ".join(i.name for i in created)
            return done(
                request,
                fragment=f"{PAGE}#orchestration",
                context=_context(request, project),
                redirect_to=_page_url(project),
                message=f"Linked: {names}.",
            )
    context = _context(
        request,
        project,
        task_rows=_task_rows(request, project, posted),
        link_errors=general,
    )
    return invalid(
        request, f"{PAGE}#orchestration" if is_htmx(request) else PAGE, context
    )


def _errors_per_row(
    exc: StudioError,
    chosen: list[str],
    posted: dict[str, dict[str, Any]],
    general: list[str],
) -> None:
    """``links[i].deploymentName`` -> the error under row ``chosen[i]``'s field."""
    for detail in exc.details or [exc.as_detail()]:
        target = detail.target or ""
        index, _, name = target.removeprefix("links[").partition("].")
        if index.isdigit() and int(index) < len(chosen):
            field = "deployment" if name == "deploymentName" else "intent_name"
            errors = posted[chosen[int(index)]]["errors"]
            errors.setdefault(field, []).append(plain_message(detail.message))
        else:
            general.append(plain_message(detail.message))


# ---------------------------------------------------------------- intents


def _target_values(request: HttpRequest) -> dict[str, str]:
    """The target fields as posted. The deployment comes from the chosen project's
    own select (``deployment_name-<project>``) when it has one, else from the free
    text field."""
    values = {name: request.POST.get(name, "").strip() for name in TARGET_FIELDS}
    picked = request.POST.get(f"deployment_name-{values['project_name']}")
    if picked is not None:
        values["deployment_name"] = picked.strip()
    return values


def _stored_values(intent: Intent) -> dict[str, Any]:
    """The target fields of an intent as the form shows them: secrets masked."""
    return {
        "target_kind": intent.target_kind,
        "project_name": intent.target_project_name,
        "deployment_name": intent.target_deployment_name,
        "http_url": intent.http_url,
        "http_headers": "\n".join(
            f"{name}: {SECRET_MASK}" for name in (intent.http_headers or {})
        ),
        "http_key": SECRET_MASK if intent.http_key else "",
        "http_key_stored": bool(intent.http_key),
        "luis_app_id": intent.luis_app_id,
        "luis_app_version": intent.luis_app_version,
        "luis_slot_name": intent.luis_slot_name,
    }


def _without_typed_secrets(
    values: dict[str, Any], intent: Intent | None
) -> dict[str, Any]:
    """What a form shown again after an error holds: a key typed in clear text is
    not sent back into the page (the stored one shows as the mask)."""
    stored = bool(intent is not None and intent.http_key)
    return {
        **values,
        "http_key": SECRET_MASK if stored else "",
        "http_key_stored": stored,
    }


def _orchestration_from(
    request: HttpRequest, values: dict[str, str], *, current: Intent | None
) -> tuple[dict[str, Any] | None, FieldErrors]:
    """Azure's orchestration object from the target fields, after the checks that
    are the screen's own: a readable project, headers as ``Name: value`` lines."""
    errors: FieldErrors = {}
    kind = values["target_kind"]
    if kind in TASK_KINDS:
        name = values["project_name"]
        unchanged = (
            current is not None
            and current.target_project_name == name
            and current.target_kind == kind
        )
        if (
            not unchanged
            and not _readable_tasks(request).filter(name=name, kind=kind).exists()
        ):
            errors["project_name"] = [
                f"No {kind} project you can read is called {name!r}."
                if name
                else "Choose the project to link."
            ]
    headers: dict[str, str] = {}
    if kind == "Http":
        for number, line in enumerate(values["http_headers"].splitlines(), start=1):
            if not line.strip():
                continue
            header, sep, value = line.partition(":")
            if not sep or not header.strip():
                errors.setdefault("http_headers", []).append(
                    f"Line {number} is not 'Name: value'."
                )
            else:
                headers[header.strip()] = value.strip()
    key = values["http_key"]
    if (
        current is not None
        and current.http_key
        and key in ("", SECRET_MASK)
        and not request.POST.get("http_key_clear")
    ):
        key = SECRET_MASK  # blank keeps the stored key; the box removes it
    orchestration = services.orchestration_link(
        target_kind=kind,
        project_name=values["project_name"],
        deployment_name=values["deployment_name"],
        luis_app_id=values["luis_app_id"],
        luis_app_version=values["luis_app_version"],
        luis_slot_name=values["luis_slot_name"],
        http_url=values["http_url"],
        http_headers=headers,
        http_key=key,
    )
    return orchestration, errors


@require_POST
@project_view("label", kinds=ORCHESTRATION)
def intent_add(request: HttpRequest, project: Project) -> HttpResponse:
    """A routing intent without a target, or one with an external target."""
    values = {"category": request.POST.get("category", "").strip()}
    values.update(_target_values(request))
    if values["target_kind"] not in dict(EXTERNAL_KINDS):
        errors: FieldErrors = {
            "target_kind": ["Link studio projects from the tasks list above."]
        }
    else:
        orchestration, errors = _orchestration_from(request, values, current=None)
    if not errors:
        try:
            intent = services.intent_create(
                project=project,
                data={"category": values["category"], "orchestration": orchestration},
                targets_allowed=_targets_allowed(request, project),
                actor=request.user,
            )
        except StudioError as exc:
            errors = field_errors(exc, TARGET_RULES, default="category")
        else:
            return done(
                request,
                fragment=f"{PAGE}#orchestration",
                context=_context(request, project),
                redirect_to=_page_url(project),
                message=f"Intent {intent.name!r} added.",
            )
    context = _context(
        request,
        project,
        add_values=_without_typed_secrets(values, None),
        add_errors=errors,
    )
    return invalid(
        request, f"{PAGE}#orchestration" if is_htmx(request) else PAGE, context
    )


@require_GET
@project_view("read", kinds=ORCHESTRATION)
def intent_row(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    intent = _intent(project, pk)
    return render(request, f"{PAGE}#intent-row", _row_context(request, intent))


@require_http_methods(["GET", "POST"])
@project_view("label", kinds=ORCHESTRATION)
def intent_target(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """Change what an intent routes to: a deployment, another project, an external
    endpoint, or nothing."""
    intent = _intent(project, pk)
    template = f"{PAGE}#intent-target" if is_htmx(request) else TARGET_PAGE
    if request.method == "GET":
        values = _stored_values(intent)
        return render(request, template, _row_context(request, intent, values=values))
    values = _target_values(request)
    orchestration, errors = _orchestration_from(request, values, current=intent)
    if not errors:
        try:
            services.intent_link_set(
                intent=intent,
                orchestration=orchestration,
                targets_allowed=_targets_allowed(request, project),
                actor=request.user,
            )
        except StudioError as exc:
            intent.refresh_from_db()
            errors = field_errors(exc, TARGET_RULES, default="target_kind")
        else:
            return done(
                request,
                fragment=f"{PAGE}#intent-row",
                context=_row_context(request, intent),
                redirect_to=_page_url(project),
                message=f"Target of {intent.name!r} saved.",
            )
    context = _row_context(
        request, intent, values=_without_typed_secrets(values, intent), errors=errors
    )
    return invalid(request, template, context)


@require_POST
@project_view("label", kinds=ORCHESTRATION)
def intent_unlink(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """The intent stays (with its utterances) as a routing intent."""
    intent = _intent(project, pk)
    try:
        services.intent_unlink(
            intent=intent, targets_allowed=_targets_allowed(request, project)
        )
    except Forbidden as exc:
        raise PermissionDenied(plain_message(exc.message)) from exc
    return done(
        request,
        fragment=f"{PAGE}#orchestration",
        context=_context(request, project),
        redirect_to=_page_url(project),
        message=f"Intent {intent.name!r} unlinked; it stays as a routing intent.",
    )
