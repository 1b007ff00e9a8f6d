"""Project settings: general settings and members (admins). Personal API keys live
on the account page (``studio/views.py``); this page links there.

Each section is a partial of ``projects/settings.html``; an htmx post gets its
section back, a plain post a redirect.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects.models import Project, ProjectMembership
from projects.permissions import project_view, user_can
from projects.selectors import studio_projects as sel
from projects.selectors.gate import gate_summary
from projects.services import member_add, member_remove, member_role_change
from projects.services.gate import (
    GATE_KINDS,
    evaluation_set_pin,
    project_gate_update,
)
from projects.services.studio_projects import project_settings_update
from projects.views.project_forms import (
    GateSettingsForm,
    MemberAddForm,
    MemberRoleForm,
    ProjectSettingsForm,
)
from studio.errors import StudioError
from studio.plain_errors import plain_message

TEMPLATE = "projects/settings.html"
INVALID = 422


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _settings_url(project: Project) -> str:
    return reverse("ui:settings", args=[project.name])


def _context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    is_admin = user_can(request.user, project, "admin")
    context: dict[str, Any] = {
        "project": project,
        "is_admin": is_admin,
        "general_form": ProjectSettingsForm.for_project(project),
        "members": list(sel.project_members(project=project)) if is_admin else [],
        "member_form": MemberAddForm(initial={"role": "analyst"}),
        "role_choices": ProjectMembership.Role.choices,
        "has_gate": project.kind in GATE_KINDS,
        "can_pin": user_can(request.user, project, "train"),
    }
    if context["has_gate"]:
        context["gate"] = gate_summary(project=project)
        context["gate_form"] = GateSettingsForm(
            initial={
                "max_drop": project.gate_max_drop,
                "gated_deployments": ", ".join(project.gate_deployments),
            }
        )
    context.update(extra)
    return context


def _section(
    request: HttpRequest,
    project: Project,
    section: str,
    *,
    message: str | None = None,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """The section for htmx; the whole page (errors) or a redirect (success)."""
    if status == 200 and not _is_htmx(request):
        if message:
            messages.success(request, message)
        return HttpResponseRedirect(_settings_url(project))
    context = _context(request, project, **extra)
    context["saved"] = message
    template = f"{TEMPLATE}#{section}" if _is_htmx(request) else TEMPLATE
    return render(request, template, context, status=status)


@project_view("read")
@require_GET
def settings_page(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, TEMPLATE, _context(request, project))


@project_view("admin")
@require_POST
def settings_general(request: HttpRequest, project: Project) -> HttpResponse:
    form = ProjectSettingsForm.for_project(project, data=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            project = project_settings_update(
                project=project,
                language=data["language"],
                description=data["description"],
                multilingual=data["multilingual"],
                confidence_threshold=data.get("confidence_threshold"),
                default_answer=data.get("default_answer"),
                review_dataset=data.get("review_dataset") or None,
                encoder=(
                    data.get("encoder")
                    if "encoder" in form.fields and "encoder" in request.POST
                    else None
                ),
                per_intent_thresholds=(
                    data.get("per_intent_thresholds")
                    if "per_intent_thresholds" in form.fields
                    else None
                ),
            )
        except StudioError as exc:
            form.add_studio_error(exc)
        else:
            return _section(request, project, "general", message="Settings saved.")
    project.refresh_from_db()  # the header shows the stored values, not the typed ones
    return _section(request, project, "general", status=INVALID, general_form=form)


@project_view("admin", kinds=GATE_KINDS)
@require_POST
def settings_gate(request: HttpRequest, project: Project) -> HttpResponse:
    """The deploy gate's threshold (empty turns the block off) and the deployments
    it guards (empty: all)."""
    form = GateSettingsForm(request.POST)
    if form.is_valid():
        max_drop = form.cleaned_data["max_drop"]
        gated = form.gated_names()
        try:
            project = project_gate_update(
                project=project, max_drop=max_drop, gated_deployments=gated
            )
        except StudioError as exc:
            field = (
                "gated_deployments" if exc.target == "gatedDeployments" else "max_drop"
            )
            form.add_error(field, plain_message(exc.message))
        else:
            message = (
                "Deploys are no longer blocked; the comparison is still shown."
                if max_drop is None
                else f"Deploys worse by more than {max_drop:g} accuracy points are "
                "blocked."
            )
            message += (
                f" The gate guards {', '.join(gated)} only."
                if gated
                else " The gate guards every deployment."
            )
            return _section(request, project, "gate", message=message)
    return _section(request, project, "gate", status=INVALID, gate_form=form)


@project_view("train", kinds=GATE_KINDS)
@require_POST
def settings_gate_pin(request: HttpRequest, project: Project) -> HttpResponse:
    """Pin the Test set as it is now."""
    try:
        pinned = evaluation_set_pin(project=project)
    except StudioError as exc:
        return _section(
            request, project, "gate", status=INVALID, gate_error=exc.message
        )
    return _section(
        request,
        project,
        "gate",
        message=f"Pinned the Test set: {pinned.count} utterances.",
    )


@project_view("admin")
@require_POST
def member_create(request: HttpRequest, project: Project) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = member_add(
                project=project,
                user=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
            )
        except StudioError as exc:
            form.add_studio_error(exc)
        else:
            name = membership.user.get_username()
            return _section(
                request,
                project,
                "members",
                message=f"{name} added as {membership.get_role_display()}.",
            )
    return _section(request, project, "members", status=INVALID, member_form=form)


def _member_error(request: HttpRequest, project: Project, error: str) -> HttpResponse:
    if not _is_htmx(request):
        messages.error(request, error)
    return _section(request, project, "members", status=INVALID, member_error=error)


@project_view("admin")
@require_POST
def member_role(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    membership = sel.project_membership_get(project=project, pk=pk)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return _member_error(request, project, "Choose admin, analyst or viewer.")
    try:
        membership = member_role_change(
            membership=membership, role=form.cleaned_data["role"]
        )
    except StudioError as exc:
        return _member_error(request, project, plain_message(exc.message))
    name = membership.user.get_username()
    return _section(
        request,
        project,
        "members",
        message=f"{name} is now {membership.get_role_display()}.",
    )


@project_view("admin")
@require_POST
def member_delete(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    membership = sel.project_membership_get(project=project, pk=pk)
    name = membership.user.get_username()
    try:
        member_remove(membership=membership)
    except StudioError as exc:
        return _member_error(request, project, plain_message(exc.message))
    if membership.user_id == request.user.pk and not user_can(
        request.user, project, "read"
    ):
        # Left the project: nothing of it is visible any more.
        messages.success(request, f"You left {project.name}.")
        url = reverse("ui:projects")
        if _is_htmx(request):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)
    return _section(request, project, "members", message=f"{name} removed.")
