"""Job queues (jobs/queues.py): routing long and short work apart, the place of
a waiting job, and the fair-share limits that ``job_create`` enforces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs import queues
from jobs.lro import job_state
from jobs.models import Job
from jobs.queues import job_queue, job_queue_place
from jobs.services import job_create
from studio.errors import Conflict
from studio.queues import QUEUE_LONG, QUEUE_SHORT
from training.train_jobs import training_stage_note

pytestmark = pytest.mark.django_db


class RecordingTask:
    def __init__(self) -> None:
        self.sent: list[tuple[list[Any], str]] = []

    def apply_async(self, *, args: list[Any], queue: str) -> None:
        self.sent.append((args, queue))


def create(kind: str, project: str = "P", **extra: Any) -> Job:
    return job_create(kind=kind, project_name=project, task=RecordingTask(), **extra)


@pytest.mark.parametrize(
    ("kind", "size", "expected"),
    [
        (Job.Kind.TRAIN, 0, QUEUE_LONG),
        (Job.Kind.LOAD_SNAPSHOT, 0, QUEUE_LONG),
        (Job.Kind.IMPORT, queues.LONG_UPLOAD_BYTES + 1, QUEUE_LONG),
        (Job.Kind.IMPORT, queues.LONG_UPLOAD_BYTES, QUEUE_SHORT),
        (Job.Kind.IMPORT, 0, QUEUE_SHORT),
        (Job.Kind.DEPLOY, 0, QUEUE_SHORT),
        (Job.Kind.DEPLOYMENT_DELETE, 0, QUEUE_SHORT),
        (Job.Kind.SWAP, 0, QUEUE_SHORT),
        (Job.Kind.EXPORT, 0, QUEUE_SHORT),
        # Any job that processes a big upload (e.g. a Data-page upload) is long.
        ("upload", queues.LONG_UPLOAD_BYTES + 1, QUEUE_LONG),
        ("upload", 10, QUEUE_SHORT),
        (Job.Kind.PROJECT_DELETE, 0, QUEUE_SHORT),
    ],
)
def test_long_work_and_short_work_go_to_different_queues(
    kind: str, size: int, expected: str
) -> None:
    assert job_queue(kind=kind, size_bytes=size) == expected


def test_job_create_sends_the_task_to_the_jobs_queue_when_it_commits(
    django_capture_on_commit_callbacks: Any,
) -> None:
    task = RecordingTask()
    with django_capture_on_commit_callbacks(execute=True):
        train = job_create(kind=Job.Kind.TRAIN, project_name="A", task=task)
        deploy = job_create(kind=Job.Kind.DEPLOY, project_name="B", task=task)

    assert (train.queue, deploy.queue) == (QUEUE_LONG, QUEUE_SHORT)
    assert task.sent == [([str(train.pk)], QUEUE_LONG), ([str(deploy.pk)], QUEUE_SHORT)]


def test_a_big_staged_upload_is_long_work_and_a_small_one_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queues, "LONG_UPLOAD_BYTES", 100)
    big = default_storage.save("staged/big.json", ContentFile(b"x" * 101))
    small = default_storage.save("staged/small.json", ContentFile(b"x" * 10))
    try:
        assert create(Job.Kind.IMPORT, "Big", params={"file": big}).queue == QUEUE_LONG
        small_job = create(Job.Kind.IMPORT, "Sm", params={"file": small})
        assert small_job.queue == QUEUE_SHORT
        # A caller that knows the size (an upload in memory) passes it.
        assert create(Job.Kind.IMPORT, "Known", size_bytes=101).queue == QUEUE_LONG
    finally:
        default_storage.delete(big)
        default_storage.delete(small)


def _age(job: Job, seconds: int) -> Job:
    Job.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )
    job.refresh_from_db()
    return job


def test_a_waiting_job_knows_its_position_and_what_runs_ahead() -> None:
    running = _age(create(Job.Kind.TRAIN, "A"), 60)
    Job.objects.filter(pk=running.pk).update(status=Job.Status.RUNNING)
    running.refresh_from_db()
    first = _age(create(Job.Kind.TRAIN, "B"), 30)
    second = _age(create(Job.Kind.IMPORT, "C", size_bytes=10**9), 20)
    mine = _age(create(Job.Kind.TRAIN, "Mine"), 10)
    # Another queue and finished jobs do not count.
    create(Job.Kind.EXPORT, "D")
    done = create(Job.Kind.TRAIN, "E")
    Job.objects.filter(pk=done.pk).update(status=Job.Status.SUCCEEDED)

    place = job_queue_place(job=mine)

    assert place is not None
    assert place.position == 3
    assert dict(place.running) == {"train": 1}
    assert dict(place.waiting) == {"train": 1, "import": 1}
    text = place.describe()
    assert text == (
        "Waiting in the long queue: position 3. Running now: 1 training; "
        "waiting ahead: 1 import, 1 training."
    )
    # Other projects are never named: a reader may not be allowed to see them.
    assert not any(name in text for name in ("A", "B", "C"))
    assert job_queue_place(job=first) is not None
    assert job_queue_place(job=first).position == 1  # type: ignore[union-attr]
    assert job_queue_place(job=running) is None
    assert second.queue == QUEUE_LONG


def test_the_job_body_says_why_a_job_waits_and_stops_once_it_runs() -> None:
    job = create(Job.Kind.DEPLOY, "P", target_name="prod")

    waiting = job_state(job)["warnings"]
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    job.refresh_from_db()
    running = job_state(job)["warnings"]

    assert waiting == [
        {
            "code": "JobQueued",
            "message": "Waiting in the short queue: next to start. No job runs on "
            "it: its worker may be starting or down.",
        }
    ]
    assert running == []
    # Computed when read, never stored.
    assert job.warnings == []


def test_a_running_training_shows_its_stage_and_an_honest_time_left() -> None:
    job = create(Job.Kind.TRAIN, "P")
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        started_at=now - timedelta(seconds=60),
        percent_complete=40,
    )
    job.refresh_from_db()
    note = training_stage_note(job)

    Job.objects.filter(pk=job.pk).update(percent_complete=2)
    job.refresh_from_db()
    early = training_stage_note(job)
    Job.objects.filter(pk=job.pk).update(percent_complete=90)
    job.refresh_from_db()
    evaluating = training_stage_note(job)

    # 60 s for 40 %: 150 s in all, 90 s left.
    assert note == "Stage: training. About 1 min 30 s left."
    assert early == (
        "Stage: loading and splitting the data. Estimating the time left..."
    )
    assert evaluating.startswith("Stage: evaluating. About ")


# --- fair share ----------------------------------------------------------------


def test_one_project_cannot_fill_a_queue(settings: Any) -> None:
    settings.STUDIO_QUEUE_LIMIT_PER_PROJECT = 2
    create(Job.Kind.EXPORT, "P")
    create(Job.Kind.EXPORT, "P")

    with pytest.raises(Conflict) as refused:
        create(Job.Kind.EXPORT, "P")

    assert refused.value.status_code == 409
    assert "already has 2 job(s) waiting or running in the short queue" in (
        refused.value.message
    )
    assert Job.objects.filter(project_name="P").count() == 2
    # Other projects, and the other queue, still have room.
    create(Job.Kind.EXPORT, "Q")
    create(Job.Kind.TRAIN, "P")


def test_finished_jobs_free_their_place(settings: Any) -> None:
    settings.STUDIO_QUEUE_LIMIT_PER_PROJECT = 1
    job = create(Job.Kind.EXPORT, "P")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)

    assert create(Job.Kind.EXPORT, "P").status == Job.Status.NOT_STARTED


def test_one_user_cannot_fill_a_queue_across_projects(settings: Any) -> None:
    settings.STUDIO_QUEUE_LIMIT_PER_USER = 2
    user = get_user_model().objects.create_user("busy", password="x" * 12)
    other = get_user_model().objects.create_user("other", password="x" * 12)
    create(Job.Kind.TRAIN, "A", requested_by=user.pk)
    create(Job.Kind.TRAIN, "B", requested_by=user.pk)

    with pytest.raises(Conflict) as refused:
        create(Job.Kind.TRAIN, "C", requested_by=user.pk)

    assert "You already have 2 job(s) waiting or running in the long queue" in (
        refused.value.message
    )
    create(Job.Kind.TRAIN, "C", requested_by=other.pk)
    # Jobs of nobody in particular (resource keys, the system) have no user limit.
    create(Job.Kind.TRAIN, "D")
    assert Job.objects.filter(requested_by=user).count() == 2


def test_deleting_a_user_keeps_their_jobs_without_a_requester() -> None:
    user = get_user_model().objects.create_user("gone", password="x" * 12)
    job = create(Job.Kind.TRAIN, "A", requested_by=user.pk)

    user.delete()
    job.refresh_from_db()

    assert job.requested_by_id is None


def test_short_workers_also_drain_celerys_old_default_queue() -> None:
    """Jobs sent before the split went to Celery's default queue ``celery``: the
    short workers of ``make run`` and of docker-compose consume it too, so such a job
    runs after an upgrade instead of waiting forever as notStarted."""
    from pathlib import Path

    from studio.management.commands.runstudio import Command

    commands = Command().commands(
        host="127.0.0.1", port=8000, web_workers=1, worker_concurrency=1
    )
    consumed = {
        name: command[command.index("--queues") + 1].split(",")
        for name, command in commands.items()
        if name.startswith("worker-")
    }
    assert consumed == {"worker-long": ["long"], "worker-short": ["short", "celery"]}
    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    assert '"--queues", "short,celery"' in compose
    assert '"--queues", "long",' in compose
