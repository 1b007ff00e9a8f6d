"""Reads of deployment resources: the registry, a project's assignments and the sync
state of its deployments there (training/README.md, "Deployment resources").

Sync state of one deployment on one resource:

* ``never``: never copied there (or every copy failed before one succeeded, see
  ``failed``);
* ``syncing``: a copy is asked for or running;
* ``failed``: the last copy failed (its message says why; what an earlier copy
  brought may still serve there);
* ``behind``: the resource serves another model than the local deployment does
  now, the local deployment was deleted, or the project changed since the copy;
* ``inSync``: it serves the model the local deployment serves and the project has
  not changed since.

A resource's state is its deployments' worst (syncing, failed, behind, in sync in
that order; ``never`` when none was ever asked for).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from jobs.models import Job
from projects.models import Project
from studio.errors import InvalidArgument, NotFound
from studio.inputs import echo
from training.models import (
    Deployment,
    DeploymentResource,
    ProjectResource,
    RemoteDeployment,
)

NEVER = "never"
SYNCING = "syncing"
FAILED = "failed"
BEHIND = "behind"
IN_SYNC = "inSync"
_SEVERITY = {SYNCING: 4, FAILED: 3, BEHIND: 2, IN_SYNC: 1, NEVER: 0}


@dataclass(frozen=True)
class DeploymentSync:
    """One deployment's state on one resource."""

    deployment_name: str
    state: str
    message: str = ""
    model_id: str = ""
    deployed_at: datetime | None = None
    job_id: str = ""
    step: str = ""


@dataclass(frozen=True)
class ResourceSync:
    """One assigned resource of a project, with its deployments' states."""

    assignment: ProjectResource
    state: str
    deployments: list[DeploymentSync] = field(default_factory=list)

    @property
    def resource(self) -> DeploymentResource:
        return self.assignment.resource


def resources_list() -> QuerySet[DeploymentResource]:
    """Every registered resource, by id."""
    return DeploymentResource.objects.order_by("azure_resource_id")


def resource_find(*, azure_resource_id: str) -> DeploymentResource | None:
    return DeploymentResource.objects.filter(
        azure_resource_id__iexact=azure_resource_id
    ).first()


def resource_get(*, azure_resource_id: str, target: str) -> DeploymentResource:
    """The registered resource of that id (any case), or a 400 naming ``target``:
    the id is part of a request body, which is what is wrong."""
    resource = resource_find(azure_resource_id=azure_resource_id)
    if resource is None:
        raise InvalidArgument(
            f"Resource {echo(azure_resource_id)} is not registered in this studio; "
            "studio staff register resources on the Resources page.",
            target=target,
        )
    return resource


def assignment_get(
    *, project: Project, azure_resource_id: str, target: str
) -> ProjectResource:
    """The assignment of that resource to the project, or a 400 saying which of
    "not registered" and "not assigned" it is."""
    resource = resource_get(azure_resource_id=azure_resource_id, target=target)
    assignment = ProjectResource.objects.filter(
        project=project, resource=resource
    ).first()
    if assignment is None:
        raise InvalidArgument(
            f"Resource {echo(resource.azure_resource_id)} is not assigned to project "
            f"{project.name!r}; assign it first (resources/:assign).",
            target=target,
        )
    return assignment


def project_assignments(*, project: Project) -> QuerySet[ProjectResource]:
    return (
        ProjectResource.objects.filter(project=project)
        .select_related("resource")
        .prefetch_related(
            Prefetch(
                "deployments",
                queryset=RemoteDeployment.objects.order_by("deployment_name"),
            )
        )
        .order_by("resource__azure_resource_id")
    )


def deployment_sync(
    row: RemoteDeployment,
    *,
    local: Deployment | None,
    project: Project,
    stopped_jobs: Collection[str] = (),
) -> DeploymentSync:
    """The state of ``row`` against the local deployment of the same name.
    ``stopped_jobs``: ids of finished jobs; a row still ``running`` under one of
    them was left by a job that was cancelled or whose worker died."""

    def state(name: str, message: str = "") -> DeploymentSync:
        return DeploymentSync(
            deployment_name=row.deployment_name,
            state=name,
            message=message,
            model_id=row.deployed_model_id,
            deployed_at=row.deployed_at,
            job_id=row.job_id,
            step=row.step,
        )

    if row.status == RemoteDeployment.Status.RUNNING and row.job_id in stopped_jobs:
        return state(
            FAILED,
            (
                "The copy stopped before it finished (its job was cancelled or its "
                "worker stopped); copy again."
            ),
        )
    if row.status in (RemoteDeployment.Status.PENDING, RemoteDeployment.Status.RUNNING):
        what = "waits for its job" if row.status == "pending" else "is running"
        step = f" ({row.step})" if row.step else ""
        return state(SYNCING, f"The copy {what}{step}.")
    if row.status == RemoteDeployment.Status.FAILED:
        return state(FAILED, row.message)
    if not row.deployed_model_id:
        return state(NEVER)
    if local is None:
        return state(
            BEHIND,
            (
                "The deployment was deleted here; delete it from the resource too "
                "(:delete-from-resources) or deploy it again."
            ),
        )
    if local.model_id != row.deployed_model_id:
        return state(
            BEHIND,
            (
                f"The resource serves model {row.deployed_model_id}; the deployment "
                f"here serves {local.model_id}. Deploy again to the resource."
            ),
        )
    if row.project_modified_at and project.last_modified_at > row.project_modified_at:
        return state(
            BEHIND,
            (
                "The project changed since the copy; train, then deploy to the "
                "resource again to bring the change."
            ),
        )
    return state(IN_SYNC)


def stopped_jobs(job_ids: Iterable[str]) -> set[str]:
    """Those of ``job_ids`` that are finished (or gone)."""
    wanted = {j for j in job_ids if j}
    if not wanted:
        return set()
    active = set(
        Job.objects.filter(job_id__in=wanted, status__in=Job.ACTIVE).values_list(
            "job_id", flat=True
        )
    )
    return wanted - active


def _worst(states: Iterable[str]) -> str:
    return max(states, key=lambda s: _SEVERITY[s], default=NEVER)


def project_resources_sync(*, project: Project) -> list[ResourceSync]:
    """The project's assigned resources with their deployments' sync states."""
    local = {d.name: d for d in Deployment.objects.filter(project=project)}
    assignments = list(project_assignments(project=project))
    stopped = stopped_jobs(
        row.job_id
        for a in assignments
        for row in a.deployments.all()
        if row.status == RemoteDeployment.Status.RUNNING
    )
    result = []
    for assignment in assignments:
        rows = [
            deployment_sync(
                row,
                local=local.get(row.deployment_name),
                project=project,
                stopped_jobs=stopped,
            )
            for row in assignment.deployments.all()
        ]
        result.append(
            ResourceSync(
                assignment=assignment,
                state=_worst(r.state for r in rows),
                deployments=rows,
            )
        )
    return result


def deployment_assigned_resources(
    *, project: Project, deployment_name: str
) -> list[DeploymentResource]:
    """The resources this deployment was copied to successfully at least once."""
    return [
        row.assignment.resource
        for row in RemoteDeployment.objects.filter(
            assignment__project=project, deployment_name=deployment_name
        )
        .exclude(deployed_model_id="")
        .select_related("assignment__resource")
        .order_by("assignment__resource__azure_resource_id")
    ]


def remote_deployment_rows(
    *, project: Project, deployment_name: str, azure_resource_ids: Iterable[str]
) -> list[RemoteDeployment]:
    """The copies of a deployment on the named resources (any case), or 404 when
    the deployment was never copied to one of them."""
    rows = []
    for index, resource_id in enumerate(azure_resource_ids):
        row = (
            RemoteDeployment.objects.filter(
                assignment__project=project,
                assignment__resource__azure_resource_id__iexact=resource_id,
                deployment_name=deployment_name,
            )
            .select_related("assignment__resource")
            .first()
        )
        if row is None:
            raise NotFound(
                f"Deployment {deployment_name!r} of project {project.name!r} is not "
                f"on resource {echo(resource_id)}.",
                target=f"assignedResourceIds[{index}]",
            )
        rows.append(row)
    return rows


def assigned_resource_deployments(
    *, projects: QuerySet[Project]
) -> list[tuple[Project, list[tuple[RemoteDeployment, Deployment | None]]]]:
    """Per project (by name), its deployments on resources (one entry per
    deployment name: the latest copy of it), for
    ``GET projects/global/deployments/resources``."""
    rows = (
        RemoteDeployment.objects.filter(assignment__project__in=projects)
        .exclude(deployed_model_id="")
        .select_related("assignment__project")
        .order_by("assignment__project__name", "deployment_name", "-deployed_at")
    )
    grouped: dict[int, tuple[Project, dict[str, RemoteDeployment]]] = {}
    for row in rows:
        project = row.assignment.project
        _, by_name = grouped.setdefault(project.pk, (project, {}))
        by_name.setdefault(row.deployment_name, row)
    local = {
        (d.project_id, d.name): d
        for d in Deployment.objects.filter(project_id__in=list(grouped))
    }
    return [
        (
            project,
            [(row, local.get((project.pk, name))) for name, row in by_name.items()],
        )
        for project, by_name in grouped.values()
    ]
