"""SQLite's write lock, handed to people before bulk work (the embedded default).

SQLite lets one writer at a time into the whole database, and a writer that finds
the lock taken does not queue: its busy handler sleeps and tries again, sleeping
longer the longer it has waited (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then
100 ms between tries). A bulk job that writes in short transactions with short
pauses between them (an upload: ``projects.services.uploads``) can therefore take
the lock again and again while a labeling save sleeps through every pause: the
saves waited up to a third of a second behind a 50,000-row upload.

So the writers say that they wait, through a lock file beside the database that
every process of the studio shares (the web server, the workers, the commands):

* every write transaction (its ``BEGIN``, or a write statement outside a
  transaction, which takes the lock by itself) holds a *shared* ``flock`` on the
  file while it waits for SQLite's lock (``writer_waiting``, installed on every
  SQLite connection by ``install`` from ``StudioConfig.ready``);
* bulk work asks ``writers_wait`` before each of its transactions: it tries an
  *exclusive* ``flock`` without blocking, and while that fails (someone waits for
  the database) it steps aside, polling every ``POLL_SECONDS``, at most
  ``YIELD_MAX_SECONDS`` (so a stream of writers cannot stop it for good).
  ``STUDIO_SQLITE_HANDOFF=0`` turns this side off (to measure what it buys).

A waiting writer thus waits at most for the one bulk transaction under way (about
``UPLOAD_TRANSACTION_SECONDS``) plus one sleep of its busy handler, never for a run
of them. The kernel drops a dead process's ``flock``, so a crash leaves no stale
signal. PostgreSQL queues its waiters itself; an in-memory database (tests) or a
platform without ``fcntl`` gets none of this.

The time each request's writers waited is kept per thread (``lock_wait_take``);
``studio.middleware.ServerTimingMiddleware`` reports it in the ``Server-Timing``
header (``db-lock``), which the browser's developer tools and the contention
benchmark read.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no hand-off, the busy handler only
    fcntl = None  # type: ignore[assignment]

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

# How often bulk work looks again while someone waits, and for how long at most.
POLL_SECONDS = 0.002
YIELD_MAX_SECONDS = 2.0
# Statements that take SQLite's write lock when run outside a transaction.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

_waited = threading.local()


def signal_path(connection: BaseDatabaseWrapper) -> Path | None:
    """The lock file of ``connection``'s database, or None when it has none (not
    SQLite, in memory, no ``fcntl``)."""
    if fcntl is None or connection.vendor != "sqlite":
        return None
    if connection.is_in_memory_db():  # type: ignore[attr-defined]
        return None
    return Path(f"{connection.settings_dict['NAME']}-writers")


@contextlib.contextmanager
def writer_waiting(path: Path) -> Iterator[None]:
    """Say "a writer waits for the database" while the block runs (a shared
    ``flock`` on ``path``; one file description per call, as threads of a process
    must not share one: unlocking it would end every thread's claim)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)  # drops the lock


def writers_waiting(path: Path) -> bool:
    """Whether any writer waits for the database now."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
    finally:
        os.close(descriptor)


def writers_wait(connection: BaseDatabaseWrapper) -> float:
    """Bulk work's turn on ``connection``'s database: wait while other writers wait
    (``handoff_wait``). Returns the seconds it stepped aside."""
    path = signal_path(connection)
    if path is None or not settings.STUDIO_SQLITE_HANDOFF:
        return 0.0
    return handoff_wait(path)


def handoff_wait(
    path: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Wait while writers wait (``writers_waiting``), at most
    ``YIELD_MAX_SECONDS``; the seconds waited."""
    start = clock()
    while writers_waiting(path) and clock() - start < YIELD_MAX_SECONDS:
        sleep(POLL_SECONDS)
    return clock() - start


def _takes_write_lock(connection: BaseDatabaseWrapper, sql: str) -> bool:
    head = sql.lstrip()[:8].upper()
    if head.startswith("BEGIN"):
        return True
    return not connection.in_atomic_block and head.startswith(_WRITES)


def lock_wait_take() -> tuple[int, float]:
    """The transactions this thread began since the last call, and the seconds
    their ``BEGIN`` took (with ``IMMEDIATE``: the wait for the write lock); resets
    both."""
    taken = (getattr(_waited, "count", 0), getattr(_waited, "seconds", 0.0))
    _waited.count, _waited.seconds = 0, 0.0
    return taken


class _Announce:
    """The execute wrapper of one SQLite database (``install``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        connection = context["connection"]
        if not _takes_write_lock(connection, sql):
            return execute(sql, params, many, context)
        if not sql.lstrip()[:5].upper().startswith("BEGIN"):
            with writer_waiting(self.path):
                return execute(sql, params, many, context)
        # A BEGIN (IMMEDIATE) does nothing but wait for the lock and take it.
        start = time.monotonic()
        try:
            with writer_waiting(self.path):
                return execute(sql, params, many, context)
        finally:
            _waited.count = getattr(_waited, "count", 0) + 1
            _waited.seconds = getattr(_waited, "seconds", 0.0) + (
                time.monotonic() - start
            )


def install(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: make ``connection``'s writers say they wait (once per
    connection object; reconnecting sends the signal again)."""
    path = signal_path(connection)
    if path is None:
        return
    if any(isinstance(w, _Announce) for w in connection.execute_wrappers):
        return
    connection.execute_wrappers.append(_Announce(path))
