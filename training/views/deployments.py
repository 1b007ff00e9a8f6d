"""Deployments: which model each deployment serves and since when; deploy, swap and
delete (admins only) as jobs whose progress the page follows.

The forms call ``training.deploy_jobs``' ``*_start`` functions, the same entry points
as the authoring API, so the screen and the API accept and refuse the same things. A
knowledge base is "deployed" by building it from its current QnA pairs
(``kb_deploy_start``); the contract has no swap or delete for knowledge bases.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from projects.models import Project
from projects.permissions import project_view, user_can
from studio.errors import StudioError
from studio.plain_errors import plain_message
from training import deploy_jobs
from training.models import Job
from training.selectors import authoring as selectors
from training.views._common import (
    INVALID,
    context,
    is_htmx,
    job_view,
    project_job,
    redirect_with,
)

TEMPLATE = "training/deployments.html"
JOB_KINDS = (Job.Kind.DEPLOY, Job.Kind.DEPLOYMENT_DELETE, Job.Kind.SWAP)
RECENT_JOBS = 10


def _is_kb(project: Project) -> bool:
    return project.kind == Project.Kind.QUESTION_ANSWERING


def _page_context(
    request: HttpRequest, project: Project, **extra: Any
) -> dict[str, Any]:
    jobs = list(
        Job.objects.filter(project=project, kind__in=JOB_KINDS).order_by("-created_at")[
            :RECENT_JOBS
        ]
    )
    active = next((j for j in jobs if not j.is_finished), None)
    models = (
        []
        if _is_kb(project)
        else list(
            selectors.trained_model_list(project=project).values_list(
                "label", flat=True
            )
        )
    )
    deployments = list(selectors.deployments_list(project=project))
    values: dict[str, Any] = {
        "deployments": deployments,
        "models": models,
        "is_kb": _is_kb(project),
        "can_deploy": user_can(request.user, project, "deploy"),
        "jobs": [job_view(j) for j in jobs],
        "current": job_view(active or jobs[0]) if jobs else None,
        "values": {"deployment_name": "production" if not deployments else ""},
        "errors": {},
    }
    values.update(extra)
    return context(project, **values)


def _answer(
    request: HttpRequest,
    project: Project,
    *,
    job: Job | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str = "",
) -> HttpResponse:
    """A fragment for htmx (the whole deployments panel), else redirect/page."""
    if errors:
        extra: dict[str, Any] = {"errors": errors}
        if values is not None:
            extra["values"] = values
        template = f"{TEMPLATE}#panel" if is_htmx(request) else TEMPLATE
        return render(
            request, template, _page_context(request, project, **extra), status=INVALID
        )
    if not is_htmx(request):
        return redirect_with(
            request, reverse("ui:deployments", args=[project.name]), message
        )
    extra = {"notice": message}
    if job is not None:
        extra["current"] = job_view(job)
    return render(
        request, f"{TEMPLATE}#panel", _page_context(request, project, **extra)
    )


def _error_field(exc: StudioError, default: str) -> str:
    target = exc.target or ""
    return {
        "deploymentName": "deployment_name",
        "trainedModelLabel": "model_label",
        "firstDeploymentName": "first",
        "secondDeploymentName": "second",
    }.get(target, default)


@project_view("read")
@require_GET
def deployment_list(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, TEMPLATE, _page_context(request, project))


@project_view("deploy")
@require_POST
def deployment_create(request: HttpRequest, project: Project) -> HttpResponse:
    """Deploy a trained model (or build and deploy the knowledge base) under a name;
    an existing name is replaced."""
    name = request.POST.get("deployment_name", "").strip()
    label = request.POST.get("model_label", "").strip()
    values = {"deployment_name": name, "model_label": label}
    if not name:
        return _answer(
            request,
            project,
            errors={"deployment_name": "Give the deployment a name."},
            values=values,
        )
    try:
        if _is_kb(project):
            job = deploy_jobs.kb_deploy_start(
                project_name=project.name, deployment_name=name
            )
        else:
            if not label:
                return _answer(
                    request,
                    project,
                    errors={"model_label": "Choose the trained model to deploy."},
                    values=values,
                )
            job = deploy_jobs.deploy_start(
                project_name=project.name,
                deployment_name=name,
                body={"trainedModelLabel": label},
            )
    except StudioError as exc:
        field = _error_field(exc, "deployment_name")
        return _answer(
            request, project, errors={field: plain_message(exc.message)}, values=values
        )
    what = "the knowledge base" if _is_kb(project) else label
    return _answer(request, project, job=job, message=f"Deploying {what} to {name}.")


@project_view("deploy")
@require_POST
def deployment_swap(request: HttpRequest, project: Project) -> HttpResponse:
    first = request.POST.get("first", "")
    second = request.POST.get("second", "")
    try:
        job = deploy_jobs.swap_start(
            project_name=project.name,
            body={"firstDeploymentName": first, "secondDeploymentName": second},
        )
    except StudioError as exc:
        return _answer(
            request,
            project,
            errors={_error_field(exc, "second"): plain_message(exc.message)},
        )
    return _answer(request, project, job=job, message=f"Swapping {first} and {second}.")


@project_view("deploy")
@require_POST
def deployment_delete(
    request: HttpRequest, project: Project, deployment: str
) -> HttpResponse:
    try:
        job = deploy_jobs.deployment_delete_start(
            project_name=project.name, deployment_name=deployment
        )
    except StudioError as exc:
        return _answer(request, project, errors={"delete": plain_message(exc.message)})
    return _answer(request, project, job=job, message=f"Deleting {deployment}.")


@project_view("read")
@require_GET
def deployment_job(request: HttpRequest, project: Project, job_id: str) -> HttpResponse:
    """The panel htmx polls while a deployment job runs."""
    job = project_job(project, job_id, JOB_KINDS)
    if not is_htmx(request):
        return render(request, TEMPLATE, _page_context(request, project))
    return render(
        request,
        "training/_deploy_job.html",
        _page_context(request, project, current=job_view(job), polled=True),
    )
