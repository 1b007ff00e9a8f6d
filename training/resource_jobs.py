"""Deployment resources: assign them to a project, copy its deployments there, delete
deployments there, unassign them (training/README.md, "Deployment resources").

Request time (``*_start``) checks everything a client can get wrong (the body, a
resource id that is not registered or not assigned, a deployment that is not
there) so mistakes get a 4xx and no job. Every job runs on the long queue: it
talks to other servers and waits for their training.

Copying a deployment ("the seed's multi-region procedure, automated"): for each
resource, the snapshot of the model the local deployment serves (the exact data
it was trained on, with the project's current settings) is imported there under
the project's name, trained there with the model's label, training mode and
evaluation options, and deployed there under the deployment's name, each step
awaited through the resource's own job URL. The same snapshot and options give the
same split and the same model on another Orchestration Studio (training is seeded);
an Azure resource trains its own model from the same data.

The unit of work is a ``RemoteDeployment`` row (one deployment on one resource): a
request marks rows ``pending``; a job claims pending rows with a conditional update
(so two jobs never copy the same row), records its step and ends each row
``succeeded`` or ``failed`` with the reason, again conditionally, so a row asked for
again meanwhile stays pending for the job that asked. A failure on one resource
does not stop the others; the job ends ``failed`` listing each failed resource
(azure-core's pollers know no partial state), and the rows say which succeeded. The
local deployment is never touched: it was deployed (and serves) before any copy
starts. Retrying is asking again (``PUT`` the deployment with
``azureResourceIds``, or Retry in the studio).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import Job
from jobs.services import JobContext, job_create, job_execute
from projects.formats.conversation import metadata_as_azure
from projects.models import Project
from projects.selectors import authoring as project_selectors
from studio.errors import ErrorDetail, InvalidArgument, NotFound, StudioError
from studio.inputs import echo
from training.models import Deployment, ProjectResource, RemoteDeployment, TrainedModel
from training.remote import RemoteClient, RemoteFailure
from training.selectors.resources import (
    assignment_get,
    remote_deployment_rows,
    resource_get,
)

logger = logging.getLogger(__name__)

CONVERSATION_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
MAX_RESOURCES_PER_REQUEST = 20
# Rounds of a copy job: a row asked for again while the job ran is copied again.
_MAX_ROUNDS = 3


class ResourcesFailed(StudioError):
    """A resource job's outcome when one or more resources failed (each in
    ``details``, named by its id)."""

    status_code = 500
    code = "InternalServerError"
    inner_code = None


# --- request-time checks ------------------------------------------------------------


def _project(name: str) -> Project:
    return project_selectors.project_get(name=name, kinds=CONVERSATION_KINDS)


def _body_list(body: Any, fields: tuple[str, ...], what: str) -> tuple[str, list[Any]]:
    """The list under the first of ``fields`` the body has: (field, items)."""
    if not isinstance(body, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    for name in fields:
        if name in body:
            items = body[name]
            if not isinstance(items, list) or not items:
                raise InvalidArgument(
                    f"{name} must be a non-empty list of {what}.", target=name
                )
            if len(items) > MAX_RESOURCES_PER_REQUEST:
                raise InvalidArgument(
                    f"{name} names {len(items)} resources; at most "
                    f"{MAX_RESOURCES_PER_REQUEST} per request.",
                    target=name,
                )
            return name, items
    raise InvalidArgument(
        f"{fields[0]} is required: a list of {what}.", target=fields[0]
    )


def _unique(ids: list[str], field: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value.lower() in seen:
            raise InvalidArgument(
                f"Resource {echo(value)} is named twice.", target=f"{field}[{index}]"
            )
        seen.add(value.lower())


def _id_list(body: Any, fields: tuple[str, ...]) -> tuple[str, list[str]]:
    field, items = _body_list(body, fields, "resource ids")
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise InvalidArgument(
                f"{field}[{index}] must be a resource id (a non-empty string).",
                target=f"{field}[{index}]",
            )
    _unique(items, field)
    return field, items


def _same_region(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


def resources_assign_start(*, project_name: str, body: Any) -> Job:
    """Validate ``:assign`` (``projectResources``, the 1.0.0b4 SDK's name, or
    ``resourcesMetadata``, the REST spec's: ``[{azureResourceId, customDomain,
    region}]``) and queue its job."""
    project = _project(project_name)
    field, items = _body_list(
        body, ("projectResources", "resourcesMetadata"), "resource metadata"
    )
    wanted: list[dict[str, str]] = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise InvalidArgument(
                f"{where} must be an object with azureResourceId, customDomain and "
                "region.",
                target=where,
            )
        resource_id = item.get("azureResourceId")
        if not isinstance(resource_id, str) or not resource_id:
            raise InvalidArgument(
                f"{where}.azureResourceId is required.",
                target=f"{where}.azureResourceId",
            )
        resource = resource_get(
            azure_resource_id=resource_id, target=f"{where}.azureResourceId"
        )
        region = item.get("region")
        if region is not None and (
            not isinstance(region, str) or not _same_region(region, resource.region)
        ):
            raise InvalidArgument(
                f"Resource {resource.azure_resource_id!r} is in region "
                f"{resource.region!r}, not {echo(region)}.",
                target=f"{where}.region",
            )
        domain = item.get("customDomain", "")
        if not isinstance(domain, str) or len(domain) > 300:
            raise InvalidArgument(
                f"{where}.customDomain must be a string of up to 300 characters.",
                target=f"{where}.customDomain",
            )
        wanted.append(
            {"azureResourceId": resource.azure_resource_id, "customDomain": domain}
        )
    _unique([w["azureResourceId"] for w in wanted], field)
    return job_create(
        kind=Job.Kind.RESOURCES_ASSIGN,
        project_name=project.name,
        project=project,
        # The ids again as a plain list: the audit trail records lists of strings.
        params={
            "resources": wanted,
            "azureResourceIds": [w["azureResourceId"] for w in wanted],
        },
    )


def resources_unassign_start(*, project_name: str, body: Any) -> Job:
    """Validate ``:unassign`` (``{"azureResourceIds": [...]}``; the REST spec's
    ``assignedResourceIds`` too) and queue its job."""
    project = _project(project_name)
    field, ids = _id_list(body, ("azureResourceIds", "assignedResourceIds"))
    canonical = [
        assignment_get(
            project=project, azure_resource_id=value, target=f"{field}[{index}]"
        ).resource.azure_resource_id
        for index, value in enumerate(ids)
    ]
    return job_create(
        kind=Job.Kind.RESOURCES_UNASSIGN,
        project_name=project.name,
        project=project,
        params={"azureResourceIds": canonical},
    )


def deploy_resource_ids(*, project: Project, body: Any) -> list[str]:
    """The assigned resources a deploy request names in ``azureResourceIds`` (the
    2025-11-01 strings or the previews' ``{azureResourceId, region}`` objects),
    canonical ids; [] when none. 400 for one that is not assigned."""
    if not isinstance(body, dict) or body.get("azureResourceIds") in (None, []):
        return []
    items = body["azureResourceIds"]
    if not isinstance(items, list):
        raise InvalidArgument(
            "azureResourceIds must be a list of resource ids.",
            target="azureResourceIds",
        )
    if len(items) > MAX_RESOURCES_PER_REQUEST:
        raise InvalidArgument(
            f"azureResourceIds names {len(items)} resources; at most "
            f"{MAX_RESOURCES_PER_REQUEST} per request.",
            target="azureResourceIds",
        )
    ids: list[str] = []
    for index, item in enumerate(items):
        where = f"azureResourceIds[{index}]"
        value = item.get("azureResourceId") if isinstance(item, dict) else item
        if not isinstance(value, str) or not value:
            raise InvalidArgument(
                f"{where} must be a resource id, or an object with azureResourceId "
                "and region.",
                target=where,
            )
        assignment = assignment_get(
            project=project, azure_resource_id=value, target=where
        )
        region = item.get("region") if isinstance(item, dict) else None
        if region is not None and (
            not isinstance(region, str)
            or not _same_region(region, assignment.resource.region)
        ):
            raise InvalidArgument(
                f"Resource {assignment.resource.azure_resource_id!r} is in region "
                f"{assignment.resource.region!r}, not {echo(region)}.",
                target=f"{where}.region",
            )
        ids.append(assignment.resource.azure_resource_id)
    _unique(ids, "azureResourceIds")
    return ids


def resources_deploy_request(
    *,
    project: Project,
    deployment_name: str,
    azure_resource_ids: Iterable[str],
    requested_by: int | None = None,
) -> Job:
    """Ask for deployment ``deployment_name`` (as it is here now) to be copied to
    the named assigned resources: their rows become ``pending`` and a job copies
    them. Called by the deploy job once the local deployment committed, and by the
    studio's Copy/Retry."""
    deployment = Deployment.objects.filter(
        project=project, name=deployment_name
    ).first()
    if deployment is None:
        raise NotFound(
            f"Deployment {deployment_name!r} was not found in project "
            f"{project.name!r}.",
            target="deploymentName",
        )
    ids = list(azure_resource_ids)
    assignments = [
        assignment_get(
            project=project, azure_resource_id=value, target="azureResourceIds"
        )
        for value in ids
    ]
    with transaction.atomic():
        for assignment in assignments:
            RemoteDeployment.objects.update_or_create(
                assignment=assignment,
                deployment_name=deployment_name,
                defaults={
                    "status": RemoteDeployment.Status.PENDING,
                    "model_id": deployment.model_id,
                    "job_id": "",
                    "step": "",
                    "message": "",
                },
            )
        return job_create(
            kind=Job.Kind.RESOURCES_DEPLOY,
            project_name=project.name,
            project=project,
            target_name=deployment_name,
            params={"azureResourceIds": ids},
            requested_by=requested_by,
        )


def resources_deploy_after_local(
    *, project: Project, deployment_name: str, job: Job, azure_resource_ids: list[str]
) -> dict[str, str] | None:
    """After a local deploy committed: queue its copy to resources. Returns the
    warning the deploy job carries (where to follow the copy, or why it could not
    be queued); the local deployment stands either way."""
    try:
        copy = resources_deploy_request(
            project=project,
            deployment_name=deployment_name,
            azure_resource_ids=azure_resource_ids,
            requested_by=job.requested_by_id,
        )
    except StudioError as exc:
        RemoteDeployment.objects.filter(
            assignment__project=project,
            assignment__resource__azure_resource_id__in=azure_resource_ids,
            deployment_name=deployment_name,
            status=RemoteDeployment.Status.PENDING,
            job_id="",
        ).update(
            status=RemoteDeployment.Status.FAILED,
            message=f"The copy could not be queued: {exc.message}",
        )
        return {
            "code": "ResourcesCopyNotQueued",
            "message": f"Deployed here; the copy to {', '.join(azure_resource_ids)} "
            f"could not be queued: {exc.message}",
        }
    return {
        "code": "ResourcesCopyQueued",
        "message": f"Deployed here; copying to {', '.join(azure_resource_ids)} "
        f"runs as job {copy.job_id} (GET .../resources shows each resource's state).",
    }


def deployment_delete_from_resources_start(
    *, project_name: str, deployment_name: str, body: Any
) -> Job:
    """Validate ``:delete-from-resources`` (``{"assignedResourceIds": [...]}``, or the
    1.0.0b4 SDK's ``azureResourceIds``) and queue its job."""
    project = _project(project_name)
    field, ids = _id_list(body, ("assignedResourceIds", "azureResourceIds"))
    canonical = []
    for index, value in enumerate(ids):
        assignment = assignment_get(
            project=project, azure_resource_id=value, target=f"{field}[{index}]"
        )
        canonical.append(assignment.resource.azure_resource_id)
    remote_deployment_rows(
        project=project, deployment_name=deployment_name, azure_resource_ids=canonical
    )
    return job_create(
        kind=Job.Kind.RESOURCES_DELETE,
        project_name=project.name,
        project=project,
        target_name=deployment_name,
        params={"azureResourceIds": canonical},
    )


# --- job operations -------------------------------------------------------------------


class _Report:
    """Per-resource progress of a job, kept in ``Job.result["resources"]`` (the job
    body shows it) and turned into the job's errors at the end."""

    def __init__(self, context: JobContext, names: list[str]) -> None:
        self.context = context
        self.items: dict[str, dict[str, Any]] = {
            name: {"azureResourceId": name, "status": "notStarted"} for name in names
        }
        self.failures: list[ErrorDetail] = []
        self.warnings: list[dict[str, str]] = []

    def set(self, name: str, **fields: Any) -> None:
        self.items.setdefault(name, {"azureResourceId": name}).update(fields)
        done = sum(
            1
            for i in self.items.values()
            if i["status"] in ("succeeded", "failed", "skipped")
        )
        Job.objects.filter(pk=self.context.job.pk).update(
            result={"resources": list(self.items.values())},
            warnings=[*self.context.job.warnings, *self.warnings],
            percent_complete=int(100 * done / max(1, len(self.items))),
            updated_at=timezone.now(),
        )

    def fail(self, name: str, message: str, code: str = "InternalServerError") -> None:
        self.failures.append(ErrorDetail(code, message, target=name))
        self.set(name, status="failed", message=message)

    def finish(self, what: str) -> dict[str, Any]:
        if self.failures:
            names = ", ".join(str(f.target) for f in self.failures)
            partial = len(self.failures) < len(self.items)
            others = "; the others succeeded" if partial else ""
            raise ResourcesFailed(
                f"{what} failed on {names}{others}.", details=self.failures
            )
        return {"resources": list(self.items.values())}


def _job_project(job: Job) -> Project:
    project = (
        Project.objects.filter(pk=job.project_id).first() if job.project_id else None
    )
    if project is None:
        raise NotFound(f"The project {job.project_name!r} was deleted.")
    return project


def _tick(context: JobContext) -> Callable[[], None]:
    return context.raise_if_cancelled


def _assign(context: JobContext) -> dict[str, Any]:
    project = _job_project(context.job)
    wanted = list(context.params["resources"])
    report = _Report(context, [w["azureResourceId"] for w in wanted])
    for item in wanted:
        name = item["azureResourceId"]
        report.set(name, status="running")
        try:
            resource = resource_get(azure_resource_id=name, target="azureResourceId")
        except StudioError as exc:  # removed from the registry meanwhile
            report.fail(name, exc.message, exc.code)
            continue
        client = RemoteClient(resource, tick=_tick(context))
        try:
            client.check()
            exists = client.project_exists(project.name)
        except RemoteFailure as exc:
            report.fail(name, exc.message, exc.code)
            continue
        if exists:
            report.warnings.append(
                {
                    "code": "ProjectExistsOnResource",
                    "message": f"Resource {name!r} already has a project named "
                    f"{project.name!r}: copying a deployment there replaces it.",
                }
            )
        ProjectResource.objects.update_or_create(
            project=project,
            resource=resource,
            defaults={"custom_domain": item.get("customDomain", "")},
        )
        report.set(name, status="succeeded")
    return report.finish("Assigning")


def _unassign(context: JobContext) -> dict[str, Any]:
    project = _job_project(context.job)
    names = list(context.params["azureResourceIds"])
    report = _Report(context, names)
    for name in names:
        report.set(name, status="running")
        assignment = (
            ProjectResource.objects.filter(
                project=project, resource__azure_resource_id=name
            )
            .select_related("resource")
            .first()
        )
        if assignment is None:  # unassigned meanwhile: what was asked holds
            report.set(name, status="succeeded")
            continue
        client = RemoteClient(assignment.resource, tick=_tick(context))
        try:
            # Every deployment copied (or maybe half-copied) there goes; one that
            # is not there answers 404, which is what is wanted.
            for row in assignment.deployments.all():
                client.deployment_delete(project.name, deployment=row.deployment_name)
        except RemoteFailure as exc:
            report.fail(
                name,
                f"{exc.message} The resource stays assigned; unassign it again once "
                "it answers.",
                exc.code,
            )
            continue
        assignment.delete()
        report.set(name, status="succeeded")
    return report.finish("Unassigning")


def _claim(project: Project, deployment_name: str, job: Job) -> list[RemoteDeployment]:
    pending = RemoteDeployment.objects.filter(
        assignment__project=project,
        deployment_name=deployment_name,
        status=RemoteDeployment.Status.PENDING,
    )
    claimed = []
    for row in pending:
        if RemoteDeployment.objects.filter(
            pk=row.pk, status=RemoteDeployment.Status.PENDING
        ).update(status=RemoteDeployment.Status.RUNNING, job_id=job.job_id, step=""):
            claimed.append(row)
    return list(
        RemoteDeployment.objects.filter(pk__in=[r.pk for r in claimed]).select_related(
            "assignment__resource"
        )
    )


def _mine(row: RemoteDeployment, job: Job) -> Q:
    return Q(pk=row.pk, status=RemoteDeployment.Status.RUNNING, job_id=job.job_id)


def _copy_one(context: JobContext, project: Project, row: RemoteDeployment) -> str:
    """Copy the local deployment to the row's resource; returns the model id
    brought. Raises ``RemoteFailure`` (or ``StudioError`` for a local problem)."""
    job = context.job

    def step(name: str) -> None:
        RemoteDeployment.objects.filter(_mine(row, job)).update(step=name)

    deployment = Deployment.objects.filter(
        project=project, name=row.deployment_name
    ).first()
    if deployment is None:
        raise NotFound(
            f"Deployment {row.deployment_name!r} was deleted here before it could be "
            "copied."
        )
    model = TrainedModel.objects.filter(
        project=project, model_id=deployment.model_id
    ).first()
    if model is None or not model.snapshot_name:
        raise NotFound(
            f"The model deployment {row.deployment_name!r} serves "
            f"({deployment.model_id}) was deleted or retrained here, so the data it "
            "was trained on is gone; train, deploy and copy again."
        )
    # Imported here: train_jobs imports the API modules, which import this one.
    from training.train_jobs import snapshot_document

    document = snapshot_document(model=model, string_index_type="Utf16CodeUnit")
    document["metadata"] = metadata_as_azure(project)
    document.setdefault("projectFileVersion", "2023-04-01")
    client = RemoteClient(row.assignment.resource, tick=_tick(context))
    step("import")
    client.project_import(project.name, document)
    step("train")
    client.train(
        project.name,
        label=model.label,
        training_mode=model.training_mode,
        evaluation_options=model.evaluation_options,
    )
    step("deploy")
    client.deploy(project.name, deployment=row.deployment_name, label=model.label)
    return deployment.model_id


def _deploy_to_resources(context: JobContext) -> dict[str, Any]:
    job = context.job
    project = _job_project(job)
    name = job.target_name
    report = _Report(context, list(context.params.get("azureResourceIds", [])))
    for _round in range(_MAX_ROUNDS):
        rows = _claim(project, name, job)
        if not rows:
            break
        for row in rows:
            resource_id = row.assignment.resource.azure_resource_id
            report.set(resource_id, status="running")
            modified = (
                Project.objects.filter(pk=project.pk)
                .values_list("last_modified_at", flat=True)
                .first()
            )
            try:
                model_id = _copy_one(context, project, row)
            except (RemoteFailure, StudioError) as exc:
                message = f"{exc.message}"
                RemoteDeployment.objects.filter(_mine(row, job)).update(
                    status=RemoteDeployment.Status.FAILED, message=message
                )
                report.fail(resource_id, message, exc.code)
                continue
            RemoteDeployment.objects.filter(_mine(row, job)).update(
                status=RemoteDeployment.Status.SUCCEEDED,
                message="",
                step="",
                deployed_model_id=model_id,
                deployed_at=timezone.now(),
                project_modified_at=modified,
            )
            report.set(resource_id, status="succeeded", message="")
    for resource_id, item in report.items.items():
        if item["status"] == "notStarted":
            # Claimed by a job asked for later (a newer deploy): that one copies it.
            report.set(
                resource_id,
                status="skipped",
                message="Copied by a later job (GET .../resources shows its state).",
            )
    return report.finish(f"Copying deployment {name!r}")


def _delete_from_resources(context: JobContext) -> dict[str, Any]:
    job = context.job
    project = _job_project(job)
    name = job.target_name
    names = list(context.params["azureResourceIds"])
    report = _Report(context, names)
    for resource_id in names:
        report.set(resource_id, status="running")
        row = (
            RemoteDeployment.objects.filter(
                assignment__project=project,
                assignment__resource__azure_resource_id=resource_id,
                deployment_name=name,
            )
            .select_related("assignment__resource")
            .first()
        )
        if row is None:  # deleted meanwhile
            report.set(resource_id, status="succeeded")
            continue
        client = RemoteClient(row.assignment.resource, tick=_tick(context))
        try:
            client.deployment_delete(project.name, deployment=name)
        except RemoteFailure as exc:
            report.fail(resource_id, exc.message, exc.code)
            continue
        row.delete()
        report.set(resource_id, status="succeeded")
    return report.finish(f"Deleting deployment {name!r} from resources")


@shared_task(ignore_result=True)
def resources_assign_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_assign)


@shared_task(ignore_result=True)
def resources_unassign_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_unassign)


@shared_task(ignore_result=True)
def resources_deploy_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_deploy_to_resources)


@shared_task(ignore_result=True)
def resources_delete_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_delete_from_resources)
