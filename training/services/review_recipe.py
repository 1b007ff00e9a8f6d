"""The review queue's stored keys and scores brought to the current recipe.

Each log stores ``text_key`` and ``base_score`` (``training.models.review_key``,
``review_base_score``) and ``review_recipe``, the number (``rv.RECIPE``) of the code
that computed them. When a release changes that code it numbers a new recipe, and
the open logs (pending, skipped: what the queue groups; reviewed logs never are
again) of an older one are refilled:

* in bulk by the recipe's migration (``0018_review_recipe_refill`` is the model:
  not atomic, ``review_keys_refill`` over every project, resumable) and by the
  worker's periodic housekeeping (``review_keys_refill_all``: rows an older
  release wrote during a rolling deploy, or left by an interrupted migration);
* a bounded batch per request (``review_keys_catch_up``, before the queue is read
  or a group triaged), so a read never waits for a backlog.

Every batch is its own short transaction, outside any other (asserted:
``transaction.atomic(durable=True)``), never under the project's lock; on SQLite
each one first lets waiting labeling saves go (``writers_wait``). The update
re-checks the recipe, so an older release never undoes a newer one's rows.

Rollback: the reverse of a recipe migration (``review_recipe_reset``) sets the
open rows of that recipe or a newer one back to 0, so the older code refills them
with its own; rolling the code back without reversing the migration leaves them
(the older code never undoes a newer recipe): run the migration's reverse first
(``manage.py migrate training <the migration before it>``).
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection, transaction

from projects.models import Project
from studio.sqlite_writers import writers_wait
from training.engine import review as rv
from training.models import PredictionLog, review_base_score, review_key
from training.selectors.review import STATUSES

# Rows per transaction. Measured by ``bench.review_refill`` (bench/README.md,
# "Review recipe refill", 6,000 rows): reading, computing and writing a row costs
# 0.28 ms on PostgreSQL and 0.09 ms on SQLite, so a batch of 500 holds its
# transaction about 0.15 s on PostgreSQL, 0.05 s on SQLite (at most what a waiting
# writer waits for), and 100,000 stale rows take about 28 s (PostgreSQL) or 9 s
# (SQLite) in 200 batches.
REVIEW_REFILL_BATCH = 500
# Rows a request examines at most: about 56 ms (PostgreSQL) or 18 ms (SQLite)
# added to a queue read or an action while rows of an older recipe wait, one
# indexed lookup otherwise. The bulk is the migration's and the worker's
# housekeeping's (``review_keys_refill_all``).
REVIEW_REFILL_READ = 200
# Rows one sweep of the worker's housekeeping examines at most (about 0.6 s on
# PostgreSQL, 0.2 s on SQLite): the sweep runs on the thread that writes the
# worker's heartbeat (every 5 s, stale after 30 s), so a 100,000-row backlog in
# one sweep (~28 s on PostgreSQL) would make a live worker look dead. At one sweep
# every 30 s that is 240,000 rows an hour; the bulk of a recipe change is its
# migration's.
REVIEW_REFILL_SWEEP = 2000


def review_keys_refill(
    *,
    log_model: type[PredictionLog] | Any = PredictionLog,
    project_id: int | None = None,
    limit: int | None = None,
    deadline: float | None = None,
) -> int:
    """Recompute ``text_key`` and ``base_score`` of the open logs whose
    ``review_recipe`` is older than ``rv.RECIPE`` with the current code, stamp
    them with it, and return how many rows were updated (a row a newer release
    refilled meanwhile is not). ``project_id``: one project's, through the index
    (project, status, recipe); None: every project's, in primary-key order from
    the last batch (a migration). ``limit``: stop after examining that many rows
    (a request; rows that a racing refill wrote first count: they were read),
    else until none is left. ``deadline``: a ``time.monotonic()`` value; no batch
    starts once it has passed (the worker's sweep). ``log_model``:
    ``PredictionLog`` or a migration's historical model of it. Must not run inside
    a transaction (each batch commits on its own): raises RuntimeError there."""
    return _refill(log_model, project_id=project_id, limit=limit, deadline=deadline)[0]


def _refill(
    log_model: type[PredictionLog] | Any,
    *,
    project_id: int | None,
    limit: int | None,
    deadline: float | None,
) -> tuple[int, int]:
    """``review_keys_refill``: the rows updated and the rows examined."""
    stale = log_model.objects.filter(
        review_status__in=STATUSES, review_recipe__lt=rv.RECIPE
    ).only(
        "pk",
        "query",
        "prediction",
        "shadow_top_intent",
        "shadow_confidence",
        "shadow_disagrees",
    )
    if project_id is not None:
        # Any order: the index answers; each batch leaves the set (refilled, or
        # of a newer recipe meanwhile). ORDER BY id would let SQLite walk the
        # table by rowid.
        stale, ordered = stale.filter(project_id=project_id).order_by(), False
    else:
        stale, ordered = stale.order_by("pk"), True
    updated, examined, last = 0, 0, 0
    while limit is None or examined < limit:
        if deadline is not None and time.monotonic() >= deadline:
            break
        size = REVIEW_REFILL_BATCH
        if limit is not None:
            size = min(size, limit - examined)
        page = stale.filter(pk__gt=last) if ordered else stale
        batch = list(page[:size])
        if not batch:
            break
        last, examined = batch[-1].pk, examined + len(batch)
        for row in batch:
            row.text_key = review_key(row.query)
            row.base_score = review_base_score(row)
            row.review_recipe = rv.RECIPE
        writers_wait(connection)
        with transaction.atomic(durable=True):
            written = _write(log_model, batch)
        updated += written
    return updated, examined


def _write(log_model: type[PredictionLog] | Any, batch: list[Any]) -> int:
    """One parameterised UPDATE per row, sent at once (``executemany``), each
    re-checking the recipe; the rows updated. ``bulk_update`` builds a CASE per
    column naming every row: about 1 ms a row of Django's expression building on
    its own (bench/README.md, "review recipe refill")."""
    table, key, score, recipe = (
        connection.ops.quote_name(name)
        for name in (
            log_model._meta.db_table,
            "text_key",
            "base_score",
            "review_recipe",
        )
    )
    # Identifiers only (the model's table and columns, quoted); values are params.
    sql = (
        f"UPDATE {table} SET {key} = %s, {score} = %s, {recipe} = %s "  # noqa: S608
        f"WHERE id = %s AND {recipe} < %s"
    )
    params = [
        (row.text_key, row.base_score, rv.RECIPE, row.pk, rv.RECIPE) for row in batch
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return max(cursor.rowcount, 0)


def review_keys_catch_up(*, project: Project) -> int:
    """What a request refills before reading the queue or triaging a group: at most
    ``REVIEW_REFILL_READ`` of the project's open logs of an older recipe (normally
    none). Rows beyond that bound are listed by what they store (an unkeyed row
    alone) until the worker's housekeeping or the next requests take the rest; an
    action groups them by the current key (``selectors.review.review_group``)."""
    return review_keys_refill(project_id=project.pk, limit=REVIEW_REFILL_READ)


def review_keys_refill_all(*, deadline: float | None = None) -> int:
    """The worker's housekeeping: open logs of an older recipe, project by project,
    in batches, at most ``REVIEW_REFILL_SWEEP`` rows examined a call (one indexed
    lookup per project when there is none), no batch started after ``deadline``
    (a ``time.monotonic()`` value); the rows updated."""
    updated, left = 0, REVIEW_REFILL_SWEEP
    for pk in Project.objects.order_by("pk").values_list("pk", flat=True):
        if left <= 0 or (deadline is not None and time.monotonic() >= deadline):
            break
        written, examined = _refill(
            PredictionLog, project_id=pk, limit=left, deadline=deadline
        )
        updated, left = updated + written, left - examined
    return updated


def review_recipe_stamp(*, log_model: type[PredictionLog] | Any, recipe: int) -> int:
    """Mark open logs keyed by code older than the recipe column (0) as ``recipe``
    when that recipe computes exactly what the older code stored (recipe 1: the
    keys of 0016), without rewriting them; unkeyed rows ("") are left for
    ``review_keys_refill``. In primary-key batches, each committed on its own."""
    rows = log_model.objects.filter(
        review_status__in=STATUSES, review_recipe=0
    ).exclude(text_key="")
    return _batched_update(log_model, rows, review_recipe=recipe)


def review_recipe_reset(*, log_model: type[PredictionLog] | Any, recipe: int) -> int:
    """The reverse of ``recipe``'s migration: its open logs (and any of a newer
    recipe) back to 0, so that the older code refills them with its own recipe
    (it never touches a row of a newer one). In primary-key batches."""
    rows = log_model.objects.filter(
        review_status__in=STATUSES, review_recipe__gte=recipe
    )
    return _batched_update(log_model, rows, review_recipe=0)


def _batched_update(
    log_model: type[PredictionLog] | Any, rows: Any, **values: Any
) -> int:
    """``rows.update(**values)`` in primary-key ranges of ``REVIEW_REFILL_BATCH``,
    each its own transaction (the condition is re-checked by the UPDATE)."""
    updated, last = 0, 0
    while True:
        pks = list(
            rows.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:REVIEW_REFILL_BATCH]
        )
        if not pks:
            return updated
        last = pks[-1]
        writers_wait(connection)
        with transaction.atomic(durable=True):
            updated += rows.filter(pk__in=pks).update(**values)
