"""The review queue's reads: a project's logged queries waiting for review, filtered,
collapsed by normalized text and ranked by how much labeling them would teach
(``training.engine.review``).

Every open log within the retention is in the queue: the database groups and
orders them on what each row stores when written (``text_key``, ``base_score``;
``ReviewQueue``), and only a shown group's newest prediction is decoded
(``bench/review_queue.py``: cost by number of logs).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any, overload

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from projects.models import Project
from training.engine import review as rv
from training.models import PredictionLog, review_key

BANDS = {
    "low": (0.0, 0.5),
    "medium": (0.5, 0.8),
    "high": (0.8, 1.01),
}
STATUSES = ("pending", "skipped")
# A listed group names its count and at most this many of its log ids (the
# oldest): a query asked thousands of times is one group, and an action names the
# group by its ``id`` (as the audit row does: ``services.review.AUDIT_LOG_IDS``).
DOCUMENT_LOG_IDS = 1000


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


def review_queue(*, project: Project, filters: ReviewFilter) -> ReviewQueue:
    """Every group of the (filtered) queue, the most instructive first, as a lazy
    sequence: ``len()`` and each slice read the database (see ``ReviewQueue``).
    Rows of an older recipe are grouped by what they store, an unkeyed one ("")
    alone: a request refills a bounded batch of them first
    (``services.review_recipe.review_keys_catch_up``)."""
    return ReviewQueue(pending_logs(project=project, filters=filters))


class ReviewQueue(Sequence[ReviewGroup]):
    """The queue of every matching log, grouped and ordered by SQL.

    Each log stores its normalized text's digest (``text_key``) and its teach score
    without the count term (``base_score``), both set when the row is written. A
    page is one grouped query over every matching log (``GROUP BY text_key``, an
    unkeyed row its own group: count, newest id) joined to the newest log's base
    score and ordered by the whole score, ``base x (1 + 0.1 ln count)``
    (``rv.teach_score``), then the newest id; only the page's groups have their logs
    listed and their newest prediction decoded. With a ``pair_cap``
    (``rv.spread_confusions``) the order depends on every group's confusion, so
    every group's newest prediction is decoded (once per process, ``_signals_of``).
    ``bench/review_queue.py`` measures it at 5,000 to 500,000 logs."""

    def __init__(self, logs: QuerySet[PredictionLog]) -> None:
        self._logs = logs
        self._totals: tuple[int, int] | None = None

    def _count(self) -> tuple[int, int]:
        if self._totals is None:
            found = self._logs.order_by().aggregate(
                keys=Count("text_key", distinct=True), logs=Count("id")
            )
            keys = int(found["keys"] or 0)
            # Unkeyed rows ("") are one key above, each its own group: an indexed
            # count, (project, status, text_key), of none normally. (Counting a
            # CASE per row instead cost 11% more at 100,000 logs on SQLite.)
            unkeyed = self._logs.filter(text_key="").count() if keys else 0
            self._totals = (keys + max(unkeyed - 1, 0), int(found["logs"] or 0))
        return self._totals

    def __len__(self) -> int:
        return self._count()[0]

    @property
    def total_logs(self) -> int:
        """How many logs the groups hold together."""
        return self._count()[1]

    @overload
    def __getitem__(self, index: int) -> ReviewGroup: ...

    @overload
    def __getitem__(self, index: slice) -> list[ReviewGroup]: ...

    def __getitem__(self, index: int | slice) -> ReviewGroup | list[ReviewGroup]:
        if isinstance(index, slice):
            if index.step not in (None, 1):
                raise ValueError("The review queue is sliced with step 1 only.")
            if (index.start or 0) < 0 or (index.stop or 0) < 0:
                start, stop, _ = index.indices(len(self))
            else:
                start, stop = index.start or 0, index.stop
            if stop is not None and stop <= start:
                return []
            return self._page(start, None if stop is None else stop - start)
        position = index + len(self) if index < 0 else index
        page = self._page(position, 1) if position >= 0 else []
        if not page:
            raise IndexError("review queue index out of range")
        return page[0]

    def __iter__(self) -> Iterator[ReviewGroup]:
        return iter(self._page(0, None))

    def _page(self, offset: int, limit: int | None) -> list[ReviewGroup]:
        if (rv.RANKING.pair_cap or 0) > 0:
            window = _ranked_keys(self._logs, 0, None)
            signals = _signals_of([(pk, at) for _, _, pk, at in window])
            order = rv.spread_confusions(
                [signals.get(pk, _NO_SIGNALS) for _, _, pk, _ in window]
            )
            spread = [window[n] for n in order]
            end = None if limit is None else offset + limit
            return _groups(self._logs, spread[offset:end])
        return _groups(self._logs, _ranked_keys(self._logs, offset, limit))


# (group key: text_key, or "id:<id>" for an unkeyed row; count, newest log's id,
# its created_at)
_Ranked = tuple[str, int, int, datetime]
# A listed group is its stored key, never "" (rows written by a release older
# than the keys, or not refilled yet after an interrupted migration): each such
# row is its own group, "id:<id>", never one with every other unkeyed row.
_UNKEYED = "id:"


def _ranked_keys(
    logs: QuerySet[PredictionLog], offset: int, limit: int | None
) -> list[_Ranked]:
    """The groups of ``logs`` in score order (then the newest id), from
    ``offset``, at most ``limit``: one query, grouped and ordered by the database;
    an unkeyed row is a group of its own."""
    inner, params = logs.order_by().values("id", "text_key").query.sql_with_params()
    q = connection.ops.quote_name
    table = q(PredictionLog._meta.db_table)
    # The ORM cannot join a grouped query back to its newest row; ``inner`` is the
    # ORM's own compiled SQL (its values stay in ``params``) and the names are
    # quoted model metadata: nothing from the request enters the text.
    sql = (
        "SELECT g.k, g.n, g.newest, l.created_at FROM ("  # noqa: S608
        "SELECT s.text_key AS k, COUNT(*) AS n, MAX(s.id) AS newest "
        f"FROM ({inner}) s WHERE s.text_key <> '' GROUP BY s.text_key "
        # Unkeyed rows one by one. A UNION, not GROUP BY CASE ... (one key for
        # both): that cost 23% more at 100,000 logs on SQLite (bench/README.md).
        f"UNION ALL SELECT '{_UNKEYED}' || CAST(s.id AS TEXT), 1, s.id "
        f"FROM ({inner}) s WHERE s.text_key = '') g "
        f"JOIN {table} l ON l.{q('id')} = g.newest "
        # rv.teach_score's count term, in the same operations as Python's.
        "ORDER BY l.base_score * (1.0 + 0.1 * LN(CAST(g.n AS DOUBLE PRECISION))) "
        "DESC, g.newest DESC"
    )
    args = [*params, *params]
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        args += [limit, offset]
    elif offset:
        sql += " LIMIT -1 OFFSET %s" if connection.vendor == "sqlite" else " OFFSET %s"
        args += [offset]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = cursor.fetchall()
    return [
        (key, int(n), int(pk), _aware(created_at)) for key, n, pk, created_at in rows
    ]


def _aware(value: Any) -> datetime:
    """A raw cursor's created_at as the ORM would give it."""
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    if settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def _groups(logs: QuerySet[PredictionLog], ranked: list[_Ranked]) -> list[ReviewGroup]:
    """The shown groups in ``ranked`` order: their logs listed (ids, spellings,
    deployments, models) and their newest prediction decoded."""
    if not ranked:
        return []
    members: dict[str, list[tuple[int, str, str, str]]] = {k: [] for k, *_ in ranked}
    keys = [k for k in members if not k.startswith(_UNKEYED)]
    unkeyed = [pk for k, _, pk, _ in ranked if k.startswith(_UNKEYED)]
    for by_id, values in ((False, keys), (True, unkeyed)):
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            rows = (
                logs.filter(**{"pk__in" if by_id else "text_key__in": chunk})
                .order_by("-created_at", "-id")
                .values_list("id", "query", "text_key", "deployment_name", "model_id")
            )
            for pk, query, key, deployment, model_id in rows:
                # An unkeyed row is its group (keyed meanwhile or not).
                group = f"{_UNKEYED}{pk}" if by_id else key
                members[group].append((pk, query, deployment, model_id))
    signals = _signals_of([(pk, at) for _, _, pk, at in ranked])
    groups = []
    for key, _, newest, created_at in ranked:
        if not members[key]:
            # Triaged or purged since the page was ranked (another analyst, the
            # retention sweep): nothing of it is left to show.
            continue
        spellings: Counter[str] = Counter(query for _, query, _, _ in members[key])
        text = _shown_text(spellings)
        sig = signals.get(newest, _NO_SIGNALS)
        ids = [pk for pk, *_ in members[key]]
        groups.append(
            ReviewGroup(
                id=newest,
                key=rv.normalize(text) or text,
                text=text,
                ids=ids,
                signals=sig,
                score=rv.teach_score(sig, count=len(ids)),
                last_seen=created_at,
                deployments={d for _, _, d, _ in members[key]},
                models={m for _, _, _, m in members[key]},
                spellings=spellings,
            )
        )
    return groups


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
SIGNALS_KEPT = 40_000
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
    """The group (pending or skipped) of one logged query, with every open log of
    the same text, or None when it was reviewed meanwhile or is not this project's.

    The same text is the current code's key, never a stored "" (rows written by a
    release older than the keys, or left by an interrupted migration) nor a key
    of an older recipe, which may join texts the current code tells apart: the
    rows of the current (or a newer) recipe stored with the log's key (computed
    here when the log's own is stale), and the project's open rows not refilled
    yet (``services.review_recipe``: a request refills a bounded batch) whose
    query the current code keys the same, read and keyed here: one indexed
    lookup when there is none, about 11 µs a row otherwise (0.2 s with 20,000,
    SQLite and PostgreSQL; bench/README.md, "Review queue: unkeyed rows")."""
    open_logs = PredictionLog.objects.filter(
        project=project, review_status__in=STATUSES
    ).order_by("-created_at", "-id")
    log = open_logs.filter(pk=log_id).only("query", "text_key", "review_recipe").first()
    if log is None:
        return None
    not_refilled = Q(review_recipe__lt=rv.RECIPE) | Q(text_key="")
    computed = review_key(log.query)
    stored = log.text_key and log.review_recipe >= rv.RECIPE
    fields = ("created_at", "id", "query")
    # The rows not refilled yet first, then the refilled ones: a refill may
    # commit between the two reads (PostgreSQL reads committed data per
    # statement, and the project's lock does not stop an UPDATE of its logs),
    # and rows only ever move from the first set to the second, so in this order
    # a row moving meanwhile is read twice (counted once) rather than missed.
    found = {
        row[1]: row
        for row in open_logs.filter(not_refilled).values_list(*fields).iterator()
        if review_key(row[2]) == computed
    }
    for row in (
        open_logs.filter(text_key=log.text_key if stored else computed)
        .exclude(not_refilled)
        .values_list(*fields)
    ):
        found[row[1]] = row
    rows = sorted(found.values(), reverse=True)  # newest first: spellings' ties
    ids: list[int] = []
    spellings: Counter[str] = Counter()
    for _, pk, query in rows:
        ids.append(pk)
        spellings[query] += 1
    newest = open_logs.filter(pk=max(ids)).first() if ids else None
    if newest is None:  # reviewed or purged meanwhile
        return None
    sig = _signals(
        newest.prediction,
        newest.shadow_top_intent,
        newest.shadow_confidence,
        newest.shadow_disagrees,
    )
    text = _shown_text(spellings)
    return ReviewGroup(
        id=newest.pk,
        key=rv.normalize(text) or text,
        text=text,
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
        PredictionLog.objects.filter(project=project)
        .order_by()  # the default ordering would make it DISTINCT (name, date)
        .values_list("deployment_name", flat=True)
        .distinct()
    )


def review_group_document(group: ReviewGroup) -> dict[str, Any]:
    """A group as the API lists it."""
    s = group.signals
    return {
        "id": group.id,
        "text": group.text,
        "count": group.count,
        "logIds": sorted(group.ids)[:DOCUMENT_LOG_IDS],
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
