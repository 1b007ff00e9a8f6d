"""Writes the prediction path makes without waiting for the database.

A prediction reads (its model is cached in the process) but made two kinds of
writes: the logged query of a request with ``isLoggingEnabled`` and, once a minute
per key, the key's last-used time. On the embedded default SQLite has one writer at
a time, so each of those writes waited - inside the request - for whatever held the
lock (an upload's chunk, a labeling save, a worker heartbeat), and a bot's p99 went
with it. They need not be in the request: a log row a second late, or a last-used
time a second stale, changes nothing for anybody.

So the request only appends to a buffer in this process (``row_create_defer``: a
new row, ``latest_time_defer``: a timestamp that only moves forward,
``counts_add_defer``: counters of a row, created on first use), and a daemon
thread writes the buffer every
``STUDIO_WRITE_BEHIND_MS`` in one short transaction of its own. With 0 the
write happens at once in the request, as before (the test settings use that). A
failed flush keeps the rows for the next one, up to ``MAX_BUFFERED`` new rows (the
oldest go first: what is written this way is a sample, not a ledger); a process
that is killed loses at most one interval of them. A normal exit (gunicorn's
graceful stop) flushes.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q

logger = logging.getLogger(__name__)

MAX_BUFFERED = 10_000

# (model, primary key, field name) -> the latest time seen for it.
LatestKey = tuple[type[models.Model], Any, str]
# (model, the row's identifying fields as sorted (name, value) pairs) -> increments.
CountKey = tuple[type[models.Model], tuple[tuple[str, Any], ...]]


class WriteBehind:
    """The buffer of one process and the thread that empties it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[models.Model] = []
        self._latest: dict[LatestKey, datetime] = {}
        self._counts: dict[CountKey, dict[str, int]] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    @staticmethod
    def interval() -> float:
        return int(settings.STUDIO_WRITE_BEHIND_MS) / 1000

    def add_row(self, row: models.Model) -> None:
        with self._lock:
            self._rows.append(row)
            if len(self._rows) > MAX_BUFFERED:
                del self._rows[: len(self._rows) - MAX_BUFFERED]
        self._ensure_thread()

    def add_latest(self, key: LatestKey, at: datetime) -> None:
        with self._lock:
            known = self._latest.get(key)
            if known is None or at > known:
                self._latest[key] = at
        self._ensure_thread()

    def add_counts(self, key: CountKey, counts: dict[str, int]) -> None:
        with self._lock:
            known = self._counts.setdefault(key, {})
            for name, value in counts.items():
                known[name] = known.get(name, 0) + value
        self._ensure_thread()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._rows) + len(self._latest) + len(self._counts)

    def flush(self) -> int:
        """Write what is buffered, in one transaction; returns how many writes.
        On a database error the buffer is kept for the next flush."""
        with self._lock:
            rows, self._rows = self._rows, []
            latest, self._latest = self._latest, {}
            counts, self._counts = self._counts, {}
        if not rows and not latest and not counts:
            return 0
        by_model: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        for row in rows:
            by_model[type(row)].append(row)
        try:
            with transaction.atomic():
                for model, batch in by_model.items():
                    model._default_manager.bulk_create(batch)
                for (model, pk, name), at in latest.items():
                    _latest_write(model, pk, name, at)
                for (model, lookup), increments in counts.items():
                    _counts_write(model, dict(lookup), increments)
        except DatabaseError as exc:
            logger.warning("Deferred writes failed (%s); retrying later.", exc)
            with self._lock:
                self._rows[:0] = rows
                del self._rows[: max(0, len(self._rows) - MAX_BUFFERED)]
                for key, at in latest.items():
                    self._latest[key] = max(at, self._latest.get(key, at))
                for ckey, increments in counts.items():
                    known = self._counts.setdefault(ckey, {})
                    for name, value in increments.items():
                        known[name] = known.get(name, 0) + value
            return 0
        return len(rows) + len(latest) + len(counts)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._run, name="studio-write-behind", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        try:
            while (interval := self.interval()) > 0:
                self._wake.wait(interval)
                self._wake.clear()
                self.flush()
            self.flush()  # deferring was switched off: write what is left, stop
        finally:
            connection.close()


def _latest_write(model: type[models.Model], pk: Any, name: str, at: datetime) -> None:
    older = Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__lt": at})
    model._default_manager.filter(pk=pk).filter(older).update(**{name: at})


def _counts_write(
    model: type[models.Model], lookup: dict[str, Any], increments: dict[str, int]
) -> None:
    """Add ``increments`` to the row ``lookup`` names, creating it at first. Two
    processes creating the same row at once: one insert fails on the unique
    constraint, its flush is retried and then finds the row."""
    manager = model._default_manager
    updated = manager.filter(**lookup).update(
        **{name: F(name) + value for name, value in increments.items()}
    )
    if not updated:
        with transaction.atomic():
            manager.create(**lookup, **increments)


_buffer = WriteBehind()


def _flush_at_exit() -> None:
    try:
        _buffer.flush()
    except Exception:  # noqa: BLE001 - the process is exiting; say so and go
        logger.exception("Deferred writes lost at exit.")


atexit.register(_flush_at_exit)


def deferred() -> bool:
    return WriteBehind.interval() > 0


def row_create_defer(row: models.Model) -> None:
    """Insert ``row`` (unsaved) soon, or now when deferring is off."""
    if not deferred():
        with transaction.atomic():
            row.save(force_insert=True)
        return
    _buffer.add_row(row)


def latest_time_defer(
    *, model: type[models.Model], pk: Any, field: str, at: datetime
) -> None:
    """Move ``field`` of the ``model`` row ``pk`` to ``at`` soon (never
    backwards), or now when deferring is off."""
    if not deferred():
        _latest_write(model, pk, field, at)
        return
    _buffer.add_latest((model, pk, field), at)


def counts_add_defer(
    *, model: type[models.Model], lookup: dict[str, Any], counts: dict[str, int]
) -> None:
    """Add ``counts`` to the integer fields of the ``model`` row that ``lookup``
    identifies (created with them when missing) soon, or now when deferring is
    off. Counts of the same row add up in the buffer: one write per row and flush."""
    if not deferred():
        with transaction.atomic():
            _counts_write(model, lookup, counts)
        return
    _buffer.add_counts((model, tuple(sorted(lookup.items()))), counts)


def write_behind_flush() -> int:
    """Write the buffer now (tests, and anything that must see the rows)."""
    return _buffer.flush()
