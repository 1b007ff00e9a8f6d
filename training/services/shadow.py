"""Shadow deployments: name (or clear) the trained model that predicts a
deployment's queries in the background (``runtime/shadow.py``) while its live model
answers. See training/README.md, "Shadow deployments".

Setting a shadow changes no answer, so it is not a job: the request checks the
model (same project, trained, not the live one), loads its artifact once as a web
process will, and then points the deployment's shadow fields at it (a pointer copy,
like a deploy) in one transaction that bumps the deployment version, so every web
process loads the shadow within a second and drops it when it is cleared.
Promoting the shadow is an ordinary deploy of its model; the deploy job then
clears the shadow (``shadow_clear_if_live``): live and shadow would be one model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from jobs.models import Job
from projects.models import Project
from studio.audit import audit_record
from studio.deployment_state import deployment_state_bump
from studio.errors import Conflict, InvalidArgument, NotFound, StudioError
from training.artifact_store import artifact_delete_if_unused, artifact_load
from training.engine.bundles import bundle_kind
from training.models import Deployment, TrainedModel

SHADOW_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)


class ShadowUnusable(StudioError):
    """The shadow model's artifact cannot be loaded: nothing was changed."""

    status_code = 500
    code = "InternalServerError"
    inner_code = None


@dataclass(frozen=True, slots=True)
class ShadowChange:
    deployment: Deployment
    previous_label: str
    previous_model_id: str


def _kind_check(project: Project) -> None:
    if project.kind not in SHADOW_KINDS:
        raise InvalidArgument(
            f"Project {project.name!r} is a {project.kind} project; only "
            "Conversation and Orchestration deployments have shadow models.",
            target="projectName",
        )


def _deployment_locked(project: Project, name: str) -> Deployment:
    deployment = (
        Deployment.objects.select_for_update()
        .filter(project=project, name=name)
        .first()
    )
    if deployment is None:
        raise NotFound(
            f"Deployment {name!r} was not found in project {project.name!r}.",
            target="deploymentName",
        )
    return deployment


def _trained_model(project: Project, label: Any) -> TrainedModel:
    if not isinstance(label, str) or not label.strip():
        raise InvalidArgument(
            "trainedModelLabel is required: the label of a trained model of this "
            "project.",
            target="trainedModelLabel",
        )
    model = TrainedModel.objects.filter(project=project, label=label).first()
    if model is not None:
        return model
    training = Job.objects.filter(
        project=project,
        kind=Job.Kind.TRAIN,
        status__in=Job.ACTIVE,
        params__modelLabel=label,
    ).exists()
    if training:
        raise Conflict(
            f"Model {label!r} is still training; set it as the shadow once its "
            "training job has succeeded.",
            target="trainedModelLabel",
        )
    raise NotFound(
        f"Trained model {label!r} was not found in project {project.name!r}; a "
        "shadow must be a trained model of the same project.",
        target="trainedModelLabel",
    )


def _verify(model: TrainedModel, expected_kind: str) -> None:
    """Load the artifact as a web process will: never shadow with bytes that fail."""
    try:
        bundle = artifact_load(model.artifact_name, model.manifest)
    except Exception as exc:  # noqa: BLE001 - every failure means "do not use it"
        raise ShadowUnusable(
            f"The artifact of model {model.label!r} cannot be loaded ({exc}); the "
            "shadow was not changed. Train the model again.",
            target="trainedModelLabel",
        ) from None
    if bundle_kind(bundle) != expected_kind:
        raise ShadowUnusable(
            f"Model {model.label!r} holds a {bundle_kind(bundle) or 'foreign'} "
            f"model, not a {expected_kind} one; the shadow was not changed.",
            target="trainedModelLabel",
        )


def _delete_after_commit(name: str) -> None:
    if name:
        transaction.on_commit(lambda: artifact_delete_if_unused(name), robust=True)


def deployment_shadow_set(
    *, project: Project, deployment_name: str, model_label: Any
) -> ShadowChange:
    """Make trained model ``model_label`` the shadow of deployment
    ``deployment_name`` (replacing any shadow it had)."""
    _kind_check(project)
    model = _trained_model(project, model_label)
    if not Deployment.objects.filter(project=project, name=deployment_name).exists():
        raise NotFound(
            f"Deployment {deployment_name!r} was not found in project "
            f"{project.name!r}.",
            target="deploymentName",
        )
    _verify(model, project.kind)
    with transaction.atomic():
        deployment = _deployment_locked(project, deployment_name)
        locked = (
            TrainedModel.objects.select_for_update()
            .filter(pk=model.pk, model_id=model.model_id)
            .first()
        )
        if locked is None:
            raise Conflict(
                f"Trained model {model.label!r} was deleted or retrained meanwhile; "
                "nothing was changed. Try again.",
                target="trainedModelLabel",
            )
        if locked.model_id == deployment.model_id:
            raise InvalidArgument(
                f"Deployment {deployment_name!r} already serves model "
                f"{locked.label!r}: a shadow must be another model. To compare, "
                "train a new model first.",
                target="trainedModelLabel",
            )
        previous_label = deployment.shadow_model_label
        previous_id = deployment.shadow_model_id
        previous_artifact = deployment.shadow_artifact_name
        deployment.shadow_model_label = locked.label
        deployment.shadow_model_id = locked.model_id
        deployment.shadow_artifact_name = locked.artifact_name
        deployment.shadow_manifest = locked.manifest
        deployment.shadow_set_at = timezone.now()
        deployment.save(update_fields=_SHADOW_FIELDS)
        deployment_state_bump()
        if previous_artifact and previous_artifact != locked.artifact_name:
            _delete_after_commit(previous_artifact)
        audit_record(
            action="deployment.shadow_set",
            project=project,
            target=f"deployment {deployment_name}",
            before=_shadow_doc(previous_label, previous_id),
            after={
                "liveModelId": deployment.model_id,
                "shadowModelLabel": locked.label,
                "shadowModelId": locked.model_id,
            },
        )
    return ShadowChange(
        deployment=deployment,
        previous_label=previous_label,
        previous_model_id=previous_id,
    )


def deployment_shadow_clear(*, project: Project, deployment_name: str) -> ShadowChange:
    """Stop shadowing deployment ``deployment_name``; clearing none is a no-op
    (idempotent, as a DELETE should be), recorded only when something changed."""
    _kind_check(project)
    with transaction.atomic():
        deployment = _deployment_locked(project, deployment_name)
        previous_label = deployment.shadow_model_label
        previous_id = deployment.shadow_model_id
        if previous_id:
            _clear(deployment)
            audit_record(
                action="deployment.shadow_clear",
                project=project,
                target=f"deployment {deployment_name}",
                before=_shadow_doc(previous_label, previous_id),
                after=None,
            )
    return ShadowChange(
        deployment=deployment,
        previous_label=previous_label,
        previous_model_id=previous_id,
    )


def shadow_clear_if_live(*, project: Project, deployment_names: Iterable[str]) -> None:
    """Inside a deploy or swap transaction: a deployment whose live model is now its
    shadow model (the shadow was promoted) has no shadow any more."""
    for deployment in Deployment.objects.select_for_update().filter(
        project=project, name__in=list(deployment_names)
    ):
        if deployment.shadow_model_id and (
            deployment.shadow_model_id == deployment.model_id
        ):
            label, model_id = deployment.shadow_model_label, deployment.shadow_model_id
            _clear(deployment)
            audit_record(
                action="deployment.shadow_clear",
                project=project,
                target=f"deployment {deployment.name}",
                before=_shadow_doc(label, model_id),
                after={"reason": "promoted: the shadow model now serves live"},
            )


_SHADOW_FIELDS = [
    "shadow_model_label",
    "shadow_model_id",
    "shadow_artifact_name",
    "shadow_manifest",
    "shadow_set_at",
]


def _clear(deployment: Deployment) -> None:
    artifact = deployment.shadow_artifact_name
    deployment.shadow_model_label = ""
    deployment.shadow_model_id = ""
    deployment.shadow_artifact_name = ""
    deployment.shadow_manifest = {}
    deployment.shadow_set_at = None
    deployment.save(update_fields=_SHADOW_FIELDS)
    deployment_state_bump()
    if artifact != deployment.artifact_name:
        _delete_after_commit(artifact)


def _shadow_doc(label: str, model_id: str) -> dict[str, str] | None:
    if not model_id:
        return None
    return {"shadowModelLabel": label, "shadowModelId": model_id}
