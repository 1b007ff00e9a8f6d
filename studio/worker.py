"""What every Celery worker does besides running tasks: prove it is alive, and fail the
jobs of workers that died.

A background thread in the worker's main process (started on ``worker_ready``)
writes the worker's ``WorkerHeartbeat`` row every ``STUDIO_WORKER_HEARTBEAT_SECONDS``
and, every ``STUDIO_JOB_SWEEP_SECONDS``, fails running jobs whose own heartbeat is older
than ``STUDIO_JOB_STALE_SECONDS`` (``jobs.services.jobs_fail_stale``), sends again
the queued jobs whose message was lost (``jobs_redispatch_lost``: they waited
``STUDIO_JOB_REDISPATCH_SECONDS`` on an idle queue), undoes
what failed Data-page uploads had added (``uploads_undo_stopped``) and deletes
expired jobs with their files (``jobs_purge_expired``), logged predictions past
their retention (``prediction_logs_purge``), replaced-project snapshots past
theirs (``replaced_projects_purge``) and audit events past theirs
(``audit_events_purge``), and refills the review keys of open logs of an older
recipe (``review_keys_refill_all``). On a warm
shutdown the row is removed, so ``/healthz`` stops counting the worker at once; a
killed worker's row just goes stale. Nothing here uses Celery's remote control or
beat, so it works the same on the filesystem transport and on Redis. Django models are
imported inside the functions because this module is imported with the Celery app,
before Django is set up.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from celery.signals import (
    celeryd_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)

logger = logging.getLogger(__name__)


def heartbeat_write(
    *,
    hostname: str,
    pid: int,
    started_at: datetime,
    now: datetime | None = None,
    queues: str = "",
) -> None:
    from django.utils import timezone

    from studio.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "pid": pid,
            "started_at": started_at,
            "last_seen_at": now or timezone.now(),
            "queues": queues,
        },
    )


def heartbeat_remove(*, hostname: str, pid: int) -> None:
    from studio.models import WorkerHeartbeat

    # A new worker with the same name may already have taken the row over.
    WorkerHeartbeat.objects.filter(hostname=hostname, pid=pid).delete()


def heartbeat_forget(*, pid: int) -> int:
    """Delete the heartbeat row of a worker process known to be dead (its
    supervisor saw it exit), so that ``/healthz`` says ``degraded`` at once instead
    of after ``STUDIO_WORKER_STALE_SECONDS``, when a fast restart may already have
    hidden the outage. Returns the number of rows removed."""
    from studio.models import WorkerHeartbeat

    deleted, _ = WorkerHeartbeat.objects.filter(pid=pid).delete()
    return deleted


def heartbeat_is_fresh(*, hostname: str) -> bool:
    """Whether the named worker beat within ``STUDIO_WORKER_STALE_SECONDS`` (the
    container health check of a worker)."""
    from django.conf import settings
    from django.utils import timezone

    from studio.models import WorkerHeartbeat

    cutoff = timezone.now() - timedelta(seconds=settings.STUDIO_WORKER_STALE_SECONDS)
    return WorkerHeartbeat.objects.filter(
        hostname=hostname, last_seen_at__gte=cutoff
    ).exists()


# Rows of workers gone for this long are deleted: killed workers (or containers with
# random host names) would otherwise pile up. Long enough to still show the last
# heartbeat of a recently dead worker in /healthz.
HEARTBEAT_RETENTION = timedelta(days=1)
# How often a worker looks for model files nothing references (training.artifact_store).
ORPHAN_PURGE_SECONDS = 3600.0
# What a sweep's bulk steps (retention purges, review-key refill) may take before
# they leave the rest to the next sweep: a third of the default staleness limit
# (30 s), with a beat between steps.
SWEEP_BUDGET_SECONDS = 10.0


def heartbeats_prune(*, older_than: timedelta, now: datetime | None = None) -> int:
    from django.utils import timezone

    from studio.models import WorkerHeartbeat

    cutoff = (now or timezone.now()) - older_than
    deleted, _ = WorkerHeartbeat.objects.filter(last_seen_at__lt=cutoff).delete()
    return deleted


class WorkerMonitor:
    """The heartbeat and stale-job sweep loop of one worker process."""

    def __init__(
        self,
        *,
        hostname: str,
        pid: int,
        heartbeat_seconds: float,
        sweep_seconds: float,
        job_stale_after: timedelta,
        queues: str = "",
        redispatch_after: timedelta | None = None,
        redispatch_limit: int = 0,
    ) -> None:
        from django.utils import timezone

        self.hostname = hostname
        self.queues = queues
        self.pid = pid
        self.heartbeat_seconds = heartbeat_seconds
        self.sweep_seconds = sweep_seconds
        self.job_stale_after = job_stale_after
        # None: lost jobs are not sent again (STUDIO_JOB_REDISPATCH_SECONDS=0).
        self.redispatch_after = redispatch_after
        self.redispatch_limit = redispatch_limit
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0
        self._next_orphan_purge = 0.0
        self._last_beat = 0.0

    @classmethod
    def from_settings(cls, *, hostname: str, queues: str = "") -> WorkerMonitor:
        from django.conf import settings

        return cls(
            hostname=hostname,
            queues=queues,
            pid=os.getpid(),
            heartbeat_seconds=float(settings.STUDIO_WORKER_HEARTBEAT_SECONDS),
            sweep_seconds=float(settings.STUDIO_JOB_SWEEP_SECONDS),
            job_stale_after=timedelta(seconds=settings.STUDIO_JOB_STALE_SECONDS),
            redispatch_after=(
                timedelta(seconds=settings.STUDIO_JOB_REDISPATCH_SECONDS)
                if settings.STUDIO_JOB_REDISPATCH_SECONDS
                else None
            ),
            redispatch_limit=int(settings.STUDIO_JOB_REDISPATCH_LIMIT),
        )

    def beat(self) -> None:
        self._last_beat = time.monotonic()
        heartbeat_write(
            hostname=self.hostname,
            pid=self.pid,
            started_at=self.started_at,
            queues=self.queues,
        )

    def sweep(self) -> int:
        """One round of housekeeping. It runs on the heartbeat's thread, so it
        beats between its steps when a beat is due, its bulk steps stop batching
        at ``SWEEP_BUDGET_SECONDS`` (the rest is the next sweep's), and a step
        that fails with anything but a database error is logged and skipped (a
        database error ends the round: the loop reconnects)."""
        from jobs.services import (
            jobs_fail_stale,
            jobs_purge_expired,
            jobs_redispatch_lost,
        )
        from projects.services.snapshots import replaced_projects_purge
        from projects.services.uploads import uploads_undo_stopped
        from runtime.logs import prediction_logs_purge
        from studio.audit import audit_events_purge
        from training.artifact_store import artifacts_purge_orphans
        from training.services.review_recipe import review_keys_refill_all

        deadline = time.monotonic() + SWEEP_BUDGET_SECONDS
        failed = self._step(jobs_fail_stale, stale_after=self.job_stale_after) or 0
        if self.redispatch_after is not None:
            # Queued jobs whose message was lost (logged there).
            self._step(
                jobs_redispatch_lost,
                waited=self.redispatch_after,
                limit=self.redispatch_limit,
            )
        self._step(uploads_undo_stopped)  # what the failed uploads had added goes
        self._step(jobs_purge_expired)
        self._step(prediction_logs_purge, deadline=deadline)
        self._step(replaced_projects_purge)
        self._step(audit_events_purge, deadline=deadline)
        # Open logs of an older review recipe (a rolling deploy's old release, an
        # interrupted migration): batched, normally one indexed lookup per project.
        self._step(review_keys_refill_all, deadline=deadline)
        if time.monotonic() >= self._next_orphan_purge:
            # Listing storage is not free (S3): at most hourly.
            self._next_orphan_purge = time.monotonic() + ORPHAN_PURGE_SECONDS
            orphans = self._step(artifacts_purge_orphans)
            if orphans:
                logger.info("Deleted %d unreferenced model file(s).", orphans)
        if failed:
            logger.warning(
                "Ended %d job(s) (failed, or cancelled if cancelling): their worker "
                "stopped beating.",
                failed,
            )
        self._step(heartbeats_prune, older_than=HEARTBEAT_RETENTION)
        return failed

    def _step(self, run: Callable[..., Any], **kwargs: Any) -> Any:
        """``run(**kwargs)`` after a beat if one is due; None when it failed with
        anything but a database error (logged)."""
        from django.db import DatabaseError

        if time.monotonic() - self._last_beat >= self.heartbeat_seconds:
            self.beat()
        try:
            return run(**kwargs)
        except DatabaseError:
            raise
        except Exception:
            logger.exception("Worker housekeeping step %s failed.", run.__name__)
            return None

    def run_once(self, *, monotonic_now: float) -> None:
        """One loop step: always beat; sweep when the sweep interval has passed."""
        self.beat()
        if monotonic_now >= self._next_sweep:
            self._next_sweep = monotonic_now + self.sweep_seconds
            self.sweep()

    def _run(self) -> None:
        # At the main process's priority, normal under prefork: its work is short
        # writes, and a niced writer holding SQLite's lock stalls every other one
        # (studio/cpu.py).
        from django.db import DatabaseError, close_old_connections, connection

        try:
            while not self._stop.is_set():
                close_old_connections()
                try:
                    self.run_once(monotonic_now=time.monotonic())
                except DatabaseError as exc:
                    # The database may be restarting, or (SQLite) locked by a long
                    # import: keep trying with a fresh connection rather than let the
                    # worker look dead forever.
                    logger.warning("Worker heartbeat failed (%s); retrying.", exc)
                    connection.close()
                except Exception:
                    # Not a reason to stop beating: the worker is alive.
                    logger.exception("Worker heartbeat loop step failed; retrying.")
                self._stop.wait(self.heartbeat_seconds)
        finally:
            connection.close()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="studio-worker-heartbeat", daemon=True
        )
        self._thread.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        from django.db import DatabaseError, connection

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            heartbeat_remove(hostname=self.hostname, pid=self.pid)
        except DatabaseError:
            logger.warning("Could not remove the heartbeat of %s.", self.hostname)
        finally:
            connection.close()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


_monitor: WorkerMonitor | None = None


def _consumed_queues(consumer: Any) -> str:
    """The queues a worker consumes (its -Q, else every declared queue),
    comma-separated. The consumer's app, else the current one: ``studio.celery``
    imports this module to connect its signals, so it is not imported back."""
    try:
        consumed = getattr(consumer, "app", current_app).amqp.queues.consume_from
    except AttributeError:
        return ""
    return ",".join(sorted(consumed or ()))


def _runs_tasks_itself(options: dict[str, Any]) -> bool:
    """Whether the worker's main process runs the tasks (a solo or threads pool)
    rather than forked task processes (prefork, the default)."""
    pool = options.get("pool_cls") or "prefork"
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return not any(word in str(name) for word in ("prefork", "processes"))


@celeryd_init.connect
def _lower_priority(
    sender: Any = None, options: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    """Before the pool forks. Task processes lower their own priority when they
    start (``_task_process_priority``), after starting their normal-priority
    thread; a worker that runs its tasks itself lowers its own here."""
    from django.conf import settings

    from studio.cpu import worker_nice

    if _runs_tasks_itself(options or {}):
        niceness = worker_nice(settings.STUDIO_WORKER_NICE)
        logger.info("Worker CPU niceness is %d (STUDIO_WORKER_NICE).", niceness)
    threads = worker_encode_threads(settings.STUDIO_ENCODER_THREADS)
    logger.info("Batch encoding uses %d threads (STUDIO_ENCODER_THREADS).", threads)


@worker_process_init.connect
def _task_process_priority(sender: Any = None, **kwargs: Any) -> None:
    """A forked task process: its normal-priority thread (for write transactions:
    ``studio.cpu.at_normal_priority``) first, then the lower priority for the rest."""
    from django.conf import settings

    from studio.cpu import normal_priority_start, worker_nice

    normal_priority_start()
    niceness = worker_nice(settings.STUDIO_WORKER_NICE)
    logger.info("Task process CPU niceness is %d (STUDIO_WORKER_NICE).", niceness)


def worker_encode_threads(configured: int) -> int:
    """A training worker encodes batches on ``configured`` threads (0: every
    core): encoding a project's utterances is the longest step of advanced
    training, and the worker's lower priority lets predictions go first. Set
    before the pool forks, so every task process inherits it; web processes
    keep the engine's default of one thread."""
    from training.engine.embeddings import set_encode_threads

    threads = configured or os.cpu_count() or 1
    set_encode_threads(threads)
    return threads


@worker_ready.connect
def _start_monitor(sender: Any = None, **kwargs: Any) -> None:
    global _monitor
    hostname = str(getattr(sender, "hostname", "") or f"celery@{os.uname().nodename}")
    _monitor = WorkerMonitor.from_settings(
        hostname=hostname, queues=_consumed_queues(sender)
    )
    _monitor.start()
    logger.info("Worker heartbeat started for %s (pid %d).", hostname, _monitor.pid)


@worker_shutdown.connect
def _stop_monitor(sender: Any = None, **kwargs: Any) -> None:
    global _monitor
    if _monitor is not None:
        _monitor.stop()
        _monitor = None
