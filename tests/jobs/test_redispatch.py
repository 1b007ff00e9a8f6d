"""A queued job whose broker message was lost does not wait forever: the workers'
sweep sends it again once its queue has been idle for a while, a few times at most,
then fails it with a reason (``jobs.services.jobs_redispatch_lost``). Re-sending is
harmless: a job runs once however many messages name it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from jobs import services
from jobs.dispatch import job_task
from jobs.models import Job
from jobs.services import (
    JobContext,
    job_cancel,
    job_create,
    job_execute,
    jobs_redispatch_lost,
)
from studio.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db

WAIT = timedelta(seconds=120)


class RecordingTask:
    """Stands for the Celery task of every kind: records the messages sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def apply_async(self, *, args: list[Any], queue: str) -> None:
        self.sent.append((args[0], queue))


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch) -> RecordingTask:
    recording = RecordingTask()
    monkeypatch.setattr(services, "job_task", lambda **kwargs: recording)
    return recording


def worker(queues: str, *, age: float = 1.0, name: str = "") -> None:
    """A worker of ``queues`` whose last heartbeat is ``age`` seconds old."""
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        hostname=name or f"celery@{queues or 'all'}",
        pid=1,
        started_at=now - timedelta(hours=1),
        last_seen_at=now - timedelta(seconds=age),
        queues=queues,
    )


def waiting(
    kind: str = Job.Kind.DEPLOY, *, project: str = "P", age: timedelta = WAIT * 2
) -> Job:
    """A job created ``age`` ago whose message never reached a worker."""
    job = job_create(
        kind=kind, project_name=project, target_name="prod", task=RecordingTask()
    )
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - age)
    job.refresh_from_db()
    return job


def running(kind: str = Job.Kind.TRAIN, *, project: str = "Busy") -> Job:
    job = waiting(kind, project=project)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    return job


def finished(
    kind: str = Job.Kind.TRAIN, *, project: str = "Done", ago: timedelta
) -> Job:
    job = waiting(kind, project=project)
    at = timezone.now() - ago
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED,
        started_at=at - timedelta(minutes=1),
        finished_at=at,
    )
    return job


def sweep(now: datetime | None = None, limit: int = 3) -> Any:
    return jobs_redispatch_lost(waited=WAIT, limit=limit, now=now)


def test_a_lost_job_on_an_idle_queue_is_sent_again_to_its_queue(
    task: RecordingTask, caplog: pytest.LogCaptureFixture
) -> None:
    worker("celery,short")
    job = waiting(Job.Kind.DEPLOY)

    with caplog.at_level(logging.WARNING, logger="jobs.services"):
        outcome = sweep()

    assert outcome.resent == 1 and outcome.failed == 0
    assert task.sent == [(str(job.pk), "short")]
    job.refresh_from_db()
    assert job.status == Job.Status.NOT_STARTED
    assert job.resends == 1 and job.resent_at is not None
    assert job.warnings[-1]["code"] == "JobResent"
    assert "sent again (1 of 3)" in job.warnings[-1]["message"]
    assert job.job_id in caplog.text


def test_a_job_that_has_not_waited_long_is_left_alone(task: RecordingTask) -> None:
    worker("")
    waiting(age=WAIT - timedelta(seconds=10))

    assert sweep().resent == 0
    assert task.sent == []


def test_a_job_waiting_behind_a_running_job_of_its_queue_is_not_resent(
    task: RecordingTask,
) -> None:
    """A long queue legitimately holds jobs for minutes behind a training."""
    worker("long")
    worker("celery,short")
    running(Job.Kind.TRAIN, project="Busy")
    behind = waiting(Job.Kind.TRAIN, project="P", age=timedelta(minutes=30))
    lost_short = waiting(Job.Kind.DEPLOY, project="Q")

    assert sweep().resent == 1
    assert task.sent == [(str(lost_short.pk), "short")]
    behind.refresh_from_db()
    assert behind.resends == 0 and behind.warnings == []


def test_a_queue_that_just_finished_a_job_is_given_time_to_start_the_next(
    task: RecordingTask,
) -> None:
    # The sweep may run between a training's end and the next job's start.
    worker("long")
    finished(Job.Kind.TRAIN, ago=timedelta(seconds=3))
    waiting(Job.Kind.TRAIN, project="P", age=timedelta(minutes=30))
    assert sweep().resent == 0

    Job.objects.filter(project_name="Done").update(
        finished_at=timezone.now() - WAIT - timedelta(seconds=1)
    )
    assert sweep().resent == 1


def test_nothing_is_resent_to_a_queue_without_a_live_worker(
    task: RecordingTask,
) -> None:
    """Its messages wait in the broker for a worker; the job body says so."""
    worker("long")  # only the other queue
    worker("celery,short", age=600, name="celery@dead-short")
    job = waiting(Job.Kind.DEPLOY)

    assert sweep().resent == 0
    worker("", name="celery@every-queue")  # a worker started without -Q
    assert sweep().resent == 1
    assert task.sent == [(str(job.pk), "short")]


def test_a_resent_job_is_sent_again_only_after_another_full_wait(
    task: RecordingTask,
) -> None:
    worker("celery,short")
    waiting(Job.Kind.DEPLOY)
    now = timezone.now()

    assert sweep(now).resent == 1
    assert sweep(now).resent == 0  # a second worker's sweep at the same moment
    assert sweep(now + WAIT - timedelta(seconds=1)).resent == 0
    assert sweep(now + WAIT + timedelta(seconds=1)).resent == 1
    assert len(task.sent) == 2


def test_after_the_limit_the_job_fails_with_a_reason_and_frees_its_project(
    task: RecordingTask,
) -> None:
    worker("celery,short")
    job = waiting(Job.Kind.DEPLOY)
    now = timezone.now()
    for round_ in range(3):
        assert sweep(now + round_ * (WAIT + timedelta(seconds=1))).resent == 1

    outcome = sweep(now + 3 * (WAIT + timedelta(seconds=1)))

    assert outcome.resent == 0 and outcome.failed == 1
    assert len(task.sent) == 3
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.finished_at is not None
    assert "never started" in job.errors[0]["message"]
    assert "3 times" in job.errors[0]["message"]
    # The one-deployment-job-per-project rule no longer counts it.
    job_create(
        kind=Job.Kind.DEPLOY,
        project_name="P",
        target_name="prod",
        task=RecordingTask(),
    )


def test_a_limit_of_zero_fails_a_lost_job_without_resending_it(
    task: RecordingTask,
) -> None:
    worker("")
    job = waiting()
    assert sweep(limit=0).failed == 1
    assert task.sent == []
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED


def test_cancelled_and_started_jobs_are_not_resent(task: RecordingTask) -> None:
    worker("")
    job_cancel(job=waiting(project="A"))
    assert sweep().resent == 0
    assert task.sent == []


def test_the_original_and_the_resent_message_run_the_job_once(
    task: RecordingTask,
) -> None:
    worker("celery,short")
    job = waiting(Job.Kind.DEPLOY)
    sweep()
    runs: list[str] = []

    def operation(context: JobContext) -> dict[str, Any]:
        runs.append(context.job.job_id)
        return {}

    # The re-sent message runs it; the original, only delayed, arrives after.
    for message in (str(job.pk), str(job.pk)):
        job_execute(job_pk=message, operation=operation)

    assert runs == [job.job_id]
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 1


def test_every_task_ignores_a_message_for_a_job_already_claimed() -> None:
    """So a duplicate message, whatever the kind, is a no-op: each task claims its
    job notStarted -> running before doing anything."""
    checked = 0
    for kind in Job.Kind:
        for api in Job.Api:
            try:
                celery_task: Any = job_task(kind=kind, api=api)
            except ImproperlyConfigured:
                continue
            job = Job.objects.create(
                job_id=f"claimed-{kind}-{api}",
                kind=kind,
                api=api,
                project_name=f"P-{kind}-{api}",
                status=Job.Status.RUNNING,
                worker="another:1",
                attempts=1,
                expires_at=timezone.now() + timedelta(days=7),
            )
            before = Job.objects.filter(pk=job.pk).values().get()

            celery_task.run(str(job.pk))

            assert Job.objects.filter(pk=job.pk).values().get() == before, kind
            checked += 1
    assert checked >= len(Job.Kind)
