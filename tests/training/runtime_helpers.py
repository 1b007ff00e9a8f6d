"""Deployed models for runtime tests: real engine bundles, real artifacts, real rows.

``deploy_bundle`` saves a bundle through ``artifact_save`` (signed, in the test
storage) and points a ``Deployment`` at it, bumping the deployment version in the same
transaction as the deploy job does, so the runtime loads it exactly as in production.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import date

from django.db import transaction
from django.utils import timezone

from projects.models import Project
from studio.deployment_state import deployment_state_bump
from training.artifact_store import artifact_save
from training.engine.bundles import (
    ConversationBundle,
    KnowledgeBaseBundle,
    OrchestrationBundle,
    TargetSpec,
)
from training.engine.entities import EntityDefinition, EntityExtractor
from training.engine.intents import IntentClassifier
from training.engine.qna import KnowledgeBase, QnaRecord
from training.models import Deployment

_ids = itertools.count(1)

EMAIL_EXAMPLES: dict[str, list[str]] = {
    "SendEmail": [
        "send an email to carol",
        "email bob about the meeting",
        "write a mail to my boss",
        "send a message by email to alice",
        "compose an email for the team",
        "mail the report to dave",
    ],
    "ReadEmail": [
        "read my new emails",
        "show me my inbox",
        "do i have any unread mail",
        "open the latest email",
        "check my email",
        "read the message from carol",
    ],
}

TRAVEL_EXAMPLES: dict[str, list[str]] = {
    "BookFlight": [
        "book a flight to paris",
        "fly to zurich tomorrow",
        "i need a plane ticket to london",
        "find flights to new york",
        "book me a flight",
        "get a flight to berlin",
    ],
    "Weather": [
        "what is the weather like",
        "will it rain today",
        "how hot is it outside",
        "weather forecast for tomorrow",
        "is it sunny in zurich",
        "do i need an umbrella",
    ],
}


def _texts_labels(examples: Mapping[str, Sequence[str]]) -> tuple[list[str], list[str]]:
    texts = [text for texts in examples.values() for text in texts]
    labels = [label for label, texts in examples.items() for _ in texts]
    return texts, labels


def conversation_bundle(
    examples: Mapping[str, Sequence[str]],
    *,
    entities: Sequence[EntityDefinition] = (),
    language: str = "en",
) -> ConversationBundle:
    texts, labels = _texts_labels(examples)
    extractor = (
        EntityExtractor.fit(list(entities), [], [], language=language)
        if entities
        else None
    )
    several = len(examples) > 1
    return ConversationBundle(
        intents=IntentClassifier.fit(texts, labels) if several else None,
        single_intent=None if several else next(iter(examples)),
        entities=extractor,
        language=language,
    )


def orchestration_bundle(
    examples: Mapping[str, Sequence[str]],
    targets: Mapping[str, TargetSpec],
    *,
    language: str = "en",
) -> OrchestrationBundle:
    texts, labels = _texts_labels(examples)
    routes = {"None": TargetSpec(kind="NonLinked")}
    routes.update({label: TargetSpec(kind="NonLinked") for label in examples})
    routes.update(targets)
    return OrchestrationBundle(
        intents=IntentClassifier.fit(texts, labels),
        single_intent=None,
        targets=routes,
        language=language,
    )


def kb_bundle(
    records: Sequence[QnaRecord], *, default_answer: str | None = None
) -> KnowledgeBaseBundle:
    return KnowledgeBaseBundle(
        kb=KnowledgeBase.build(records, default_answer=default_answer), language="en"
    )


def deploy_bundle(
    project: Project,
    bundle: object,
    *,
    deployment: str = "production",
    label: str = "m1",
) -> Deployment:
    """Store ``bundle`` and deploy it as ``deployment`` of ``project``."""
    model_id = f"{label}-{next(_ids)}"
    artifact_name, manifest = artifact_save(
        bundle, model_id=model_id, training_data_hash="0" * 64, params={}
    )
    now = timezone.now()
    with transaction.atomic():
        row, _ = Deployment.objects.update_or_create(
            project=project,
            name=deployment,
            defaults={
                "model_label": label,
                "model_id": model_id,
                "artifact_name": artifact_name,
                "manifest": manifest,
                "model_trained_at": now,
                "deployed_at": now,
                "expires_on": date(2099, 12, 31),
            },
        )
        deployment_state_bump()
    return row
