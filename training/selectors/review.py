"""The review queue's reads: a project's logged queries waiting for review, filtered,
collapsed by normalized text and ranked by how much labeling them would teach
(``training.engine.review``).

Ranking happens in Python over the newest ``MAX_SCAN`` matching logs (a window
bounded by the log retention anyway): the score mixes several signals read from the
stored prediction, which SQL cannot rank on portably. Only each group's newest
prediction is decoded (``bench/review_queue.py``: cost by number of logs).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from projects.models import Project
from training.engine import review as rv
from training.models import PredictionLog

MAX_SCAN = 20_000
BANDS = {
    "low": (0.0, 0.5),
    "medium": (0.5, 0.8),
    "high": (0.8, 1.01),
}
STATUSES = ("pending", "skipped")


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    deployment: str = ""
    since: date | None = None
    until: date | None = None  # inclusive
    band: str = ""  # a key of BANDS
    intent: str = ""  # the predicted top intent
    status: str = "pending"  # or "skipped": what was skipped earlier
    shadow: bool = False  # only queries the deployment's shadow model disagreed on


@dataclass(slots=True)
class ReviewGroup:
    """Logged queries with the same normalized text; ``id`` is the newest one's,
    the handle that acts on the whole group."""

    id: int
    key: str
    text: str
    ids: list[int]
    signals: rv.Signals
    score: float
    last_seen: datetime
    deployments: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    spellings: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.ids)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def pending_logs(*, project: Project, filters: ReviewFilter) -> QuerySet[PredictionLog]:
    qs = PredictionLog.objects.filter(project=project, review_status=filters.status)
    if filters.deployment:
        qs = qs.filter(deployment_name=filters.deployment)
    if filters.since is not None:
        qs = qs.filter(created_at__gte=_day_start(filters.since))
    if filters.until is not None:
        qs = qs.filter(created_at__lt=_day_start(filters.until + timedelta(days=1)))
    if filters.band:
        low, high = BANDS[filters.band]
        qs = qs.filter(confidence__gte=low, confidence__lt=high)
    if filters.intent:
        qs = qs.filter(top_intent=filters.intent)
    if filters.shadow:
        qs = qs.filter(shadow_disagrees=True)
    return qs.order_by("-created_at", "-id")


def review_queue(*, project: Project, filters: ReviewFilter) -> list[ReviewGroup]:
    """Every group of the (filtered) queue, the most instructive first.

    The window's logs are grouped from their ids, texts and dates alone; only the
    newest log of each group has its stored prediction read and decoded (the
    group's signals come from it), once per process: decoding every log's JSON
    on every request was most of the cost. ``bench/review_queue.py`` measures
    it at 5,000 / 20,000 / 100,000 logs."""
    groups: dict[str, ReviewGroup] = {}
    keys: dict[str, str] = {}  # query -> its normalized key, once per spelling
    rows = pending_logs(project=project, filters=filters).values_list(
        "id", "query", "created_at", "deployment_name", "model_id"
    )[:MAX_SCAN]
    for pk, query, created_at, deployment, model_id in rows:
        key = keys.get(query)
        if key is None:
            key = keys[query] = rv.normalize(query) or query
        group = groups.get(key)
        if group is None:
            group = groups[key] = ReviewGroup(
                id=pk,
                key=key,
                text=query,
                ids=[],
                signals=_NO_SIGNALS,
                score=0.0,
                last_seen=created_at,
            )
        group.ids.append(pk)
        group.deployments.add(deployment)
        group.models.add(model_id)
        group.spellings[query] += 1
    signals = _signals_of([(group.id, group.last_seen) for group in groups.values()])
    for group in groups.values():
        group.signals = signals.get(group.id, _NO_SIGNALS)
        group.score = rv.teach_score(group.signals, count=group.count)
        group.text = _shown_text(group.spellings)
    return review_order(list(groups.values()))


def review_order(groups: list[ReviewGroup]) -> list[ReviewGroup]:
    """Best score first (the newest among equals), then spread so that one
    confusion between two intents does not fill the top of the queue
    (``rv.spread_confusions``)."""
    ranked = sorted(groups, key=lambda g: (-g.score, -g.id))
    return [ranked[n] for n in rv.spread_confusions([g.signals for g in ranked])]


_SHADOW = ("shadow_top_intent", "shadow_confidence", "shadow_disagrees")


def _signals(
    prediction: Any,
    shadow_intent: str,
    shadow_confidence: float | None,
    shadow_disagrees: bool,
) -> rv.Signals:
    return rv.signals(
        prediction if isinstance(prediction, dict) else {},
        shadow_intent=shadow_intent,
        shadow_confidence=shadow_confidence,
        shadow_disagrees=shadow_disagrees,
    )


_NO_SIGNALS = rv.signals({})
# Ids per IN list when reading the groups' newest predictions.
_CHUNK = 500
# A log is written once (prediction and shadow columns; ``runtime.logs``), so its
# signals never change: remembered per log (id and time, so that an id reused
# after a database restore is not mistaken for the old log; per process, the
# newest SIGNALS_KEPT), a queue re-read after a review or a new filter decodes
# only the predictions it has not seen.
SIGNALS_KEPT = 2 * MAX_SCAN
_SIGNALS: dict[tuple[int, datetime], rv.Signals] = {}
_SIGNALS_LOCK = threading.Lock()


def _signals_of(logs: list[tuple[int, datetime]]) -> dict[int, rv.Signals]:
    """The signals of each (id, created_at) log's stored prediction, by id (a log
    purged meanwhile is missing: its group ranks on no signals, as an empty
    prediction does)."""
    found = {log[0]: _SIGNALS[log] for log in logs if log in _SIGNALS}
    when = {pk: created_at for pk, created_at in logs if pk not in found}
    missing = list(when)
    read: dict[tuple[int, datetime], rv.Signals] = {}
    for start in range(0, len(missing), _CHUNK):
        rows = (
            PredictionLog.objects.filter(pk__in=missing[start : start + _CHUNK])
            .order_by()
            .values_list("id", "prediction", *_SHADOW)
        )
        for pk, prediction, *shadow in rows:
            read[(pk, when[pk])] = _signals(prediction, *shadow)
    if read:
        with _SIGNALS_LOCK:
            _SIGNALS.update(read)
            for key in list(islice(_SIGNALS, max(0, len(_SIGNALS) - SIGNALS_KEPT))):
                del _SIGNALS[key]
    return {**found, **{pk: sig for (pk, _), sig in read.items()}}


def review_signals_clear() -> None:
    """Forget the remembered signals (tests, benchmarks)."""
    with _SIGNALS_LOCK:
        _SIGNALS.clear()


def _shown_text(spellings: Counter[str]) -> str:
    """The group's text as shown and added to the data: its most frequent spelling
    (the newest of equally frequent ones: logs are read newest first)."""
    return spellings.most_common(1)[0][0]


def review_group(*, project: Project, log_id: int) -> ReviewGroup | None:
    """The group (pending or skipped) of one logged query, or None when it was
    reviewed meanwhile or is not this project's."""
    open_logs = PredictionLog.objects.filter(
        project=project, review_status__in=STATUSES
    ).order_by("-created_at", "-id")
    log = open_logs.filter(pk=log_id).only("query").first()
    if log is None:
        return None
    key = rv.normalize(log.query) or log.query
    ids: list[int] = []
    spellings: Counter[str] = Counter()
    for pk, query in open_logs.values_list("id", "query")[:MAX_SCAN]:
        if (rv.normalize(query) or query) == key:
            ids.append(pk)
            spellings[query] += 1
    if log_id not in ids:
        ids.append(log_id)
        spellings[log.query] += 1
    newest = open_logs.filter(pk__in=ids).first()
    assert newest is not None  # noqa: S101 - log_id itself is among them
    sig = _signals(
        newest.prediction,
        newest.shadow_top_intent,
        newest.shadow_confidence,
        newest.shadow_disagrees,
    )
    return ReviewGroup(
        id=newest.pk,
        key=key,
        text=_shown_text(spellings),
        ids=ids,
        signals=sig,
        score=rv.teach_score(sig, count=len(ids)),
        last_seen=newest.created_at,
        deployments={newest.deployment_name},
        models={newest.model_id},
        spellings=spellings,
    )


def review_deployments(*, project: Project) -> list[str]:
    """Deployment names that logged queries of the project (for the filter)."""
    return sorted(
        set(
            PredictionLog.objects.filter(project=project)
            .values_list("deployment_name", flat=True)
            .distinct()
        )
    )


def review_group_document(group: ReviewGroup) -> dict[str, Any]:
    """A group as the API lists it."""
    s = group.signals
    return {
        "id": group.id,
        "text": group.text,
        "count": group.count,
        "logIds": sorted(group.ids),
        "topIntent": s.top_intent,
        "confidenceScore": round(s.confidence, 4),
        "secondIntent": s.second_intent or None,
        "margin": round(s.margin, 4),
        "reasons": s.reasons,
        "shadow": None
        if not s.shadow_intent
        else {
            "topIntent": s.shadow_intent,
            "confidenceScore": round(s.shadow_confidence, 4),
            "disagrees": s.shadow_disagrees,
        },
        "score": round(group.score, 4),
        "lastSeenDateTime": group.last_seen.isoformat(),
        "deployments": sorted(group.deployments),
        "models": sorted(group.models),
    }
