from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from jobs.models import Job
from studio.health import check_workers
from studio.models import WorkerHeartbeat
from studio.worker import (
    WorkerMonitor,
    heartbeat_forget,
    heartbeat_is_fresh,
    heartbeat_remove,
    heartbeat_write,
    heartbeats_prune,
)
from tests.compat.helpers import wait_for
from tests.conftest import LiveStudio


def make_monitor(**overrides: Any) -> WorkerMonitor:
    options: dict[str, Any] = {
        "hostname": "celery@unit",
        "pid": 4242,
        "heartbeat_seconds": 0.05,
        "sweep_seconds": 60.0,
        "job_stale_after": timedelta(seconds=120),
    }
    options.update(overrides)
    return WorkerMonitor(**options)


def running_job(*, heartbeat_age: timedelta, name: str = "P") -> Job:
    now = timezone.now()
    return Job.objects.create(
        job_id=f"job-{name}-{heartbeat_age.total_seconds()}",
        kind=Job.Kind.IMPORT,
        project_name=name,
        status=Job.Status.RUNNING,
        expires_at=now + timedelta(days=7),
        started_at=now - heartbeat_age,
        heartbeat_at=now - heartbeat_age,
    )


@pytest.mark.django_db
def test_heartbeat_write_creates_then_refreshes_one_row_per_worker() -> None:
    started = timezone.now() - timedelta(minutes=5)
    heartbeat_write(hostname="celery@a", pid=1, started_at=started, now=started)
    heartbeat_write(hostname="celery@a", pid=1, started_at=started)

    row = WorkerHeartbeat.objects.get()
    assert row.hostname == "celery@a"
    assert row.last_seen_at > started
    assert row.started_at == started


@pytest.mark.django_db
def test_a_worker_its_supervisor_saw_die_is_not_counted_though_fresh() -> None:
    # Killed a moment after it beat: without forgetting it, /healthz would count it
    # for STUDIO_WORKER_STALE_SECONDS, longer than a supervised restart takes.
    now = timezone.now()
    heartbeat_write(hostname="long@a", pid=11, started_at=now, queues="long")
    heartbeat_write(hostname="short@a", pid=12, started_at=now, queues="short")
    assert check_workers()["status"] == "up"

    assert heartbeat_forget(pid=11) == 1

    workers = check_workers()
    assert workers["status"] == "down"
    assert workers["queues"]["long"] == 0
    assert WorkerHeartbeat.objects.get().hostname == "short@a"


@pytest.mark.django_db
def test_heartbeat_remove_leaves_a_row_taken_over_by_a_new_process() -> None:
    now = timezone.now()
    heartbeat_write(hostname="celery@a", pid=2, started_at=now)

    heartbeat_remove(hostname="celery@a", pid=1)
    assert WorkerHeartbeat.objects.filter(hostname="celery@a").exists()

    heartbeat_remove(hostname="celery@a", pid=2)
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_heartbeat_is_fresh_only_within_the_staleness_limit(settings: Any) -> None:
    settings.STUDIO_WORKER_STALE_SECONDS = 30
    now = timezone.now()
    heartbeat_write(hostname="celery@new", pid=1, started_at=now)
    heartbeat_write(
        hostname="celery@old", pid=2, started_at=now, now=now - timedelta(seconds=31)
    )

    assert heartbeat_is_fresh(hostname="celery@new")
    assert not heartbeat_is_fresh(hostname="celery@old")
    assert not heartbeat_is_fresh(hostname="celery@unknown")


@pytest.mark.django_db
def test_heartbeats_prune_deletes_only_rows_older_than_the_retention() -> None:
    now = timezone.now()
    heartbeat_write(
        hostname="celery@gone", pid=1, started_at=now, now=now - timedelta(days=2)
    )
    heartbeat_write(
        hostname="celery@recent", pid=2, started_at=now, now=now - timedelta(hours=1)
    )

    assert heartbeats_prune(older_than=timedelta(days=1)) == 1
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == [
        "celery@recent"
    ]


@pytest.mark.django_db
def test_sweep_fails_running_jobs_whose_heartbeat_stopped() -> None:
    stale = running_job(heartbeat_age=timedelta(minutes=10), name="Stale")
    alive = running_job(heartbeat_age=timedelta(seconds=5), name="Alive")

    failed = make_monitor(job_stale_after=timedelta(minutes=2)).sweep()

    assert failed == 1
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == Job.Status.FAILED
    assert stale.errors and "stopped responding" in stale.errors[0]["message"]
    assert alive.status == Job.Status.RUNNING


@pytest.mark.django_db
def test_sweep_resends_a_job_whose_message_was_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs import services

    sent: list[tuple[str, str]] = []

    class Task:
        def apply_async(self, *, args: list[Any], queue: str) -> None:
            sent.append((args[0], queue))

    monkeypatch.setattr(services, "job_task", lambda **kwargs: Task())
    now = timezone.now()
    lost = Job.objects.create(
        job_id="lost-message",
        kind=Job.Kind.DEPLOY,
        project_name="P",
        queue="short",
        expires_at=now + timedelta(days=7),
    )
    Job.objects.filter(pk=lost.pk).update(created_at=now - timedelta(minutes=5))
    monitor = make_monitor(
        queues="celery,short",
        redispatch_after=timedelta(minutes=2),
        redispatch_limit=3,
    )
    monitor.beat()  # the sweeping worker consumes the job's queue

    monitor.sweep()

    assert sent == [(str(lost.pk), "short")]
    lost.refresh_from_db()
    assert lost.resends == 1
    # Off when the setting is 0.
    Job.objects.filter(pk=lost.pk).update(resent_at=now - timedelta(minutes=5))
    make_monitor(redispatch_after=None).sweep()
    assert len(sent) == 1


def test_the_monitor_takes_the_resend_settings(settings: Any) -> None:
    settings.STUDIO_JOB_REDISPATCH_SECONDS = 90
    settings.STUDIO_JOB_REDISPATCH_LIMIT = 5
    monitor = WorkerMonitor.from_settings(hostname="celery@x")
    assert monitor.redispatch_after == timedelta(seconds=90)
    assert monitor.redispatch_limit == 5

    settings.STUDIO_JOB_REDISPATCH_SECONDS = 0
    assert WorkerMonitor.from_settings(hostname="celery@x").redispatch_after is None


@pytest.mark.django_db
def test_run_once_beats_every_time_but_sweeps_only_when_due() -> None:
    monitor = make_monitor(sweep_seconds=30.0)
    running_job(heartbeat_age=timedelta(minutes=10), name="First")

    monitor.run_once(monotonic_now=1000.0)
    assert Job.objects.filter(status=Job.Status.FAILED).count() == 1

    running_job(heartbeat_age=timedelta(minutes=10), name="Second")
    monitor.run_once(monotonic_now=1010.0)
    assert Job.objects.filter(status=Job.Status.FAILED).count() == 1

    monitor.run_once(monotonic_now=1031.0)
    assert Job.objects.filter(status=Job.Status.FAILED).count() == 2
    assert WorkerHeartbeat.objects.get().pid == 4242


@pytest.mark.django_db(transaction=True)
def test_monitor_thread_keeps_beating_and_removes_its_row_on_stop() -> None:
    monitor = make_monitor()
    monitor.start()
    try:
        seen: list[Any] = []

        def refreshed() -> bool:
            row = WorkerHeartbeat.objects.filter(hostname="celery@unit").first()
            if row is None:
                return False
            seen.append(row.last_seen_at)
            return row.last_seen_at > seen[0]

        wait_for(
            refreshed,
            timeout=10,
            interval=0.02,
            what="the monitor thread refreshing its heartbeat",
        )
        assert monitor.is_running
    finally:
        monitor.stop()

    assert not monitor.is_running
    assert not WorkerHeartbeat.objects.filter(hostname="celery@unit").exists()


SWEEP_PROBE = """
from datetime import timedelta
from django.utils import timezone
from tests.conftest import LiveStudio
from jobs.models import Job
now = timezone.now()
job = Job.objects.create(
    job_id="orphan-of-a-killed-worker", kind=Job.Kind.IMPORT, project_name="P",
    status=Job.Status.RUNNING, expires_at=now + timedelta(days=7),
    started_at=now - timedelta(minutes=5), heartbeat_at=now - timedelta(minutes=5),
)
print(job.pk)
"""


@pytest.mark.integration
def test_a_live_worker_fails_running_jobs_whose_worker_stopped_beating(
    live_studio: LiveStudio,
) -> None:
    created = live_studio.manage("shell", "-c", SWEEP_PROBE)
    assert created.returncode == 0, created.stderr

    def job() -> tuple[Any, Any]:
        return live_studio.database_query(
            "SELECT status, errors FROM training_job WHERE job_id = %s",
            ("orphan-of-a-killed-worker",),
        )[0]

    wait_for(
        lambda: job()[0] == "failed",
        timeout=60,
        interval=0.5,
        what="the live worker's sweep failing the orphaned job",
    )
    _, errors = job()
    assert errors and "stopped responding" in errors[0]["message"]


@pytest.mark.django_db
def test_a_worker_records_the_queues_it_consumes_in_its_heartbeat() -> None:
    from studio.celery import app
    from studio.worker import _consumed_queues

    class Consumer:
        def __init__(self, selected: list[str] | None) -> None:
            self.app = app.__class__("probe", set_as_current=False)
            self.app.config_from_object("django.conf:settings", namespace="CELERY")
            if selected is not None:
                self.app.amqp.queues.select(selected)

    only_long = _consumed_queues(Consumer(["long"]))
    every = _consumed_queues(Consumer(None))
    monitor = make_monitor(queues=only_long)
    monitor.beat()

    assert only_long == "long"
    assert every == "long,short"
    assert WorkerHeartbeat.objects.get().queues == "long"


def test_a_consumer_without_an_app_records_the_queues_of_the_studio_app() -> None:
    from studio.worker import _consumed_queues

    assert _consumed_queues(object()) == "long,short"


@pytest.mark.django_db
def test_a_failing_housekeeping_step_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """One step's bug (a malformed stored row, say) is logged; the sweep goes on
    with the other steps, and the heartbeat thread would not die of it."""
    import runtime.logs

    def broken(**kwargs: Any) -> int:
        raise TypeError("a malformed row")

    monkeypatch.setattr(runtime.logs, "prediction_logs_purge", broken)
    running_job(heartbeat_age=timedelta(minutes=10))
    monitor = make_monitor()

    monitor.sweep()

    assert Job.objects.get().status == Job.Status.FAILED  # the steps before
    assert "a malformed row" in caplog.text
    assert WorkerHeartbeat.objects.filter(hostname="celery@unit").exists()


@pytest.mark.django_db
def test_a_long_sweep_keeps_the_worker_beating_and_ends_within_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep runs on the heartbeat's thread (stale after 30 s): it beats
    between its steps when a beat is due, and the bulk steps stop batching at
    the sweep's deadline (what is left is the next sweep's)."""
    import runtime.logs
    import studio.worker as worker_module
    import training.services.review_recipe as recipe_svc

    now = [1000.0]  # the worker's clock: the slow step moves it, nothing sleeps
    monkeypatch.setattr(
        worker_module, "time", SimpleNamespace(monotonic=lambda: now[0])
    )
    deadlines: list[float | None] = []

    def slow_purge(*, deadline: float | None = None, **kwargs: Any) -> int:
        deadlines.append(deadline)
        now[0] += 0.2
        return 0

    monkeypatch.setattr(runtime.logs, "prediction_logs_purge", slow_purge)
    refill_deadlines: list[float | None] = []

    def refill(*, deadline: float | None = None) -> int:
        refill_deadlines.append(deadline)
        return 0

    monkeypatch.setattr(recipe_svc, "review_keys_refill_all", refill)
    beats: list[float] = []
    real_write = worker_module.heartbeat_write

    def counted(**kwargs: Any) -> Any:
        beats.append(now[0])
        return real_write(**kwargs)

    monkeypatch.setattr(worker_module, "heartbeat_write", counted)
    monitor = make_monitor(heartbeat_seconds=0.1)
    before = now[0]

    monitor.sweep()

    assert beats[0] == before  # the first step's beat
    assert any(b >= before + 0.2 for b in beats)  # and one after the slow step
    assert deadlines == [before + worker_module.SWEEP_BUDGET_SECONDS]
    assert refill_deadlines == deadlines  # the review-key refill: the same budget
