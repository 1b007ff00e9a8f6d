"""Deployment resources in the studio.

* ``/resources/`` (studio staff and superusers, as People): register the other
  studios or Azure resources that projects may be assigned to; edit (the key is
  write-only: blank keeps it) and remove them (refused while assigned).
* The Deployments page of a Conversation or Orchestration project shows its
  assigned resources and each deployment's sync state there; its admins assign and
  unassign resources, copy a deployment there (or retry a failed copy) and delete it
  there. The forms call ``training.resource_jobs``' starters, the entry points of the
  API, so both accept and refuse the same things.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import retarget

from projects.models import Project
from projects.permissions import project_view, user_can
from studio.accounts import signed_in
from studio.errors import StudioError
from studio.plain_errors import plain_message
from training import resource_jobs
from training.models import DeploymentResource, ProjectResource
from training.selectors.resources import (
    SYNCING,
    project_resources_sync,
    resources_list,
)
from training.services.resources import (
    resource_create,
    resource_delete,
    resource_update,
)
from training.views._common import INVALID, is_htmx

TEMPLATE = "training/resources.html"
FIELDS = ("azure_resource_id", "region", "endpoint", "kind")
_TARGETS = {
    "azureResourceId": "azure_resource_id",
    "region": "region",
    "endpoint": "endpoint",
    "key": "key",
    "kind": "kind",
}


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, and studio staff or a superuser; everyone else gets 403."""

    @signed_in
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        staff = getattr(user, "is_staff", False)
        if not (staff or getattr(user, "is_superuser", False)):
            raise PermissionDenied(
                "Only studio staff and superusers manage deployment resources."
            )
        return view(request, *args, **kwargs)

    return wrapper


def _errors(exc: StudioError, default: str) -> dict[str, str]:
    """Each problem next to its field, in plain words."""
    details = exc.details or [exc.as_detail()]
    errors: dict[str, str] = {}
    for detail in details:
        field = _TARGETS.get(detail.target or "", default)
        errors.setdefault(field, plain_message(detail.message))
    return errors


def _context(**extra: Any) -> dict[str, Any]:
    resources = list(resources_list().prefetch_related("assignments__project"))
    values: dict[str, Any] = {
        "resources": resources,
        "kinds": DeploymentResource.Kind.choices,
        "values": {"kind": DeploymentResource.Kind.STUDIO},
        "errors": {},
        "editing": None,
    }
    values.update(extra)
    return values


def _render(
    request: HttpRequest, fragment: str, status: int = 200, **extra: Any
) -> HttpResponse:
    template = f"{TEMPLATE}#{fragment}" if is_htmx(request) else TEMPLATE
    return render(request, template, _context(**extra), status=status)


@staff_only
@require_GET
def resource_list(request: HttpRequest) -> HttpResponse:
    return render(request, TEMPLATE, _context())


@staff_only
@require_POST
def resource_add(request: HttpRequest) -> HttpResponse:
    values = {f: request.POST.get(f, "").strip() for f in FIELDS}
    try:
        resource = resource_create(
            azure_resource_id=values["azure_resource_id"],
            region=values["region"],
            endpoint=values["endpoint"],
            kind=values["kind"] or DeploymentResource.Kind.STUDIO,
            key=request.POST.get("key", ""),
            created_by=request.user,
        )
    except StudioError as exc:
        return _render(
            request,
            "add",
            INVALID,
            values=values,
            errors=_errors(exc, "azure_resource_id"),
        )
    notice = f"Resource {resource.azure_resource_id} registered."
    if not is_htmx(request):
        return redirect("resources:list")
    # The form targets itself (its errors); a success redraws the whole page.
    return retarget(_render(request, "page", notice=notice), "#resources-page")


@staff_only
@require_GET
def resource_edit(request: HttpRequest, pk: int) -> HttpResponse:
    resource = get_object_or_404(DeploymentResource, pk=pk)
    values = {f: getattr(resource, f) for f in FIELDS}
    return _render(request, "edit", editing=resource, edit_values=values)


@staff_only
@require_POST
def resource_save(request: HttpRequest, pk: int) -> HttpResponse:
    resource = get_object_or_404(DeploymentResource, pk=pk)
    values = {f: request.POST.get(f, "").strip() for f in FIELDS[1:]}
    try:
        resource_update(
            resource=resource,
            region=values["region"],
            endpoint=values["endpoint"],
            kind=values["kind"],
            key=request.POST.get("key", ""),
        )
    except StudioError as exc:
        values["azure_resource_id"] = resource.azure_resource_id
        return _render(
            request,
            "page",
            INVALID,
            editing=resource,
            edit_values=values,
            edit_errors=_errors(exc, "endpoint"),
        )
    if not is_htmx(request):
        return redirect("resources:list")
    return _render(
        request, "page", notice=f"Resource {resource.azure_resource_id} saved."
    )


@staff_only
@require_POST
def resource_remove(request: HttpRequest, pk: int) -> HttpResponse:
    resource = get_object_or_404(DeploymentResource, pk=pk)
    try:
        resource_delete(resource=resource)
    except StudioError as exc:
        return _render(
            request,
            "page",
            INVALID,
            remove_error={"pk": resource.pk, "message": plain_message(exc.message)},
        )
    if not is_htmx(request):
        return redirect("resources:list")
    return _render(
        request, "page", notice=f"Resource {resource.azure_resource_id} removed."
    )


# --- a project's resources (its Deployments page) --------------------------------

PANEL = "training/_resources.html"


def project_resources_context(project: Project) -> dict[str, Any]:
    """What the Deployments page shows of resources (none for knowledge bases)."""
    if project.kind not in resource_jobs.CONVERSATION_KINDS:
        return {"resource_syncs": None}
    syncs = project_resources_sync(project=project)
    assigned = {s.resource.pk for s in syncs}
    return {
        "resource_syncs": syncs,
        "unassigned_resources": [r for r in resources_list() if r.pk not in assigned],
        "resources_syncing": any(s.state == SYNCING for s in syncs),
    }


def _panel(
    request: HttpRequest,
    project: Project,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    if not is_htmx(request):
        return redirect("ui:deployments", project.name)
    values = {
        "project": project,
        "can_deploy": user_can(request.user, project, "deploy"),
        "resources_notice": notice,
        "resources_error": error,
        **project_resources_context(project),
    }
    return render(request, PANEL, values, status=status)


def _project_resource(project: Project, pk: int) -> DeploymentResource:
    assignment = get_object_or_404(ProjectResource, project=project, resource_id=pk)
    return assignment.resource


@project_view("read")
@require_GET
def project_resources(request: HttpRequest, project: Project) -> HttpResponse:
    """The resources section, which polls itself while a copy runs."""
    return _panel(request, project)


@project_view("deploy")
@require_POST
def project_resource_assign(request: HttpRequest, project: Project) -> HttpResponse:
    resource = get_object_or_404(
        DeploymentResource, pk=request.POST.get("resource") or 0
    )
    try:
        resource_jobs.resources_assign_start(
            project_name=project.name,
            body={
                "projectResources": [{"azureResourceId": resource.azure_resource_id}]
            },
        )
    except StudioError as exc:
        return _panel(
            request, project, error=plain_message(exc.message), status=INVALID
        )
    return _panel(
        request,
        project,
        notice=f"Assigning {resource.azure_resource_id}: the studio checks that it "
        "answers with its key. Reload in a moment.",
    )


@project_view("deploy")
@require_POST
def project_resource_unassign(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    resource = _project_resource(project, pk)
    try:
        resource_jobs.resources_unassign_start(
            project_name=project.name,
            body={"azureResourceIds": [resource.azure_resource_id]},
        )
    except StudioError as exc:
        return _panel(
            request, project, error=plain_message(exc.message), status=INVALID
        )
    return _panel(
        request,
        project,
        notice=f"Unassigning {resource.azure_resource_id}: its deployments there are "
        "deleted first.",
    )


@project_view("deploy")
@require_POST
def project_resource_copy(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    """Copy a deployment to the resource (again): the same as deploying with the
    resource named, without redeploying here."""
    resource = _project_resource(project, pk)
    name = request.POST.get("deployment", "")
    try:
        resource_jobs.resources_deploy_request(
            project=project,
            deployment_name=name,
            azure_resource_ids=[resource.azure_resource_id],
            requested_by=request.user.pk,
        )
    except StudioError as exc:
        return _panel(
            request, project, error=plain_message(exc.message), status=INVALID
        )
    return _panel(
        request,
        project,
        notice=f"Copying {name} to {resource.azure_resource_id}.",
    )


@project_view("deploy")
@require_POST
def project_resource_delete(
    request: HttpRequest, project: Project, pk: int
) -> HttpResponse:
    resource = _project_resource(project, pk)
    name = request.POST.get("deployment", "")
    try:
        resource_jobs.deployment_delete_from_resources_start(
            project_name=project.name,
            deployment_name=name,
            body={"assignedResourceIds": [resource.azure_resource_id]},
        )
    except StudioError as exc:
        return _panel(
            request, project, error=plain_message(exc.message), status=INVALID
        )
    return _panel(
        request,
        project,
        notice=f"Deleting {name} from {resource.azure_resource_id}.",
    )
