"""What a training job learns from: a project's utterances, entities and link targets.

The source of truth is the project's *snapshot*: its exported assets with offsets in
code points (``projects.formats.conversation.export_document``). The same document is
stored beside the trained model for ``:load-snapshot`` and export with
``trainedModelLabel``, so a model never describes data other than its snapshot.

Orchestration projects add, for each linked intent, the data of the linked project as
it is when training starts (DESIGN.md §1): every utterance of a linked Conversation
project, every question and alternate of a linked knowledge base, labelled with the
orchestration intent's name. A link to a missing project, to a project of the wrong
kind, or to a Conversation deployment that does not exist fails the job with an error
naming the intent and the project. LUIS and HTTP targets bring no data.

Rules checked before any fitting (``training_data_validate``): every intent except
the built-in ``None`` needs at least one training utterance; ``None`` with no
utterances is simply not a class (the runtime answers ``None`` below the confidence
threshold instead); a project whose data has a single trainable intent trains a
single-intent model; a manual split needs ``Test`` utterances.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from projects.formats.conversation import DEFAULT_QA_DEPLOYMENT, export_document
from projects.models import Intent, Project, QnaPair, Utterance
from projects.permissions import Actor, actor_reads_everything, readable_project_names
from projects.services.projects import STUDIO_LINK_KINDS, unreadable_link_message
from studio.errors import ErrorCollector, ErrorDetail, InvalidArgument
from training.engine.artifacts import training_data_hash
from training.engine.bundles import TargetSpec
from training.engine.entities import EntityDefinition, definition_from_exported
from training.engine.offsets import StringIndexType
from training.engine.splits import SplitError, manual_split, percentage_split
from training.engine.types import Span
from training.models import Deployment

NONE_INTENT = Intent.BUILTIN_NONE
# Fixed, so the same data and options always give the same split (and model).
SPLIT_SEED = 0
SNAPSHOT_INDEX_TYPE = StringIndexType.UNICODE_CODE_POINT


@dataclass(frozen=True)
class TrainingRecord:
    """One labelled example; ``spans`` count code points."""

    text: str
    intent: str
    language: str
    dataset: str | None
    spans: tuple[Span, ...] = ()
    # "" for the project's own utterances; "<kind>:<project>" for linked data.
    source: str = ""


@dataclass
class TrainingData:
    kind: str
    language: str
    # Every intent of the project, in the project's order (including "None").
    intents: list[str]
    records: list[TrainingRecord]
    definitions: list[EntityDefinition] = field(default_factory=list)
    # Orchestration only: every intent -> where it routes.
    targets: dict[str, TargetSpec] = field(default_factory=dict)
    # The project's exported assets (code points), stored as the model's snapshot.
    snapshot: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    @property
    def entity_categories(self) -> list[str]:
        return [d.category for d in self.definitions]


@dataclass(frozen=True)
class Split:
    train: list[int]
    test: list[int]


# ---------------------------------------------------------------- loading


def _own_records(snapshot: dict[str, Any], language: str) -> list[TrainingRecord]:
    records = []
    for item in snapshot["assets"]["utterances"]:
        records.append(
            TrainingRecord(
                text=item["text"],
                intent=item["intent"],
                language=item.get("language") or language,
                dataset=item.get("dataset"),
                spans=tuple(
                    Span(e["category"], e["offset"], e["length"])
                    for e in item.get("entities") or ()
                ),
            )
        )
    return records


def _target_spec(intent: Intent) -> TargetSpec:
    kind = intent.target_kind or "NonLinked"
    if kind == "Conversation":
        return TargetSpec(
            kind="Conversation",
            project_name=intent.target_project_name,
            deployment_name=intent.target_deployment_name,
        )
    if kind == "QuestionAnswering":
        return TargetSpec(
            kind="QuestionAnswering",
            project_name=intent.target_project_name,
            deployment_name=intent.target_deployment_name or DEFAULT_QA_DEPLOYMENT,
        )
    if kind == "Luis":
        return TargetSpec(
            kind="Luis",
            luis_app_id=intent.luis_app_id,
            luis_app_version=intent.luis_app_version,
            luis_slot_name=intent.luis_slot_name,
        )
    if kind == "Http":
        # Still encrypted: the spec is pickled into the artifact; the runtime
        # decrypts just before the call (runtime/targets.py, spec_headers).
        sealed = {str(k): str(v) for k, v in (intent.http_headers or {}).items()}
        if intent.http_key:
            sealed.setdefault("Ocp-Apim-Subscription-Key", intent.http_key)
        return TargetSpec(kind="Http", url=intent.http_url, sealed_headers=sealed)
    return TargetSpec(kind="NonLinked")


def _studio_links(project: Project) -> list[Intent]:
    return list(
        project.intents.filter(target_kind__in=STUDIO_LINK_KINDS).order_by("id")
    )


def _where(intent: Intent) -> str:
    return f"intents[{intent.name}].orchestration"


def training_links_check(*, project: Project, actor: Actor) -> None:
    """Refuse to train ``project`` for an ``actor`` who may not read every project
    its intents link to: their data would become training data and surface in the
    model's evaluation. ``InvalidArgument`` names each such link, in the words used
    for a missing project (``unreadable_link_message``), so nothing says whether it
    exists. Checked when training is requested and again when the job runs."""
    if project.kind != Project.Kind.ORCHESTRATION or actor_reads_everything(actor):
        return
    errors = ErrorCollector()
    _link_access_errors(_studio_links(project), actor, errors)
    errors.raise_if_any(
        f"Orchestration project {project.name!r} has links that cannot be trained"
    )


def _link_access_errors(
    links: list[Intent], actor: Actor, errors: ErrorCollector
) -> set[str]:
    """Add an error per link ``actor`` may not follow; returns the intents' names."""
    readable = readable_project_names(actor, {i.target_project_name for i in links})
    refused = set()
    for intent in links:
        if intent.target_project_name not in readable:
            refused.add(intent.name)
            message = unreadable_link_message(
                intent.target_kind, intent.target_project_name
            )
            errors.add(f"Intent {intent.name!r}: {message}", target=_where(intent))
    return refused


def _linked_records(intent: Intent, errors: ErrorCollector) -> list[TrainingRecord]:
    """The linked project's data for one orchestration intent, or an error."""
    kind = intent.target_kind
    if kind not in STUDIO_LINK_KINDS:
        return []
    name = intent.target_project_name
    target = Project.objects.filter(name=name).first()
    where = _where(intent)
    if target is None:
        errors.add(
            f"Intent {intent.name!r} links to {kind} project {name!r}, which does "
            "not exist.",
            target=where,
        )
        return []
    if target.kind != kind:
        errors.add(
            f"Intent {intent.name!r} links to {name!r} as a {kind} project, but "
            f"{name!r} is a {target.kind} project.",
            target=where,
        )
        return []
    source = f"{kind}:{name}"
    if kind == "Conversation":
        deployment = intent.target_deployment_name
        if not Deployment.objects.filter(project=target, name=deployment).exists():
            errors.add(
                f"Intent {intent.name!r} links to deployment {deployment!r} of "
                f"Conversation project {name!r}, which has no such deployment; "
                "deploy that project first.",
                target=where,
            )
            return []
        return [
            TrainingRecord(
                text=text,
                intent=intent.name,
                language=language or target.language,
                dataset=dataset,
                source=source,
            )
            for text, language, dataset in Utterance.objects.filter(project=target)
            .order_by("id")
            .values_list("text", "language", "dataset")
        ]
    return [
        TrainingRecord(
            text=question,
            intent=intent.name,
            language=target.language,
            dataset=None,
            source=source,
        )
        for questions in QnaPair.objects.filter(project=target)
        .order_by("qna_id")
        .values_list("questions", flat=True)
        for question in questions
        if isinstance(question, str) and question.strip()
    ]


def training_data_load(*, project: Project, actor: Actor = None) -> TrainingData:
    """Read everything a training job of ``project`` needs, before any fitting.

    Raises ``InvalidArgument`` naming each broken orchestration link, and each
    link to a project ``actor`` (who asked for the training; None: a resource key)
    may not read, which is not read.
    """
    snapshot = export_document(project, index_type=SNAPSHOT_INDEX_TYPE)
    assets = snapshot["assets"]
    intents = [item["category"] for item in assets["intents"]]
    records = _own_records(snapshot, project.language)
    data = TrainingData(
        kind=project.kind,
        language=project.language,
        intents=intents,
        records=records,
        snapshot=snapshot,
    )
    if project.kind == Project.Kind.CONVERSATION:
        data.definitions = [
            definition_from_exported(item) for item in assets.get("entities") or ()
        ]
    elif project.kind == Project.Kind.ORCHESTRATION:
        errors = ErrorCollector()
        refused: set[str] = set()
        if not actor_reads_everything(actor):
            refused = _link_access_errors(_studio_links(project), actor, errors)
        for intent in project.intents.order_by("id"):
            data.targets[intent.name] = _target_spec(intent)
            if intent.name not in refused:
                data.records.extend(_linked_records(intent, errors))
        errors.raise_if_any(
            f"Orchestration project {project.name!r} has links that cannot be trained"
        )
    data.hash = training_data_hash(_hash_records(data))
    return data


def _hash_records(data: TrainingData) -> list[Any]:
    header = {
        "kind": data.kind,
        "language": data.language,
        "intents": data.intents,
        "entities": data.snapshot["assets"].get("entities", []),
        "targets": {
            name: {
                "kind": t.kind,
                "project": t.project_name,
                "deployment": t.deployment_name,
                "url": t.url,
                "luis": [t.luis_app_id, t.luis_app_version, t.luis_slot_name],
            }
            for name, t in data.targets.items()
        },
    }
    return [
        header,
        *(
            [r.text, r.intent, r.language, r.dataset, r.spans, r.source]
            for r in data.records
        ),
    ]


# ---------------------------------------------------------------- split + checks


def training_data_split(
    *, data: TrainingData, evaluation_options: dict[str, Any]
) -> Split:
    """Azure's split: ``percentage`` pools every utterance (dataset ignored) and
    splits it per intent, seeded; ``manual`` uses each utterance's dataset."""
    try:
        if evaluation_options.get("kind") == "manual":
            train, test = manual_split([r.dataset for r in data.records])
        else:
            train, test = percentage_split(
                [r.intent for r in data.records],
                training_percent=int(evaluation_options["trainingSplitPercentage"]),
                seed=SPLIT_SEED,
            )
    except SplitError as exc:
        raise InvalidArgument(str(exc), target="evaluationOptions") from None
    return Split(train=train, test=test)


def training_data_validate(
    *, data: TrainingData, split: Split, evaluation_options: dict[str, Any]
) -> list[str]:
    """The intents the model learns (sorted), or ``InvalidArgument`` naming every
    problem: intents without training utterances, no utterances at all, a manual
    split without a test set."""
    problems: list[ErrorDetail] = []
    train_counts = Counter(data.records[i].intent for i in split.train)
    total_counts = Counter(r.intent for r in data.records)
    for intent in data.intents:
        if intent == NONE_INTENT or train_counts[intent]:
            continue
        if total_counts[intent]:
            message = (
                f"Intent {intent!r} has no training utterances: all its "
                f"{total_counts[intent]} utterances are in the Test set."
            )
        elif data.targets.get(intent) and data.targets[intent].kind in (
            "Conversation",
            "QuestionAnswering",
        ):
            target = data.targets[intent]
            message = (
                f"Intent {intent!r} has no utterances: its linked {target.kind} "
                f"project {target.project_name!r} has none and the intent has no "
                "utterances of its own."
            )
        else:
            message = (
                f"Intent {intent!r} has no utterances; add at least one training "
                "utterance or delete the intent."
            )
        problems.append(
            ErrorDetail(
                "InvalidArgument",
                message,
                f"intents[{intent}]",
                "InvalidParameterValue",
            )
        )
    if evaluation_options.get("kind") == "manual" and not split.test:
        problems.append(
            ErrorDetail(
                "InvalidArgument",
                "evaluationOptions.kind is manual but the project has no utterances "
                "in the Test set; assign some utterances to Test or use a "
                "percentage split.",
                "evaluationOptions.kind",
            )
        )
    if not split.train and not problems:
        problems.append(
            ErrorDetail(
                "InvalidArgument",
                "The project has no training utterances.",
                "assets.utterances",
            )
        )
    if problems:
        raise InvalidArgument(
            "The project cannot be trained: " + " ".join(p.message for p in problems),
            target="project",
            details=problems,
        )
    return sorted(train_counts)
