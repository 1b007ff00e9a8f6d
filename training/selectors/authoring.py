"""Reads of trained models, deployments, evaluation results and training jobs (the
jobs of any kind: jobs.selectors)."""

from __future__ import annotations

from django.db.models import QuerySet

from jobs.models import Job
from jobs.selectors import project_jobs
from projects.models import Project
from projects.permissions import Actor, actor_reads_everything, readable_project_names
from studio.errors import NotFound
from training.models import Deployment, EvaluationResult, TrainedModel

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
