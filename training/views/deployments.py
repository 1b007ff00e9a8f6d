"""Deployments: which model each deployment serves and since when; deploy, swap and
delete (admins only) as jobs whose progress the page follows; each deployment's
shadow model (set, cleared, promoted) and how often it agreed with the live one.

The forms call ``training.deploy_jobs``' ``*_start`` functions, the same entry points
as the authoring API, so the screen and the API accept and refuse the same things. A
knowledge base is "deployed" by building it from its current QnA pairs
(``kb_deploy_start``); the contract has no swap or delete for knowledge bases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from jobs.models import Job
from projects.models import Project
from projects.permissions import project_view, user_can
from projects.selectors.gate import gate_set_empty
from studio.errors import StudioError
from studio.plain_errors import plain_message
from training import deploy_jobs
from training.selectors import authoring as selectors
from training.selectors.serving import deployment_problems
from training.selectors.shadow import shadow_summary
from training.services import shadow as shadow_svc
from training.services.gate import DeployGateBlocked, GateCheck, override_reason_clean
from training.views._common import (
    INVALID,
    context,
    is_htmx,
    job_view,
    project_job,
    redirect_with,
)
from training.views.resources import project_resources_context

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
    # Why a deployment cannot serve on this server (a static word vector table
    # missing), shown under its row.
    problems = deployment_problems(deployments)
    values: dict[str, Any] = {
        "deployments": deployments,
        "deployment_rows": [
            (d, shadow_summary(deployment=d), problems.get(d.pk, ""))
            for d in deployments
        ],
        "models": models,
        "is_kb": _is_kb(project),
        "can_deploy": user_can(request.user, project, "deploy"),
        "jobs": [job_view(j) for j in jobs],
        "current": job_view(active or jobs[0]) if jobs else None,
        "values": {
            "deployment_name": "production" if not deployments else "",
            "shadow_deployment": deployments[0].name if deployments else "",
        },
        # With a gate set a swap first shows the comparison (its own confirm);
        # without one it starts at once, so the form asks before.
        "swap_asks": len(deployments) > 1
        and not _is_kb(project)
        and gate_set_empty(project=project),
        "errors": {},
    }
    values.update(project_resources_context(project))
    values.update(extra)
    return context(project, **values)


def _answer(
    request: HttpRequest,
    project: Project,
    *,
    job: Job | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
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


def _gate_view(checks: list[GateCheck]) -> dict[str, Any]:
    """The gate's comparison as the confirm card shows it."""
    rows = []
    for check in checks:
        c = check.comparison
        intents = []
        if c is not None:
            for name in sorted(
                c.serving.per_intent,
                key=lambda n: c.candidate.per_intent[n] - c.serving.per_intent[n],
            ):
                before, after = c.serving.per_intent[name], c.candidate.per_intent[name]
                intents.append(
                    {
                        "name": name,
                        "serving": before,
                        "candidate": after,
                        "change": after - before,
                    }
                )
        rows.append(
            {
                "check": check,
                "comparison": c,
                "intents": intents,
                "accuracy": None
                if c is None
                else (
                    f"{c.serving.accuracy * 100:.1f}%",
                    f"{c.candidate.accuracy * 100:.1f}%",
                ),
            }
        )
    return {"checks": rows, "blocked": any(c.blocked for c in checks)}


def _worth_showing(checks: list[GateCheck]) -> bool:
    return any(c.comparison is not None for c in checks)


def _preview(
    request: HttpRequest,
    project: Project,
    *,
    action: str,
    checks: list[GateCheck],
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    """The comparison, and the form that confirms the deploy or swap."""
    gate = _gate_view(checks) | {
        "action": action,
        "values": values,
        "can_override": user_can(request.user, project, "admin"),
    }
    extra: dict[str, Any] = {"gate": gate, "errors": errors or {}}
    if action == "deploy":
        extra["values"] = values
    template = f"{TEMPLATE}#panel" if is_htmx(request) else TEMPLATE
    return render(
        request,
        template,
        _page_context(request, project, **extra),
        status=INVALID if errors else 200,
    )


def _through_gate(
    request: HttpRequest,
    project: Project,
    *,
    action: str,
    values: dict[str, Any],
    preview: Callable[[], list[GateCheck]],
    start: Callable[[str | None], Job],
) -> HttpResponse | tuple[Job, str | None]:
    """The deploy gate's part of the deploy and swap forms. First the gate's
    comparison, and the change waits for a confirm (with nothing to compare:
    nothing serves there, or the gate set is empty, there is nothing to show and
    the job's warning says so); then the confirmed form's override reason; then
    ``start(reason)``. Returns the comparison page to show instead, or the job and
    the override reason (None: not overriding). Other ``StudioError``s of
    ``preview`` and ``start`` are the caller's to show."""

    def compared(error: str | None = None) -> HttpResponse:
        errors = None if error is None else {"override_reason": error}
        return _preview(
            request,
            project,
            action=action,
            checks=preview(),
            values=values,
            errors=errors,
        )

    try:
        if request.POST.get("confirm") != "1":
            checks = preview()
            if _worth_showing(checks):
                return _preview(
                    request, project, action=action, checks=checks, values=values
                )
        reason, reason_error = _confirmed_reason(request, project)
        if reason_error:
            return compared(reason_error)
        return start(reason), reason
    except DeployGateBlocked:
        return compared(_reason_needed(request, project))


def _confirmed_reason(request: HttpRequest, project: Project) -> tuple[str | None, str]:
    """The override reason of a confirmed form (None: not overriding) and the
    error to show beside the field."""
    raw = request.POST.get("override_reason", "").strip()
    if not raw:
        return None, ""
    if not user_can(request.user, project, "admin"):
        return None, "Only the project's admins can deploy over the gate."
    try:
        return override_reason_clean(raw), ""
    except StudioError as exc:
        return None, plain_message(exc.message)


def _error_field(exc: StudioError, default: str) -> str:
    target = exc.target or ""
    if target.startswith("azureResourceIds"):
        return "resource_ids"
    return {
        "deploymentName": "deployment_name",
        "trainedModelLabel": "model_label",
        "firstDeploymentName": "first",
        "secondDeploymentName": "second",
    }.get(target, default)


@project_view("deploy")
@require_POST
def deployment_shadow_set(request: HttpRequest, project: Project) -> HttpResponse:
    """Make a trained model the shadow of a deployment."""
    name = request.POST.get("shadow_deployment", "").strip()
    label = request.POST.get("shadow_model", "").strip()
    values = {"shadow_deployment": name, "shadow_model": label}
    if not label:
        return _answer(
            request,
            project,
            errors={"shadow_model": "Choose the trained model to run as the shadow."},
            values=values,
        )
    try:
        shadow_svc.deployment_shadow_set(
            project=project, deployment_name=name, model_label=label
        )
    except StudioError as exc:
        field = {"deploymentName": "shadow_deployment"}.get(
            exc.target or "", "shadow_model"
        )
        return _answer(
            request, project, errors={field: plain_message(exc.message)}, values=values
        )
    return _answer(
        request,
        project,
        message=f"{label} now shadows {name}: it predicts every query in the "
        "background; the live model still answers.",
    )


@project_view("deploy")
@require_POST
def deployment_shadow_clear(
    request: HttpRequest, project: Project, deployment: str
) -> HttpResponse:
    try:
        change = shadow_svc.deployment_shadow_clear(
            project=project, deployment_name=deployment
        )
    except StudioError as exc:
        return _answer(request, project, errors={"delete": plain_message(exc.message)})
    what = change.previous_label or "The shadow"
    return _answer(request, project, message=f"{what} no longer shadows {deployment}.")


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
    resource_ids = request.POST.getlist("resource_ids")
    values: dict[str, Any] = {
        "deployment_name": name,
        "model_label": label,
        "resource_ids": resource_ids,
    }
    if not name:
        return _answer(
            request,
            project,
            errors={"deployment_name": "Give the deployment a name."},
            values=values,
        )
    if _is_kb(project):
        try:
            job = deploy_jobs.kb_deploy_start(
                project_name=project.name, deployment_name=name
            )
        except StudioError as exc:
            field = _error_field(exc, "deployment_name")
            return _answer(
                request,
                project,
                errors={field: plain_message(exc.message)},
                values=values,
            )
        return _answer(
            request,
            project,
            job=job,
            message=f"Deploying the knowledge base to {name}.",
        )
    if not label:
        return _answer(
            request,
            project,
            errors={"model_label": "Choose the trained model to deploy."},
            values=values,
        )
    body: dict[str, Any] = {"trainedModelLabel": label}
    if resource_ids:
        # Copied to these assigned resources once deployed here.
        body["azureResourceIds"] = resource_ids
    try:
        started = _through_gate(
            request,
            project,
            action="deploy",
            values=values,
            preview=lambda: deploy_jobs.deploy_gate_preview(
                project_name=project.name, deployment_name=name, body=body
            ),
            start=lambda reason: deploy_jobs.deploy_start(
                project_name=project.name,
                deployment_name=name,
                body=body,
                override_reason=reason,
            ),
        )
    except StudioError as exc:
        field = _error_field(exc, "deployment_name")
        return _answer(
            request, project, errors={field: plain_message(exc.message)}, values=values
        )
    if isinstance(started, HttpResponse):
        return started
    job, reason = started
    what = label if reason is None else f"{label} over the gate"
    return _answer(request, project, job=job, message=f"Deploying {what} to {name}.")


def _reason_needed(request: HttpRequest, project: Project) -> str:
    if user_can(request.user, project, "admin"):
        return (
            "Give the reason for deploying over the gate: it goes in the audit trail."
        )
    return "The gate blocks this model; only the project's admins can deploy it anyway."


@project_view("deploy")
@require_POST
def deployment_swap(request: HttpRequest, project: Project) -> HttpResponse:
    first = request.POST.get("first", "")
    second = request.POST.get("second", "")
    body = {"firstDeploymentName": first, "secondDeploymentName": second}
    values = {"first": first, "second": second}
    try:
        started = _through_gate(
            request,
            project,
            action="swap",
            values=values,
            preview=lambda: deploy_jobs.swap_gate_preview(
                project_name=project.name, body=body
            ),
            start=lambda reason: deploy_jobs.swap_start(
                project_name=project.name, body=body, override_reason=reason
            ),
        )
    except StudioError as exc:
        return _answer(
            request,
            project,
            errors={_error_field(exc, "second"): plain_message(exc.message)},
        )
    if isinstance(started, HttpResponse):
        return started
    job, _reason = started
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
