"""Job lifecycle: enqueue on commit, claim once, record outcomes, fail stale jobs."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs.models import Job
from jobs.services import (
    JobContext,
    job_cancel,
    job_create,
    job_execute,
    jobs_fail_stale,
    jobs_purge_expired,
)
from studio.errors import Conflict, ErrorDetail, InvalidArgument

pytestmark = pytest.mark.django_db


class RecordingTask:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.queues: list[str] = []

    def apply_async(self, *, args: list[Any], queue: str) -> None:
        self.calls.append(tuple(args))
        self.queues.append(queue)


def make_job(
    task: RecordingTask | None = None, *, project: str = "P", **params: Any
) -> Job:
    return job_create(
        kind=Job.Kind.IMPORT,
        project_name=project,
        task=task or RecordingTask(),
        params=params,
    )


def test_job_is_enqueued_only_when_its_transaction_commits(
    django_capture_on_commit_callbacks: Any,
) -> None:
    task = RecordingTask()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = make_job(task)
    assert task.calls == []
    for callback in callbacks:
        callback()
    assert task.calls == [(str(job.pk),)]
    assert job.status == Job.Status.NOT_STARTED
    # Azure-style id: "<uuid>_<ticks>" and a 7-day expiry.
    uuid_part, ticks = job.job_id.split("_")
    assert len(uuid_part) == 36 and ticks.isdigit()
    assert timedelta(days=6) < job.expires_at - job.created_at <= timedelta(days=7)


def test_successful_operation_records_result_and_progress() -> None:
    job = make_job(n=3)
    seen: list[int] = []

    def operation(ctx: JobContext) -> dict[str, Any]:
        ctx.progress(40)
        seen.append(Job.objects.get(pk=job.pk).percent_complete)
        ctx.progress(10)  # never moves backwards
        seen.append(Job.objects.get(pk=job.pk).percent_complete)
        assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
        return {"count": ctx.params["n"]}

    job_execute(job_pk=job.pk, operation=operation)
    job.refresh_from_db()
    assert seen == [40, 40]
    assert job.status == Job.Status.SUCCEEDED
    assert job.percent_complete == 100
    assert job.result == {"count": 3}
    assert job.started_at and job.finished_at and job.worker
    assert job.attempts == 1


def test_a_redelivered_message_does_not_run_the_operation_twice() -> None:
    job = make_job()
    runs: list[int] = []

    def operation(ctx: JobContext) -> dict[str, Any]:
        runs.append(ctx.job.attempts)
        return {}

    job_execute(job_pk=job.pk, operation=operation)
    job_execute(job_pk=job.pk, operation=operation)
    assert len(runs) == 1


def test_client_errors_fail_the_job_with_every_detail() -> None:
    job = make_job()

    def operation(ctx: JobContext) -> None:
        raise InvalidArgument(
            "bad file",
            details=[
                ErrorDetail(
                    "InvalidArgument", "offset outside text", "assets.utterances[3]"
                ),
                ErrorDetail(
                    "InvalidArgument", "unknown intent", "assets.utterances[9].intent"
                ),
            ],
        )

    job_execute(job_pk=job.pk, operation=operation)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert [e["target"] for e in job.errors] == [
        "assets.utterances[3]",
        "assets.utterances[9].intent",
    ]


def test_unexpected_exceptions_fail_the_job_without_escaping() -> None:
    job = make_job()

    def operation(ctx: JobContext) -> None:
        raise RuntimeError("disk on fire")

    job_execute(job_pk=job.pk, operation=operation)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.errors[0]["code"] == "InternalServerError"
    assert "disk on fire" in job.errors[0]["message"]


def test_running_jobs_with_a_silent_heartbeat_are_failed_by_the_sweeper() -> None:
    now = timezone.now()
    stale = make_job(project="A")
    fresh = make_job(project="B")
    waiting = make_job(project="C")
    Job.objects.filter(pk=stale.pk).update(
        status=Job.Status.RUNNING, heartbeat_at=now - timedelta(minutes=5)
    )
    Job.objects.filter(pk=fresh.pk).update(status=Job.Status.RUNNING, heartbeat_at=now)
    assert jobs_fail_stale(stale_after=timedelta(seconds=30)) == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    waiting.refresh_from_db()
    assert stale.status == Job.Status.FAILED
    assert "stopped responding" in stale.errors[0]["message"]
    assert fresh.status == Job.Status.RUNNING
    assert waiting.status == Job.Status.NOT_STARTED


def test_a_job_failed_by_the_sweeper_keeps_that_verdict() -> None:
    job = make_job()

    def operation(ctx: JobContext) -> dict[str, Any]:
        Job.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        jobs_fail_stale(stale_after=timedelta(seconds=30))
        return {"late": True}

    job_execute(job_pk=job.pk, operation=operation)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.result == {}


def test_cancel_stops_a_waiting_job_at_once_and_a_running_one_at_its_next_check() -> (
    None
):
    waiting = make_job(project="W")
    assert job_cancel(job=waiting).status == Job.Status.CANCELLED
    job_execute(job_pk=waiting.pk, operation=lambda ctx: {"ran": True})
    waiting.refresh_from_db()
    assert waiting.status == Job.Status.CANCELLED and waiting.result == {}

    running = make_job(project="R")

    def operation(ctx: JobContext) -> None:
        assert job_cancel(job=ctx.job).status == Job.Status.CANCELLING
        ctx.raise_if_cancelled()

    job_execute(job_pk=running.pk, operation=operation)
    running.refresh_from_db()
    assert running.status == Job.Status.CANCELLED


def test_expired_finished_jobs_are_purged_with_the_files_they_own(
    django_capture_on_commit_callbacks: Any,
) -> None:
    result_file = default_storage.save("exports/old.json", ContentFile(b"{}"))
    staged_file = default_storage.save("imports/old.json", ContentFile(b"{}"))
    old = make_job(file=staged_file)
    Job.objects.filter(pk=old.pk).update(
        status=Job.Status.SUCCEEDED,
        expires_at=timezone.now() - timedelta(days=1),
        result={"file": result_file},
    )
    live = make_job(project="L")
    with django_capture_on_commit_callbacks(execute=True):
        # The files go once the deletion has committed.
        assert jobs_purge_expired() == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [live.pk]
    assert not default_storage.exists(result_file)
    assert not default_storage.exists(staged_file)


def test_a_second_active_import_or_delete_of_a_project_is_a_conflict() -> None:
    make_job()
    with pytest.raises(Conflict, match="in progress"):
        job_create(kind=Job.Kind.PROJECT_DELETE, project_name="P", task=RecordingTask())
    # Other projects and other kinds are not blocked.
    job_create(kind=Job.Kind.IMPORT, project_name="Q", task=RecordingTask())
    job_create(kind=Job.Kind.EXPORT, project_name="P", task=RecordingTask())


def test_a_finished_import_no_longer_blocks_the_next_one() -> None:
    first = make_job()
    job_execute(job_pk=first.pk, operation=lambda ctx: {})
    assert make_job().status == Job.Status.NOT_STARTED


@pytest.mark.django_db(transaction=True)
def test_the_migration_attaches_jobs_to_the_project_now_holding_their_name() -> None:
    """Existing jobs get their project, except those of an earlier project that had
    the same name (older than the current one): they stay unattached, hence hidden."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("training", "0007_evaluationresult_source_project")]
    after = [("training", "0008_job_project")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    project_model = apps.get_model("projects", "Project")
    job_model = apps.get_model("training", "Job")
    now = timezone.now()
    project = project_model.objects.create(
        name="Mail", kind="Conversation", language="en", created_at=now
    )

    def job(kind: str, created: Any, finished: Any = None) -> Any:
        made = job_model.objects.create(
            job_id=f"{kind}-{created.timestamp()}",
            kind=kind,
            project_name="Mail",
            expires_at=now + timedelta(days=7),
            finished_at=finished,
        )
        job_model.objects.filter(pk=made.pk).update(created_at=created)
        return made.pk

    old_export = job("export", now - timedelta(days=2))
    creating_import = job("import", now - timedelta(seconds=1), now)
    new_export = job("export", now + timedelta(seconds=5))
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    attached = dict(Job.objects.values_list("pk", "project_id"))
    assert attached == {
        old_export: None,
        creating_import: project.pk,
        new_export: project.pk,
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_stale_cancelling_job_ends_cancelled_not_failed() -> None:
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.CANCELLING,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    assert jobs_fail_stale(stale_after=timedelta(seconds=30)) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert job.errors == []
    assert job.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_cancelling_job_keeps_beating_so_the_sweeper_leaves_its_live_worker_alone(
    settings: Any,
) -> None:
    settings.STUDIO_JOB_HEARTBEAT_SECONDS = 0.05
    job = make_job()
    swept: list[int] = []

    def operation(ctx: JobContext) -> None:
        job_cancel(job=ctx.job)
        # The worker is still busy (a long fit); its heartbeat must keep going.
        Job.objects.filter(pk=ctx.job.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            beat = Job.objects.get(pk=ctx.job.pk).heartbeat_at
            if beat is not None and beat > timezone.now() - timedelta(seconds=30):
                break
            time.sleep(0.05)
        swept.append(jobs_fail_stale(stale_after=timedelta(seconds=30)))
        ctx.raise_if_cancelled()

    job_execute(job_pk=job.pk, operation=operation)
    job.refresh_from_db()
    assert swept == [0]
    assert job.status == Job.Status.CANCELLED
    assert job.errors == []


def test_an_import_job_polled_while_it_creates_its_project_is_found() -> None:
    """A poll whose project lookup runs just before the import commits the project,
    and whose job read runs just after the import attached itself to it, still
    finds the job: the lookup and the read are one statement. (Seen live: the SDK's
    first poll got 404 OperationNotFound and its poller gave up on an import that
    succeeded.)"""
    from jobs.selectors import project_jobs
    from tests.factories import ProjectFactory

    job = make_job(project="Racing")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    polled = project_jobs(project_name="Racing")  # no project "Racing" yet
    # The import commits the project, attaches its job and finishes.
    project = ProjectFactory.create(name="Racing")
    Job.objects.filter(pk=job.pk).update(project=project, status=Job.Status.SUCCEEDED)

    assert list(polled.values_list("pk", flat=True)) == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_a_job_blocked_in_a_long_fit_keeps_its_heartbeat_and_is_not_swept(
    settings: Any,
) -> None:
    from tests.training.test_child import _busy_native_loop
    from training.engine.child import ChildFit

    settings.STUDIO_JOB_HEARTBEAT_SECONDS = 0.05
    job = make_job()
    swept: list[int] = []
    beats: list[Any] = []

    def operation(ctx: JobContext) -> None:
        Job.objects.filter(pk=ctx.job.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        # The fit runs native code for a while: the worker's heartbeat goes on.
        with ChildFit(_busy_native_loop, 60) as fit:
            fit.wait()
        beats.append(Job.objects.get(pk=ctx.job.pk).heartbeat_at)
        swept.append(jobs_fail_stale(stale_after=timedelta(seconds=30)))

    job_execute(job_pk=job.pk, operation=operation)
    job.refresh_from_db()
    assert beats[0] > timezone.now() - timedelta(seconds=30)
    assert swept == [0]
    assert job.status == Job.Status.SUCCEEDED
