"""Trained models for tests that need one without running a training job.

``make_trained_model`` fits the real engine on a few utterances, saves the artifact
through ``artifact_save`` (signed, in the test storage) and records a
``TrainedModel`` row as a training job would, so deploy and runtime tests exercise
the same load path as production.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils import timezone

from projects.models import Project
from studio.deployment_state import deployment_state_bump
from training.artifact_store import artifact_save
from training.engine.artifacts import training_data_hash
from training.engine.bundles import ConversationBundle, OrchestrationBundle, TargetSpec
from training.engine.intents import IntentClassifier
from training.models import Deployment, TrainedModel

_EPOCH_TICKS = 621_355_968_000_000_000
_ticks_used: set[int] = set()


def _model_id(label: str) -> str:
    ticks = _EPOCH_TICKS + int(timezone.now().timestamp() * 10_000_000)
    while ticks in _ticks_used:
        ticks += 1
    _ticks_used.add(ticks)
    return f"{label}-{ticks}"


def make_trained_model(
    project: Project,
    label: str,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    targets: dict[str, TargetSpec] | None = None,
) -> TrainedModel:
    """Fit an intent classifier on ``texts``/``labels`` and store it as ``label``.

    A Conversation project gets a ``ConversationBundle``; an Orchestration project an
    ``OrchestrationBundle`` whose intents route to ``targets`` (``NonLinked`` for
    intents not given). Replaces an existing model of that label, as retraining does.
    """
    distinct = sorted(set(labels))
    classifier = (
        IntentClassifier.fit(list(texts), list(labels)) if len(distinct) > 1 else None
    )
    single = distinct[0] if len(distinct) == 1 else None
    bundle: ConversationBundle | OrchestrationBundle
    if project.kind == Project.Kind.ORCHESTRATION:
        routes = {name: TargetSpec(kind="NonLinked") for name in distinct}
        routes.update(targets or {})
        bundle = OrchestrationBundle(
            intents=classifier,
            single_intent=single,
            targets=routes,
            language=project.language,
        )
    else:
        bundle = ConversationBundle(
            intents=classifier,
            single_intent=single,
            entities=None,
            language=project.language,
        )
    model_id = _model_id(label)
    records = [
        {"text": text, "intent": intent}
        for text, intent in zip(texts, labels, strict=True)
    ]
    artifact_name, manifest = artifact_save(
        bundle,
        model_id=model_id,
        training_data_hash=training_data_hash(records),
        params={"trainingMode": "standard"},
    )
    now = timezone.now()
    TrainedModel.objects.filter(project=project, label=label).delete()
    return TrainedModel.objects.create(
        project=project,
        label=label,
        model_id=model_id,
        training_mode="standard",
        training_config_version="2022-05-01",
        evaluation_options={"kind": "percentage", "trainingSplitPercentage": 80},
        artifact_name=artifact_name,
        manifest=manifest,
        trained_at=now,
        expires_on=date(2099, 12, 31),
    )


def deploy_trained_model(model: TrainedModel, name: str = "production") -> Deployment:
    """Point deployment ``name`` at the trained model's artifact, as a deploy job
    does, and tell the runtimes (the deployment version bump)."""
    deployment = Deployment.objects.create(
        project=model.project,
        name=name,
        model_label=model.label,
        model_id=model.model_id,
        artifact_name=model.artifact_name,
        manifest=model.manifest,
        model_trained_at=model.trained_at,
        deployed_at=model.trained_at,
        expires_on=model.expires_on,
    )
    deployment_state_bump()
    return deployment
