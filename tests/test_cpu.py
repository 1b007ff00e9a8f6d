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


def test_a_worker_lowers_its_priority_before_forking_its_pool(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from studio import worker

    settings.STUDIO_WORKER_NICE = 7
    asked: list[int] = []

    def nice(increment: int) -> int:
        asked.append(increment)
        return increment

    monkeypatch.setattr(os, "nice", nice)
    # It also sets the batch-encoding threads of this process: restored after the
    # test, or later tests see a worker's thread count in a "web" process.
    from training.engine import embeddings

    monkeypatch.setattr(embeddings, "_encode_threads", embeddings.encode_threads())

    worker._lower_priority()

    assert asked == [7]
    with pytest.raises(ValueError, match="negative"):
        cpu.worker_nice(-1)


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
