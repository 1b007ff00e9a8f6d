"""Fits in a child process (``training.engine.child``)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest

from training.engine.child import ChildFit, ChildProcessDied
from training.engine.entities import (
    EntityDefinition,
    EntityDefinitionError,
    EntityExtractor,
    RegexExpression,
)
from training.engine.types import Span

TEXTS = [f"send it to {name} today" for name in ("Blake", "Dana", "Sam", "Kim")] * 5
SPANS = [[Span("Contact", 11, len(text) - 17)] for text in TEXTS]


def _sleep_forever(*, progress: Callable[[float], None]) -> None:
    progress(0.5)
    while True:
        time.sleep(0.05)


def _exit_abruptly(*, progress: Callable[[float], None]) -> None:
    os._exit(3)


def _busy_native_loop(rounds: int, *, progress: Callable[[float], None]) -> int:
    """Holds the GIL in long stretches, as the CRF's native loop does."""
    total = 0
    for k in range(rounds):
        total += sum(range(200_000))
        progress(k / rounds)
    return total


def test_an_entity_fit_in_a_child_returns_the_fitted_extractor_and_its_progress() -> (
    None
):
    seen: list[float] = []
    with ChildFit(EntityExtractor.fit, [], TEXTS, SPANS, language="en") as fit:
        extractor = fit.wait(seen.append, interval=0.05)
    assert isinstance(extractor, EntityExtractor)
    assert [m.text for m in extractor.predict("send it to Dana today")] == ["Dana"]
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_the_childs_definition_error_comes_back_with_its_problems() -> None:
    bad = EntityDefinition("Ticket", regex=(RegexExpression("broken", "(["),))
    with (
        ChildFit(EntityExtractor.fit, [bad], TEXTS, SPANS) as fit,
        pytest.raises(EntityDefinitionError) as raised,
    ):
        fit.wait()
    assert raised.value.problems
    assert "broken" in str(raised.value) or "Ticket" in str(raised.value)


def test_stop_terminates_a_child_that_is_still_running() -> None:
    fit = ChildFit(_sleep_forever)
    fit.start()
    deadline = time.monotonic() + 30
    while fit.fraction < 0.5 and time.monotonic() < deadline:
        fit.poll(0.1)
    assert fit.alive
    began = time.monotonic()
    fit.stop()
    assert not fit.alive
    assert time.monotonic() - began < 10


def test_whatever_the_progress_callback_raises_stops_the_wait() -> None:
    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        if fraction >= 0.5:
            raise Cancelled

    with ChildFit(_sleep_forever) as fit, pytest.raises(Cancelled):
        fit.wait(cancel, interval=0.05)
    assert not fit.alive


def test_a_child_that_dies_without_a_result_is_an_error_not_a_hang() -> None:
    with ChildFit(_exit_abruptly) as fit, pytest.raises(ChildProcessDied, match="3"):
        fit.wait(interval=0.05)


def test_the_parents_threads_keep_running_while_the_child_holds_its_gil() -> None:
    """The reason for a child: a heartbeat thread in the worker must keep beating
    while the fit runs native code."""
    ticks: list[float] = []
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(0.01):
            ticks.append(time.monotonic())

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        with ChildFit(_busy_native_loop, 40) as fit:
            started = time.monotonic()
            result = fit.wait(interval=0.05)
            ended = time.monotonic()
    finally:
        stop.set()
        thread.join()
    assert result == 40 * sum(range(200_000))
    during = [t for t in ticks if started <= t <= ended]
    assert len(during) >= 2
