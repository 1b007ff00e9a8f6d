"""Reads for jobs (and, with the runtime issue, models and deployments)."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Exists, Q, QuerySet

from projects.models import Project
from projects.permissions import Actor, actor_reads_everything, readable_project_names
from studio.errors import NotFound, OperationNotFound
from training.models import Deployment, EvaluationResult, Job, TrainedModel

ACTIVE_JOB_STATUSES = (
    Job.Status.NOT_STARTED,
    Job.Status.RUNNING,
    Job.Status.CANCELLING,
)


def project_jobs(*, project_name: str) -> QuerySet[Job]:
    """The jobs of the project called ``project_name``, found by the project row's
    identity, not by the name: those of that row, plus an import still creating it
    (it attaches itself when it has). With no project of that name: only jobs that
    belong to no project (an import not yet done, a finished deletion).

    One statement, so one snapshot: looking the project up first and reading the
    jobs after would miss an import that commits its project and attaches itself
    in between (its poll answered 404 although the import succeeded)."""
    named = Project.objects.filter(name=project_name)
    detached = Q(project__isnull=True, project_name=project_name)
    creating = detached & Q(kind=Job.Kind.IMPORT, status__in=ACTIVE_JOB_STATUSES)
    orphaned = detached & ~Exists(named)
    return Job.objects.filter(Q(project__in=named.values("pk")) | creating | orphaned)


def job_get(
    *,
    job_id: str,
    kinds: Collection[str],
    project_name: str | None = None,
    target_name: str | None = None,
    api: str = Job.Api.CONVERSATIONS,
) -> Job:
    """The job with that id, only if it belongs to that URL's project and kind.

    Scoping by project, kind and API keeps one project's job URL from revealing
    another's job (no IDOR through guessed ids); the project is the row now called
    ``project_name`` (``project_jobs``), so a deleted project's jobs stay hidden from
    a new project of the same name.
    """
    qs = Job.objects.filter(job_id=job_id, kind__in=list(kinds), api=api)
    if project_name is not None:
        qs = qs & project_jobs(project_name=project_name)
    if target_name is not None:
        qs = qs.filter(target_name=target_name)
    job = qs.first()
    if job is None or _succeeded_by_namesake(job):
        raise OperationNotFound(f"The job {job_id!r} was not found.", target="jobId")
    return job


def _succeeded_by_namesake(job: Job) -> bool:
    """A deletion job (polled by id alone) of a project whose name a newer project
    holds now: it belongs to the old one, not to whoever may read the new one."""
    return (
        job.kind == Job.Kind.PROJECT_DELETE
        and job.project_id is None
        and Project.objects.filter(
            name=job.project_name, created_at__gt=job.created_at
        ).exists()
    )


# --- deployments (training.deploy_jobs writes them) ----------------------------------


def deployments_list(*, project: Project) -> QuerySet[Deployment]:
    """A project's deployments by name (Azure lists them in a stable order)."""
    return Deployment.objects.filter(project=project).order_by("name")


def deployment_get(*, project: Project, name: str) -> Deployment:
    """The project's deployment ``name`` (case-sensitive, as Azure's path), or 404."""
    deployment = Deployment.objects.filter(project=project, name=name).first()
    if deployment is None:
        raise NotFound(
            f"Deployment {name!r} was not found in project {project.name!r}.",
            target="deploymentName",
        )
    return deployment


# ---------------------------------------------------------------- training


def training_job_list(*, project_name: str) -> QuerySet[Job]:
    """A project's training jobs, newest first (Azure lists them so)."""
    return (
        project_jobs(project_name=project_name)
        .filter(kind=Job.Kind.TRAIN, api=Job.Api.CONVERSATIONS)
        .order_by("-created_at", "-id")
    )


def trained_model_list(*, project: Project) -> QuerySet[TrainedModel]:
    """A project's trained models, most recently trained first."""
    return TrainedModel.objects.filter(project=project).order_by("-trained_at", "-id")


def trained_model_get(*, project: Project, label: str) -> TrainedModel:
    model = TrainedModel.objects.filter(project=project, label=label).first()
    if model is None:
        raise NotFound(
            f"Trained model {label!r} was not found in project {project.name!r}.",
            target="trainedModelLabel",
        )
    return model


def evaluation_result_list(
    *, model: TrainedModel, actor: Actor
) -> QuerySet[EvaluationResult]:
    """The model's per-utterance test results in evaluation order, without the
    utterances an orchestration pulled from linked projects ``actor`` (None: a
    resource key) may not read: whoever trained the router could read them, but
    its other members need not be able to."""
    results = EvaluationResult.objects.filter(model=model).order_by("position")
    if actor_reads_everything(actor):
        return results
    sources = set(
        results.exclude(source_project="")
        .order_by()
        .values_list("source_project", flat=True)
        .distinct()
    )
    hidden = sources - readable_project_names(actor, sources)
    return results.exclude(source_project__in=hidden) if hidden else results
