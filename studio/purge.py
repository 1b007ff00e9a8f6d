"""Retention deletes in bounded batches, for the worker's periodic sweep.

The sweep runs on the thread that writes the worker's heartbeat (every 5 s, stale
after 30 s, ``studio.worker``), and on SQLite a DELETE holds the database's only
write lock until it commits. One DELETE of everything past its retention is fine
in the steady state (a bot at 100 requests/s ages out ~3,000 logs between two
sweeps) but not after the worker was down for a day or the retention was
shortened: millions of rows in one statement would hold the lock for minutes, so
the runtime's log writer and every labeling save would wait behind it, and the
worker would look dead. So rows go ``PURGE_BATCH`` at a time, each batch its own
statement after waiting writers had their turn (``writers_wait``), at most
``PURGE_PER_SWEEP`` a sweep and not past the sweep's deadline; the next sweeps
take the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from studio.sqlite_writers import writers_wait

# Rows per DELETE: a short statement (tens of milliseconds) on either database.
PURGE_BATCH = 5000
# Rows a sweep deletes at most: ~100,000 a minute at one sweep every 30 s, far
# above what a bot at 100 requests/s logs (6,000 a minute).
PURGE_PER_SWEEP = 50_000


def purge_in_batches(
    rows: QuerySet[Any],
    *,
    delete: Callable[[QuerySet[Any]], int] | None = None,
    limit: int | None = None,
    deadline: float | None = None,
) -> int:
    """Delete ``rows`` (a filter of one model) ``PURGE_BATCH`` at a time; returns
    how many went. Stops after looking at ``limit`` rows (default
    ``PURGE_PER_SWEEP``; rows another sweep deleted first count too, so racing
    sweeps stop as soon) or once ``time.monotonic()`` passes ``deadline``, checked
    before each batch. ``delete`` deletes the batch's queryset and returns its
    count (default: ``QuerySet.delete``'s total)."""
    model = rows.model
    limit = PURGE_PER_SWEEP if limit is None else limit
    deleted = looked_at = 0
    while looked_at < limit:
        if deadline is not None and time.monotonic() >= deadline:
            break
        size = min(PURGE_BATCH, limit - looked_at)
        ids = list(rows.order_by().values_list("pk", flat=True)[:size])
        if not ids:
            break
        looked_at += len(ids)
        writers_wait(connection)
        batch = model._default_manager.filter(pk__in=ids)
        deleted += delete(batch) if delete is not None else batch.delete()[0]
        if len(ids) < size:
            break
    return deleted
