"""Shadow deployments in the web process: the shadow model predicts the query the
live model answered, after the answer, and its disagreements are recorded.

The request only builds an item and ``put_nowait``s it on a bounded queue
(``STUDIO_SHADOW_QUEUE_SIZE`` items per process): a few microseconds, no lock
waited for, no database. One daemon thread per process takes the items and, once
the process has served no request for a few milliseconds (Django's
``request_started`` / ``request_finished``: after the last response was sent),
scores the query's intents with the shadow model (loaded by the registry's cache
like a deployed one), compares its top intent with the live one and hands the outcome to
``studio.writebehind``: the hour's ``ShadowTally`` counts and, for a query the
caller asked to log (``isLoggingEnabled``), its ``PredictionLog`` row completed
with the shadow's answer (so a disagreement lands in the review queue). When the
queue is full, or an item found no idle moment within ``MAX_WAIT_SECONDS``, the
item is dropped and counted (``ShadowTally.dropped``; the logged row is still
stored, without a shadow answer): a shadow never makes a bot wait. Waiting for
idle time matters: Python threads share one interpreter lock, and a shadow that
predicted while the next request ran slowed that request about as much as the
prediction costs. ``bench.orchestration`` (requests back to back) measured the
p50 with a shadow at x4.5 of without when the shadow did not wait (small
project), x2.6 at 150 intents when it waited only for no request in flight (back-
to-back requests leave microsecond gaps), x0.94 with the 5 ms of quiet. A request
that arrives while a shadow prediction runs still shares the interpreter with it
for that prediction's few milliseconds.

Only intents are compared: entities are not extracted, and an orchestration's
shadow scores the routing only (no target is called twice, an external one least
of all). A disagreement is another top intent (thresholds applied as for the live
answer), or the same intent with confidences ``STUDIO_SHADOW_CONFIDENCE_GAP`` or
more apart (the models learned different boundaries there: worth a label too).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from runtime.logs import prediction_log_row, prediction_log_store
from runtime.predict import NONE_INTENT, intent_scores
from runtime.registry import DeployedModel, runtime
from studio.writebehind import counts_add_defer
from training.engine.bundles import ConversationBundle, OrchestrationBundle
from training.engine.intents import apply_threshold
from training.models import PredictionLog, ShadowTally

logger = logging.getLogger(__name__)

# At most one warning about dropped items per this many seconds and process.
DROP_WARNING_SECONDS = 60.0
# An item queued this long ago that still finds the process busy is dropped (its
# logged row, stored without a shadow answer, should not wait any longer either).
MAX_WAIT_SECONDS = 5.0
IDLE_POLL_SECONDS = 0.05
# Idle means no request for this long: requests that follow each other closely (a
# busy process) leave gaps of microseconds, too short for a prediction.
QUIET_SECONDS = 0.005


class _Activity:
    """Which threads of this process are serving a request now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[int] = set()
        self.idle = threading.Event()
        self.idle.set()
        self.generation = 0  # requests started so far

    def started(self, **_: Any) -> None:
        with self._lock:
            self._busy.add(threading.get_ident())
            self.generation += 1
            self.idle.clear()

    def finished(self, **_: Any) -> None:
        with self._lock:
            self._busy.discard(threading.get_ident())
            if not self._busy:
                self.idle.set()


activity = _Activity()
request_started.connect(activity.started, dispatch_uid="studio-shadow-started")
request_finished.connect(activity.finished, dispatch_uid="studio-shadow-finished")


@dataclass(frozen=True, slots=True)
class ShadowItem:
    """One answered query for the shadow of ``model`` to predict."""

    model: DeployedModel
    text: str
    live_intent: str
    live_confidence: float
    at: datetime
    log: PredictionLog | None = None
    queued: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    top_intent: str
    confidence: float
    agreed: bool
    confidence_gap: bool

    @property
    def disagrees(self) -> bool:
        return not self.agreed or self.confidence_gap


def shadow_compare(
    item: ShadowItem,
    scores: list[tuple[str, float]],
    *,
    gap: float,
    per_intent: Mapping[str, float] | None = None,
) -> ShadowOutcome:
    """The shadow's answer against the live one (pure); ``per_intent``: the shadow
    model's own intent thresholds when the project has that option on."""
    top = apply_threshold(
        scores, item.model.confidence_threshold, NONE_INTENT, per_intent=per_intent
    )
    confidence = scores[0][1] if scores else 0.0
    agreed = top == item.live_intent
    confidence_gap = (
        agreed and top != NONE_INTENT and abs(confidence - item.live_confidence) >= gap
    )
    return ShadowOutcome(
        top_intent=top,
        confidence=confidence,
        agreed=agreed,
        confidence_gap=confidence_gap,
    )


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _tally(item: ShadowItem, **counts: int) -> None:
    shadow = item.model.shadow
    assert shadow is not None  # noqa: S101 - only shadowed items are queued
    counts_add_defer(
        model=ShadowTally,
        lookup={
            "project_id": item.model.project_id,
            "deployment_name": item.model.deployment_name,
            "live_model_id": item.model.model_id,
            "shadow_model_id": shadow.model_id,
            "hour": _hour(item.at),
        },
        counts=counts,
    )


class ShadowQueue:
    """The bounded queue of one process and the thread that empties it.

    ``background=False`` (the test settings) starts no thread: items wait until
    ``drain()`` processes them in the caller's thread.
    """

    def __init__(self, *, size: int, background: bool = True) -> None:
        self.size = max(1, size)
        self.background = background
        self._queue: queue.Queue[ShadowItem] = queue.Queue(maxsize=self.size)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_drop_warning = 0.0
        self.dropped = 0
        self.processed = 0
        self.failed = 0

    def submit(self, item: ShadowItem) -> bool:
        """Queue ``item`` without waiting; False (and counted) when full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._drop(item)
            return False
        if self.background:
            self._ensure_thread()
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def drain(self) -> int:
        """Process every queued item in this thread; returns how many."""
        done = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return done
            try:
                self._process(item)
            finally:
                self._queue.task_done()
            done += 1

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until the thread processed everything queued (tests, benches)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def store_pending_logs(self) -> int:
        """Store the logged rows of queued items without a shadow answer (the
        process is exiting: the row is the caller's, the comparison a sample)."""
        stored = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return stored
            if item.log is not None:
                prediction_log_store(item.log)
                stored += 1
            self._queue.task_done()

    def _drop(self, item: ShadowItem) -> None:
        with self._lock:
            self.dropped += 1
            now = time.monotonic()
            warn = now - self._last_drop_warning >= DROP_WARNING_SECONDS
            if warn:
                self._last_drop_warning = now
        if warn:
            logger.warning(
                "Shadow queue full (%d items): shadow predictions are dropped "
                "(%d so far in this process); live answers are not affected.",
                self.size,
                self.dropped,
            )
        if item.log is not None:
            prediction_log_store(item.log)
        with contextlib.suppress(DatabaseError):
            _tally(item, dropped=1)

    def _process(self, item: ShadowItem) -> None:
        shadow = item.model.shadow
        assert shadow is not None  # noqa: S101 - only shadowed items are queued
        try:
            bundle = runtime().models.get(shadow)
            if not isinstance(bundle, ConversationBundle | OrchestrationBundle):
                raise TypeError(f"{type(bundle).__name__} has no intents")
            scores = intent_scores(bundle, item.text)
            thresholds = (
                bundle.intents.intent_thresholds(item.model.confidence_threshold)
                if item.model.per_intent_thresholds and bundle.intents is not None
                else None
            )
        # The shadow must never take the process down: a broken artifact, or a
        # model that raises on some input, is counted and logged, the live answer
        # was given long ago.
        except Exception:  # noqa: BLE001
            logger.exception(
                "Shadow model %s of %s/%s failed",
                shadow.model_id,
                item.model.project_name,
                item.model.deployment_name,
            )
            self.failed += 1
            self._store(item, None)
            return
        outcome = shadow_compare(
            item,
            scores,
            gap=float(settings.STUDIO_SHADOW_CONFIDENCE_GAP),
            per_intent=thresholds,
        )
        self.processed += 1
        self._store(item, outcome)

    def _store(self, item: ShadowItem, outcome: ShadowOutcome | None) -> None:
        shadow = item.model.shadow
        assert shadow is not None  # noqa: S101
        log = item.log
        if log is not None and outcome is not None:
            log.shadow_model_id = shadow.model_id
            log.shadow_top_intent = outcome.top_intent
            log.shadow_confidence = outcome.confidence
            log.shadow_disagrees = outcome.disagrees
        try:
            if log is not None:
                prediction_log_store(log)
            if outcome is None:
                _tally(item, failed=1)
            else:
                _tally(
                    item,
                    compared=1,
                    agreed=int(outcome.agreed),
                    confidence_gaps=int(outcome.confidence_gap),
                )
        except DatabaseError:
            # Only with write-behind off (the thread writes itself): lose the
            # counts, keep the thread.
            logger.exception("Could not store a shadow comparison")

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._run, name="studio-shadow", daemon=True
            )
            self._thread.start()

    def _wait_idle(self, item: ShadowItem) -> bool:
        """Wait until no request is being served; False when the item has waited
        too long since it was queued."""
        deadline = item.queued + MAX_WAIT_SECONDS
        while True:
            if activity.idle.wait(IDLE_POLL_SECONDS):
                generation = activity.generation
                time.sleep(QUIET_SECONDS)
                if activity.idle.is_set() and activity.generation == generation:
                    return True
            if time.monotonic() >= deadline:
                return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if self._wait_idle(item):
                    self._process(item)
                else:
                    self._drop(item)
            except Exception:  # noqa: BLE001 - keep the thread alive
                logger.exception("Shadow item failed")
            finally:
                self._queue.task_done()
                if self._queue.empty():
                    # A connection of this thread (write-behind off) is not kept
                    # open past its usefulness.
                    close_old_connections()


_queue: ShadowQueue | None = None
_queue_lock = threading.Lock()


def shadow_queue() -> ShadowQueue:
    global _queue
    current = _queue
    if current is None:
        with _queue_lock:
            if _queue is None:
                _queue = ShadowQueue(
                    size=int(settings.STUDIO_SHADOW_QUEUE_SIZE),
                    background=bool(settings.STUDIO_SHADOW_THREAD),
                )
            current = _queue
    return current


def shadow_reset() -> None:
    """A new queue from the settings (tests)."""
    global _queue
    with _queue_lock:
        _queue = None


def shadow_drain() -> int:
    """Process what is queued now, in this thread (tests)."""
    return shadow_queue().drain()


def _store_at_exit() -> None:
    current = _queue
    if current is not None:
        try:
            current.store_pending_logs()
        except Exception:  # noqa: BLE001 - the process is exiting
            logger.exception("Logged queries waiting for their shadow were lost.")


# Registered after studio.writebehind's flush (imported above), so it runs first:
# the rows it stores are then flushed by it.
atexit.register(_store_at_exit)


def prediction_answered(
    *,
    model: DeployedModel,
    text: str,
    language: str | None,
    top_intent: str,
    confidence: float,
    prediction: dict[str, Any],
    api_key_prefix: str,
    logged: bool,
) -> None:
    """After a deployment answered: store the logged query and let the shadow, if
    the deployment has one, predict the same query in the background."""
    log = None
    if logged:
        log = prediction_log_row(
            model=model,
            text=text,
            language=language,
            top_intent=top_intent,
            confidence=confidence,
            prediction=prediction,
            api_key_prefix=api_key_prefix,
        )
    if model.shadow is None:
        if log is not None:
            prediction_log_store(log)
        return
    shadow_queue().submit(
        ShadowItem(
            model=model,
            text=text,
            live_intent=top_intent,
            live_confidence=confidence,
            at=timezone.now(),
            log=log,
        )
    )
