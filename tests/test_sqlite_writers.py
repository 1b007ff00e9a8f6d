"""SQLite's write lock handed to people before bulk work (``studio/sqlite_writers.py``)
and the lock wait a response reports (``ServerTimingMiddleware``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse

from studio import sqlite_writers as sw
from studio.middleware import ServerTimingMiddleware

pytestmark = pytest.mark.skipif(sw.fcntl is None, reason="no flock on this platform")


def announcing(path: Path, sql: str, *, in_transaction: bool = False) -> bool:
    """Whether running ``sql`` through the wrapper says a writer waits."""
    seen: list[bool] = []
    fake = SimpleNamespace(in_atomic_block=in_transaction)
    sw._Announce(path)(
        lambda *args: seen.append(sw.writers_waiting(path)),
        sql,
        None,
        False,
        {"connection": fake},
    )
    return seen[0]


def test_writers_say_they_wait_while_they_take_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3-writers"
    assert announcing(path, "BEGIN IMMEDIATE")
    assert announcing(path, 'UPDATE "studio_job" SET x = 1')  # autocommit: a lock
    assert not announcing(path, 'SELECT 1 FROM "studio_job"')
    # Inside a transaction the lock is already held by this writer.
    assert not announcing(path, 'INSERT INTO "t" VALUES (1)', in_transaction=True)
    assert not sw.writers_waiting(path)  # nothing left behind


def test_bulk_work_steps_aside_while_a_writer_waits(tmp_path: Path) -> None:
    """A writer sleeping in SQLite's busy handler (up to 100 ms between tries)
    missed the upload's pauses; now the upload waits until it has the lock."""
    path = tmp_path / "db.sqlite3-writers"
    assert sw.handoff_wait(path) < 0.05  # nobody waits: at once
    holding = threading.Event()

    def writer() -> None:
        with sw.writer_waiting(path):
            holding.set()
            time.sleep(0.3)

    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait()
    waited = sw.handoff_wait(path)
    thread.join()
    assert 0.2 <= waited < sw.YIELD_MAX_SECONDS


def test_a_stream_of_writers_cannot_stop_bulk_work_for_good(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3-writers"
    clock = iter(float(t) for t in range(100))
    with sw.writer_waiting(path):
        waited = sw.handoff_wait(path, sleep=lambda s: None, clock=lambda: next(clock))
    assert waited == pytest.approx(sw.YIELD_MAX_SECONDS, abs=1)


def test_threads_of_one_process_wait_independently(tmp_path: Path) -> None:
    """One thread done waiting must not end another thread's claim (a shared file
    description would: its unlock is everyone's)."""
    path = tmp_path / "db.sqlite3-writers"
    with sw.writer_waiting(path):
        with sw.writer_waiting(path):
            pass
        assert sw.writers_waiting(path)
    assert not sw.writers_waiting(path)


def test_a_file_database_gets_the_hand_off(tmp_path: Path) -> None:
    file_db: Any = SimpleNamespace(
        vendor="sqlite",
        is_in_memory_db=lambda: False,
        settings_dict={"NAME": str(tmp_path / "studio.sqlite3")},
        execute_wrappers=[],
    )
    assert sw.signal_path(file_db) == tmp_path / "studio.sqlite3-writers"
    sw.install(None, file_db)
    sw.install(None, file_db)  # a reconnect: still one wrapper
    assert len(file_db.execute_wrappers) == 1


def test_the_hand_off_ends_a_real_writers_wait_early(tmp_path: Path) -> None:
    """Two SQLite connections as the studio opens them (WAL, busy timeout): a bulk
    writer alternating 80 ms transactions with 20 ms pauses - in step with the
    100 ms a long-waiting writer's busy handler sleeps between tries - and a writer
    that arrives during a transaction. With the hand-off the writer gets the lock at
    the end of that transaction; without it, it slept through pause after pause."""
    db = tmp_path / "studio.sqlite3"
    path = Path(f"{db}-writers")
    setup = sqlite3.connect(db, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (v INTEGER)")
    setup.close()
    waits: list[float] = []
    stop = threading.Event()

    def bulk() -> None:
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        while not stop.is_set():
            sw.handoff_wait(path)
            conn.execute("BEGIN IMMEDIATE")
            time.sleep(0.08)
            conn.execute("INSERT INTO t VALUES (0)")
            conn.execute("COMMIT")
            time.sleep(0.02)
        conn.close()

    thread = threading.Thread(target=bulk)
    thread.start()
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    for i in range(16):
        time.sleep(0.05 + 0.013 * i)
        start = time.monotonic()
        with sw.writer_waiting(path):
            conn.execute("BEGIN IMMEDIATE")
        waits.append(time.monotonic() - start)
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("COMMIT")
    stop.set()
    thread.join()
    conn.close()
    # One bulk transaction (80 ms) plus one busy-handler sleep (<= 25 ms by then),
    # with room for a loaded machine; never a run of transactions.
    assert max(waits) < 0.3, sorted(waits)[-3:]


def test_a_response_says_how_long_its_writes_waited_for_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3-writers"
    fake = SimpleNamespace(in_atomic_block=False)

    def view(request: HttpRequest) -> HttpResponse:
        sw._Announce(path)(
            lambda *args: time.sleep(0.02),
            "BEGIN IMMEDIATE",
            None,
            False,
            {"connection": fake},
        )
        return HttpResponse("ok")

    sw.lock_wait_take()
    response = ServerTimingMiddleware(view)(HttpRequest())
    timing: Any = response.headers["Server-Timing"]
    assert timing.startswith("db-lock;dur=")
    assert 20 <= float(timing.split("dur=")[1].split(";")[0]) < 1000
    assert '"1 write transaction"' in timing
    # A request that wrote nothing says nothing.
    quiet = ServerTimingMiddleware(lambda r: HttpResponse("ok"))(HttpRequest())
    assert "Server-Timing" not in quiet.headers
