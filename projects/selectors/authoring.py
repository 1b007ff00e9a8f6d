"""Authoring reads: typed, keyword-only, scoped to one project."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import quote

from django.db.models import (
    Count,
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)

from projects.formats import conversation as conversation_format
from projects.formats import qna as qna_format
from projects.models import (
    Entity,
    EntitySpan,
    Intent,
    KbSynonymGroup,
    Project,
    QnaPair,
    Utterance,
)
from studio.errors import NotFound, ProjectNotFound

# Rows per prefetch query: keeps IN lists under SQLite's bound-parameter limit.
PREFETCH_CHUNK = 1000


def project_get(*, name: str, kinds: Collection[str] | None = None) -> Project:
    """The project called ``name`` (of one of ``kinds`` when given)."""
    qs = Project.objects.filter(name=name)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    project = qs.first()
    if project is None:
        raise ProjectNotFound(
            f"The project {name!r} could not be found.", target="projectName"
        )
    return project


def project_list(*, kinds: Collection[str] | None = None) -> QuerySet[Project]:
    qs = Project.objects.all().order_by("name")
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    return qs


def intent_list(*, project: Project) -> QuerySet[Intent]:
    return project.intents.order_by("id")


def intent_get(*, project: Project, name: str) -> Intent:
    intent = project.intents.filter(name=name).first()
    if intent is None:
        raise NotFound(
            f"Intent {name!r} not found in project {project.name!r}.", target="intent"
        )
    return intent


def _dataset_counts(train: int, test: int, total: int) -> dict[str, int]:
    return {
        "Train": train,
        "Test": test,
        "unassigned": total - train - test,
        "total": total,
    }


def intent_list_with_counts(*, project: Project) -> list[tuple[Intent, dict[str, int]]]:
    """The project's intents in order, each with its utterance count per dataset,
    in one query."""
    intents = intent_list(project=project).annotate(
        n_total=Count("utterances"),
        n_train=Count("utterances", filter=Q(utterances__dataset="Train")),
        n_test=Count("utterances", filter=Q(utterances__dataset="Test")),
    )
    return [(i, _dataset_counts(i.n_train, i.n_test, i.n_total)) for i in intents]


def intent_utterance_counts(*, intent: Intent) -> dict[str, int]:
    agg = intent.utterances.aggregate(
        total=Count("id"),
        train=Count("id", filter=Q(dataset="Train")),
        test=Count("id", filter=Q(dataset="Test")),
    )
    return _dataset_counts(agg["train"], agg["test"], agg["total"])


def intent_link_target(*, intent: Intent) -> Project | None:
    """The studio project an orchestration intent links to, if it exists now."""
    if intent.target_kind not in ("Conversation", "QuestionAnswering"):
        return None
    return Project.objects.filter(
        name=intent.target_project_name, kind=intent.target_kind
    ).first()


def entity_list(*, project: Project) -> QuerySet[Entity]:
    return project.entities.order_by("id")


def entity_get(*, project: Project, name: str) -> Entity:
    entity = project.entities.filter(name=name).first()
    if entity is None:
        raise NotFound(
            f"Entity {name!r} not found in project {project.name!r}.", target="entity"
        )
    return entity


def utterance_list(
    *,
    project: Project,
    search: str | None = None,
    intent: str | None = None,
    dataset: str | None = None,
    has_entities: bool | None = None,
    entity: str | None = None,
) -> QuerySet[Utterance]:
    """Utterances in id order, with intent and spans (and their entity) prefetched:
    a page of 50 costs two queries. ``dataset="none"`` selects unassigned."""
    qs = project.utterances.select_related(
        "intent", "labeled_by", "labeled_by_key"
    ).order_by("id")
    if search:
        qs = qs.filter(text__icontains=search)
    if intent is not None:
        qs = qs.filter(intent__name=intent)
    if dataset is not None:
        if dataset.lower() in ("none", "unassigned", ""):
            qs = qs.filter(dataset__isnull=True)
        else:
            qs = qs.filter(dataset=dataset)
    if has_entities is not None:
        spans = EntitySpan.objects.filter(utterance=OuterRef("pk"))
        qs = qs.filter(Exists(spans)) if has_entities else qs.exclude(Exists(spans))
    if entity is not None:
        qs = qs.filter(
            Exists(
                EntitySpan.objects.filter(utterance=OuterRef("pk"), entity__name=entity)
            )
        )
    return qs.prefetch_related(_spans_with_entity())


def _spans_with_entity() -> Prefetch:
    return Prefetch(
        "spans", queryset=EntitySpan.objects.select_related("entity").order_by("id")
    )


def utterances_prefetch_labels(*, utterances: list[Utterance]) -> list[Utterance]:
    """Attach intents and spans (with their entity) to rows already in hand, such as
    those a bulk create returns: a few queries per thousand rows, not two a row."""
    for start in range(0, len(utterances), PREFETCH_CHUNK):
        prefetch_related_objects(
            utterances[start : start + PREFETCH_CHUNK], "intent", _spans_with_entity()
        )
    return utterances


def utterance_get(*, project: Project, pk: int) -> Utterance:
    utterance = utterance_list(project=project).filter(pk=pk).first()
    if utterance is None:
        raise NotFound(
            f"Utterance {pk} not found in project {project.name!r}.", target="id"
        )
    return utterance


def utterance_as_azure(*, utterance: Utterance) -> dict[str, Any]:
    """One utterance in Azure's shape, offsets in code points."""
    body: dict[str, Any] = {"id": utterance.pk, "text": utterance.text}
    if utterance.language:
        body["language"] = utterance.language
    body["intent"] = utterance.intent.name
    body["entities"] = [
        {"category": s.entity.name, "offset": s.offset, "length": s.length}
        for s in utterance.spans.all()
    ]
    if utterance.dataset:
        body["dataset"] = utterance.dataset
    return body


def kb_qna_list(*, project: Project, source: str | None = None) -> QuerySet[QnaPair]:
    qs = project.qnas.order_by("qna_id")
    if source is not None:
        qs = qs.filter(source=source)
    return qs


def kb_qna_get(*, project: Project, qna_id: int) -> QnaPair:
    qna = project.qnas.filter(qna_id=qna_id).first()
    if qna is None:
        raise NotFound(
            f"QnA {qna_id} not found in project {project.name!r}.", target="id"
        )
    return qna


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _source_uri(source: str) -> str:
    """Azure's required ``sourceUri`` (a URI): a URL source is its own; of a file
    source only the name is kept, so it is a ``file:`` URI of that name."""
    return source if _is_url(source) else "file:///" + quote(source)


def kb_source_list(*, project: Project) -> list[dict[str, Any]]:
    """The KB's distinct sources as Azure's QnaSourceRecord, by name."""
    rows = (
        project.qnas.exclude(source="")
        .values("source")
        .annotate(last=Max("last_updated_at"))
        .order_by("source")
    )
    return [
        {
            "displayName": row["source"],
            "source": row["source"],
            "sourceUri": _source_uri(row["source"]),
            "sourceKind": "url" if _is_url(row["source"]) else "file",
            "contentStructureKind": "unstructured",
            "lastUpdatedDateTime": (
                row["last"].isoformat().replace("+00:00", "Z") if row["last"] else None
            ),
        }
        for row in rows
    ]


def kb_synonym_list(*, project: Project) -> QuerySet[KbSynonymGroup]:
    return project.kb_synonyms.order_by("position")


def project_metadata_as_azure(*, project: Project) -> dict[str, Any]:
    """Azure's ProjectMetadata (Conversation/Orchestration) or QA project metadata:
    the exported metadata with the project's timestamps."""

    def ts(value: Any) -> str | None:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None

    if project.kind == Project.Kind.QUESTION_ANSWERING:
        body: dict[str, Any] = {
            **qna_format.project_metadata_as_azure(project),
            "createdDateTime": ts(project.created_at),
            "lastModifiedDateTime": ts(project.last_modified_at),
        }
        if project.last_deployed_at is not None:
            body["lastDeployedDateTime"] = ts(project.last_deployed_at)
        return body
    body = {
        "createdDateTime": ts(project.created_at),
        "lastModifiedDateTime": ts(project.last_modified_at),
    }
    if project.last_trained_at is not None:
        body["lastTrainedDateTime"] = ts(project.last_trained_at)
    if project.last_deployed_at is not None:
        body["lastDeployedDateTime"] = ts(project.last_deployed_at)
    body.update(conversation_format.metadata_as_azure(project))
    if project.encoder:
        # Extension (not in Azure's contract): the sentence encoder of advanced
        # training; absent means the default for the project's language.
        body["settings"]["encoder"] = project.encoder
    return body
