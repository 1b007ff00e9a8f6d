"""How the studio's processes share the cores (``studio/cpu.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from studio import cpu
from tests.conftest import REPO_ROOT


def test_native_thread_pools_default_to_one_thread_and_respect_what_is_set() -> None:
    env = {"OPENBLAS_NUM_THREADS": "3"}

    assert cpu.native_threads_limit(env) == "1"

    assert env["OMP_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    assert env["OPENBLAS_NUM_THREADS"] == "3"  # set by the operator: kept


def test_studio_native_threads_sets_them_all_and_nonsense_is_refused() -> None:
    env = {cpu.NATIVE_THREADS_ENV: "2"}
    cpu.native_threads_limit(env)
    assert {env[name] for name in cpu.NATIVE_THREAD_VARIABLES} == {"2"}
    with pytest.raises(ValueError, match="whole number"):
        cpu.native_threads_limit({cpu.NATIVE_THREADS_ENV: "many"})


def test_every_studio_process_pins_the_pools_before_numpy_loads() -> None:
    """The embedding engine's OpenMP took both cores in the worker (and spun on
    them between batches) while the web server's predictions waited."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.pop(cpu.NATIVE_THREADS_ENV, None)
    probe = (
        "import studio, os, numpy;"
        "print(os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'])"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["1", "1"]


def test_task_processes_lower_their_priority_after_starting_their_writer_thread(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A prefork worker's main process keeps its priority (its children could
    never raise theirs back); each task process starts its normal-priority thread,
    then lowers its own; a worker that runs tasks itself (solo) lowers its own."""
    from studio import worker

    settings.STUDIO_WORKER_NICE = 7
    calls: list[str] = []

    def nice(increment: int) -> int:
        calls.append(f"nice {increment}")
        return increment

    monkeypatch.setattr(os, "nice", nice)
    monkeypatch.setattr(cpu, "normal_priority_start", lambda: calls.append("start"))
    # It also sets the batch-encoding threads of this process: restored after the
    # test, or later tests see a worker's thread count in a "web" process.
    from training.engine import embeddings

    monkeypatch.setattr(embeddings, "_encode_threads", embeddings.encode_threads())

    worker._lower_priority(options={"pool_cls": "prefork"})
    assert calls == []
    worker._task_process_priority()
    assert calls == ["start", "nice 7"]
    calls.clear()
    worker._lower_priority(options={"pool_cls": "solo"})
    assert calls == ["nice 7"]
    with pytest.raises(ValueError, match="negative"):
        cpu.worker_nice(-1)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="niceness is per thread on Linux"
)
def test_a_niced_process_still_writes_at_normal_priority() -> None:
    """A niced job holding SQLite's lock on a busy machine waited for the CPU while
    every other writer waited for it (labeling saves up to a second behind a 50 ms
    upload transaction): its writes run on a thread started before the nice."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings_test"}
    probe = (
        "import os, threading, django; django.setup()\n"
        "from studio import cpu\n"
        "here = lambda: (threading.get_native_id(), os.nice(0))\n"
        "print(cpu.at_normal_priority(here)[1])\n"  # no thread yet: runs here
        "cpu.normal_priority_start(); os.nice(5)\n"
        "tid, nice = cpu.at_normal_priority(here)\n"
        "print(nice, tid != threading.get_native_id(), os.nice(0))\n"
        "try:\n"
        "    cpu.at_normal_priority(int, 'x')\n"
        "except ValueError:\n"
        "    print('raised')\n"
        # A forked child (a training's) has no such thread: it runs the call itself.
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    mine = cpu.at_normal_priority(here)[0] == threading.get_native_id()\n"
        "    os._exit(0 if mine else 3)\n"
        "print('child', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split("\n")
    base = int(out[0])
    assert out[1] == f"{base} True {base + 5}"
    assert out[2] == "raised"
    assert out[3] == "child 0"


def test_the_web_server_hands_the_interpreter_between_threads_quickly() -> None:
    """One request checking a 50,000-line upload in Python made every other thread
    of its process wait up to 5 ms for the GIL after each socket read or query."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings_test"}
    probe = "import sys, studio.wsgi; print(sys.getswitchinterval())"
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert float(out[-1]) == pytest.approx(cpu.WEB_SWITCH_INTERVAL_SECONDS)
    assert cpu.WEB_SWITCH_INTERVAL_SECONDS <= 0.001


def test_the_writer_thread_health_checks_its_connection_before_each_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: the normal-priority thread kept one database connection for the
    task process's life; after PostgreSQL dropped it (tests/compat/test_faults.py
    terminates every backend) the next job's first write failed ("terminating
    connection due to administrator command"). Each call now starts like a task or a
    request: close_old_connections, then Django's health check reopens it."""
    import threading

    import django.db

    from studio import cpu

    seen: list[str] = []
    monkeypatch.setattr(
        django.db,
        "close_old_connections",
        lambda **kwargs: seen.append(threading.current_thread().name),
    )
    monkeypatch.setattr(cpu, "_normal_priority", None)
    monkeypatch.setattr(cpu, "_normal_priority_thread", None)
    cpu.normal_priority_start()
    executor = cpu._normal_priority
    try:
        assert cpu.at_normal_priority(lambda: 42) == 42
    finally:
        assert executor is not None
        executor.shutdown()
        cpu._normal_priority_forget()

    assert len(seen) == 1 and seen[0].startswith("normal-priority"), seen
