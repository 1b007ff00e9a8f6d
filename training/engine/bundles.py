"""What one artifact holds: everything a deployment needs to predict, per project kind.

A bundle is the object ``artifacts.dump_model`` pickles after training (Conversation,
Orchestration) or at deploy time (QuestionAnswering: the knowledge base as it is when
deployed). The runtime unpickles it once per process and keeps it in memory. Settings
that may change without retraining (the project's confidence threshold) are not in the
bundle; they are read with the deployment at prediction time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from training.engine.entities import EntityExtractor
from training.engine.intents import IntentClassifier
from training.engine.qna import KnowledgeBase

TargetKind = Literal["Conversation", "QuestionAnswering", "Luis", "Http", "NonLinked"]


@dataclass(frozen=True)
class TargetSpec:
    """Where an orchestration intent routes to, as it was when the router was trained.

    ``Conversation``: a CLU project of this studio and the deployment to call.
    ``QuestionAnswering``: a KB project of this studio (its ``deployment_name``,
    ``production`` unless the link names another). ``Luis`` / ``Http``: an external
    endpoint called with ``url`` (LUIS: built from the app id and slot).

    ``sealed_headers`` are the link's header values and key, still encrypted
    (``studio.crypto``): the artifact is pickled to storage and must not hold them
    in plain text; the runtime decrypts them just before the call. ``headers`` are
    sent as they are (artifacts trained before encryption hold them there).
    """

    kind: TargetKind
    project_name: str = ""
    deployment_name: str = ""
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    sealed_headers: dict[str, str] = field(default_factory=dict)
    luis_app_id: str = ""
    luis_app_version: str = ""
    luis_slot_name: str = ""


@dataclass
class ConversationBundle:
    """A CLU project's model. ``intents`` is None when the project has a single
    intent (nothing to classify: it is predicted with confidence 1)."""

    intents: IntentClassifier | None
    single_intent: str | None
    entities: EntityExtractor | None
    language: str
    kind: Literal["Conversation"] = "Conversation"


@dataclass
class OrchestrationBundle:
    intents: IntentClassifier | None
    single_intent: str | None
    # Every orchestration intent (including "None") -> its target at training time.
    targets: dict[str, TargetSpec]
    language: str
    kind: Literal["Orchestration"] = "Orchestration"


@dataclass
class KnowledgeBaseBundle:
    kb: KnowledgeBase
    language: str
    kind: Literal["QuestionAnswering"] = "QuestionAnswering"


Bundle = ConversationBundle | OrchestrationBundle | KnowledgeBaseBundle


def bundle_kind(bundle: Any) -> str:
    return str(getattr(bundle, "kind", ""))
