"""Which Celery queue a job runs on, and what a waiting job waits for.

Two queues, each served by worker processes of its own (``make run`` starts one of
each; docker-compose has a ``worker-long`` and a ``worker-short`` service):

* ``long``: work that can take minutes — training (with its evaluation), loading a
  snapshot, deployment-resource jobs (they wait for other servers), and any job
  that processes an upload of more than ``LONG_UPLOAD_BYTES``
  (imports, Data-page uploads).
* ``short``: work that takes seconds — deploy, delete deployment, swap, export,
  project deletion and small imports.

So a deploy never waits behind someone's 50,000-utterance training. The queue is
chosen once, when the job is created (``job_queue``), and stored on the ``Job`` row:
positions and "what runs ahead" are computed from our own table, never from broker
introspection (the filesystem transport has none worth the name).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from jobs.models import Job
from studio.queues import QUEUE_LONG, QUEUE_SHORT

# A job that processes an upload larger than this runs on the long queue. A 1 MiB
# Azure export is roughly 8,000 utterances, which imports in a few seconds on SQLite.
LONG_UPLOAD_BYTES = 1024 * 1024

# Kinds that are long whatever their size.
# Resource jobs talk to other servers and wait for their training.
_ALWAYS_LONG = frozenset(
    {
        Job.Kind.TRAIN,
        Job.Kind.LOAD_SNAPSHOT,
        Job.Kind.RESOURCES_ASSIGN,
        Job.Kind.RESOURCES_UNASSIGN,
        Job.Kind.RESOURCES_DEPLOY,
        Job.Kind.RESOURCES_DELETE,
    }
)


_KIND_NOUNS: dict[str, str] = {
    Job.Kind.IMPORT: "import",
    Job.Kind.EXPORT: "export",
    Job.Kind.PROJECT_DELETE: "project deletion",
    Job.Kind.TRAIN: "training",
    Job.Kind.DEPLOY: "deployment",
    Job.Kind.DEPLOYMENT_DELETE: "deployment deletion",
    Job.Kind.SWAP: "swap",
    Job.Kind.LOAD_SNAPSHOT: "snapshot load",
    Job.Kind.UPDATE_QNAS: "question update",
    Job.Kind.UPDATE_SOURCES: "source update",
    Job.Kind.UTTERANCES_UPLOAD: "utterance upload",
    Job.Kind.RESOURCES_ASSIGN: "resource assignment",
    Job.Kind.RESOURCES_UNASSIGN: "resource unassignment",
    Job.Kind.RESOURCES_DEPLOY: "copy to resources",
    Job.Kind.RESOURCES_DELETE: "deletion from resources",
}


def job_queue(*, kind: str, size_bytes: int = 0) -> str:
    """The queue a job of ``kind`` runs on; ``size_bytes`` is the size of the
    upload it processes, 0 when there is none.

    This is the one routing rule: every job goes through it in ``job_create``, and
    callers that know an upload's size pass it (``job_create(..., size_bytes=...)``;
    by default ``job_create`` uses the size of the staged ``params["file"]``).
    """
    if kind in _ALWAYS_LONG or size_bytes > LONG_UPLOAD_BYTES:
        return QUEUE_LONG
    return QUEUE_SHORT


@dataclass(frozen=True, slots=True)
class QueuePlace:
    """Where a waiting job stands in its queue."""

    queue: str
    # 1 = next to start once a worker of the queue is free.
    position: int
    # Jobs of the queue that run now and jobs that wait ahead of this one, by kind.
    running: Counter[str]
    waiting: Counter[str]

    def describe(self) -> str:
        """Plain language for the job body's ``warnings`` and the studio."""
        text = (
            f"Waiting in the {self.queue} queue: position {self.position}."
            if self.position > 1
            else f"Waiting in the {self.queue} queue: next to start."
        )
        ahead = []
        if self.running:
            ahead.append(f"running now: {_kinds_text(self.running)}")
        if self.waiting:
            ahead.append(f"waiting ahead: {_kinds_text(self.waiting)}")
        if ahead:
            joined = "; ".join(ahead)
            text += f" {joined[0].upper()}{joined[1:]}."
        elif self.position == 1:
            text += " No job runs on it: its worker may be starting or down."
        return text


def _kinds_text(counts: Counter[str]) -> str:
    parts = []
    for kind, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        noun = _KIND_NOUNS.get(kind, kind)
        parts.append(f"{count} {noun}{'s' if count > 1 else ''}")
    return ", ".join(parts)


def job_queue_place(*, job: Job) -> QueuePlace | None:
    """The place of a job that has not started yet, else None.

    Two small queries over the ``(queue, status, created_at)`` index. Other
    projects' jobs are counted by kind only: a job body never names a project its
    reader may not see.
    """
    if job.status != Job.Status.NOT_STARTED:
        return None
    active = Job.objects.filter(queue=job.queue, status__in=Job.ACTIVE)
    running = Counter(
        active.exclude(status=Job.Status.NOT_STARTED).values_list("kind", flat=True)
    )
    waiting = Counter(
        active.filter(status=Job.Status.NOT_STARTED, created_at__lt=job.created_at)
        .exclude(pk=job.pk)
        .values_list("kind", flat=True)
    )
    return QueuePlace(
        queue=job.queue,
        position=sum(waiting.values()) + 1,
        running=running,
        waiting=waiting,
    )


def job_wait_note(*, job: Job) -> str:
    """Why a job has not started, in plain language for the studio; "" once it
    runs."""
    place = job_queue_place(job=job)
    return "" if place is None else place.describe()


def job_queue_warning(*, job: Job) -> dict[str, str] | None:
    """An Azure warning (``{"code", "message"}``) saying why a job has not started,
    for job bodies; None for a job that started."""
    place = job_queue_place(job=job)
    if place is None:
        return None
    return {"code": "JobQueued", "message": place.describe()}
