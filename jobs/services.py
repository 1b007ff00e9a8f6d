"""Job lifecycle: create and enqueue, run on a worker, fail the jobs of dead workers.

Rules (see jobs/README.md):
- A job is enqueued only after the transaction that created it commits.
- A worker claims a job with a conditional update (notStarted -> running), so a message
  delivered twice runs once.
- While it runs (or is cancelling), a background thread beats ``heartbeat_at``; a job
  whose heartbeat stops (the worker was killed) is failed by ``jobs_fail_stale`` with
  a reason (a cancelling one ends ``cancelled``), and its operation can be retried.
- A queued job whose message was lost (it waits on an idle queue) is sent again by
  ``jobs_redispatch_lost``, a few times at most, then failed with a reason.
  Operations apply their changes in one transaction at the end, so a killed job
  changes nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from kombu.exceptions import KombuError

from jobs.dispatch import Enqueueable, job_task
from jobs.models import Job
from jobs.queues import job_queue
from studio.audit import audit_record
from studio.cpu import at_normal_priority
from studio.errors import Conflict, StudioError
from studio.requester import requester_id
from studio.selectors.workers import queue_has_live_worker

logger = logging.getLogger(__name__)

JOB_LIFETIME = timedelta(days=7)
# .NET ticks (100 ns since 0001-01-01) of the Unix epoch: Azure's job ids end in ticks.
_EPOCH_TICKS = 621_355_968_000_000_000


class JobCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised by an operation that noticed a cancel request before committing."""


class QueueLimitReached(Conflict):
    """409: the project or the user already has as many unfinished jobs in a queue
    as the fair-share limits allow (``job_create``). Callers that reword the other
    conflicts of ``job_create`` (one active job of a family) let this one through."""


class ProjectRow(Protocol):
    """What a job needs of its ``projects.Project`` row (jobs import nothing from
    projects: they sit below it)."""

    @property
    def pk(self) -> Any: ...

    @property
    def name(self) -> str: ...


def _heartbeat_interval() -> float:
    return float(getattr(settings, "STUDIO_JOB_HEARTBEAT_SECONDS", 2.0))


def _new_job_id(now: datetime) -> str:
    ticks = _EPOCH_TICKS + int(now.timestamp() * 10_000_000)
    return f"{uuid.uuid4()}_{ticks}"


def _projects() -> QuerySet[Any]:
    """Every project row, through the model ``Job.project`` points to: jobs sit
    below projects and never import them (jobs.models)."""
    return Job._meta.get_field("project").related_model._default_manager.all()


def _pk(project: ProjectRow | None) -> Any:
    return None if project is None else project.pk


def _project_of(project_name: str, project: ProjectRow | None) -> ProjectRow | None:
    """The project row a new job belongs to: the one given, else the project now
    called ``project_name`` (none yet for an import that creates it)."""
    if project is not None:
        return project
    return _projects().filter(name=project_name).first()


# The audit trail's action for the request of each kind of job.
_JOB_ACTIONS: dict[str, str] = {
    Job.Kind.IMPORT: "project.import",
    Job.Kind.EXPORT: "project.export",
    Job.Kind.PROJECT_DELETE: "project.delete",
    Job.Kind.TRAIN: "model.train",
    Job.Kind.DEPLOY: "deployment.deploy",
    Job.Kind.DEPLOYMENT_DELETE: "deployment.delete",
    Job.Kind.SWAP: "deployment.swap",
    Job.Kind.LOAD_SNAPSHOT: "model.load",
    Job.Kind.UPDATE_QNAS: "kb.update",
    Job.Kind.UPDATE_SOURCES: "kb.sources",
    Job.Kind.UTTERANCES_UPLOAD: "utterances.upload",
    Job.Kind.RESOURCES_ASSIGN: "resources.assign",
    Job.Kind.RESOURCES_UNASSIGN: "resources.unassign",
    Job.Kind.RESOURCES_DEPLOY: "resources.deploy",
    Job.Kind.RESOURCES_DELETE: "resources.delete",
}
# Params that are internal (staged file names, the owner's id), not what was asked.
_UNAUDITED_PARAMS = frozenset({"file", "owner_id", "journal"})


def _job_audit(job: Job) -> None:
    """Who asked for the job, and what: recorded with the job, in its transaction."""
    asked: dict[str, Any] = {"jobId": job.job_id}
    for key, value in job.params.items():
        if key in _UNAUDITED_PARAMS:
            continue
        if isinstance(value, str | int | float | bool) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            asked[key] = value
    audit_record(
        action=_JOB_ACTIONS.get(job.kind, f"job.{job.kind}"),
        project=job.project,
        project_name=job.project_name,
        target=f"{job.get_kind_display().lower()} {job.target_name}".strip(),
        after=asked,
    )


def job_create(
    *,
    kind: str,
    project_name: str,
    api: str = Job.Api.CONVERSATIONS,
    target_name: str = "",
    params: dict[str, Any] | None = None,
    project: ProjectRow | None = None,
    size_bytes: int | None = None,
    requested_by: int | None = None,
    warnings: list[dict[str, str]] | None = None,
    task: Enqueueable | None = None,
) -> Job:
    """Record a job of the project called ``project_name`` (``project`` saves the
    lookup); enqueue ``task(job_pk)`` on its queue when the transaction commits:
    by default the task registered for ``kind`` and ``api`` (``jobs.dispatch``;
    tests pass one that records the call).

    The queue comes from ``jobs.queues.job_queue`` (by kind and, for uploads,
    ``size_bytes``; by default the size of the staged ``params["file"]``). Before
    the insert, the fair-share limits are checked under row locks (``_queue_limits``):
    one project, or one user (``requested_by``, by default the user the current
    request acts for), cannot fill a queue. ``warnings`` known when the request is
    accepted are on the job from the start.
    """
    params = params or {}
    if task is None:
        task = job_task(kind=kind, api=api)
    if size_bytes is None:
        size_bytes = _staged_size(params)
    queue = job_queue(kind=kind, size_bytes=size_bytes)
    if requested_by is None:
        requested_by = requester_id()
    now = timezone.now()
    owner = _project_of(project_name, project)
    with transaction.atomic():
        _queue_limits(queue=queue, project_name=project_name, user_id=requested_by)
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    job_id=_new_job_id(now),
                    kind=kind,
                    api=api,
                    project_name=project_name,
                    project_id=_pk(owner),
                    target_name=target_name,
                    params=params,
                    warnings=warnings or [],
                    expires_at=now + JOB_LIFETIME,
                    queue=queue,
                    requested_by_id=requested_by,
                )
            _job_audit(job)
        except IntegrityError:
            # job_id is a fresh uuid: the insert can only break one of the
            # "one active job of this family per project" constraints.
            families: dict[str, str] = {
                Job.Kind.IMPORT: "import, upload or deletion",
                Job.Kind.PROJECT_DELETE: "import, upload or deletion",
                Job.Kind.UTTERANCES_UPLOAD: "import, upload or deletion",
                Job.Kind.TRAIN: "training job",
            }
            family = families.get(kind, "deployment change")
            raise Conflict(
                f"Another {family} of project {project_name!r} is in progress; "
                "wait for it to finish and try again.",
                target="projectName",
            ) from None
        pk = str(job.pk)
        transaction.on_commit(lambda: task.apply_async(args=[pk], queue=queue))
    return job


def _staged_size(params: dict[str, Any]) -> int:
    """Bytes of the document a job will process: its staged file, if any."""
    name = params.get("file")
    if not isinstance(name, str) or not name:
        return 0
    try:
        return int(default_storage.size(name))
    except OSError:
        return 0


def _queue_limits(*, queue: str, project_name: str, user_id: int | None) -> None:
    """409 when the project, or the user, already has as many unfinished jobs in
    ``queue`` as ``STUDIO_QUEUE_LIMIT_PER_PROJECT`` / ``_PER_USER`` allow.

    Runs inside ``job_create``'s transaction after locking the project row and the
    user row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes writers), so two
    concurrent requests cannot both take the last place.
    """
    from django.contrib.auth import get_user_model

    per_project = int(settings.STUDIO_QUEUE_LIMIT_PER_PROJECT)
    per_user = int(settings.STUDIO_QUEUE_LIMIT_PER_USER)
    unfinished = Job.objects.filter(queue=queue, status__in=Job.ACTIVE)
    list(_projects().select_for_update().filter(name=project_name).values("pk"))
    if unfinished.filter(project_name=project_name).count() >= per_project:
        raise QueueLimitReached(
            f"Project {project_name!r} already has {per_project} job(s) waiting or "
            f"running in the {queue} queue, the most one project may have; wait "
            "for one of them to finish and try again.",
            target="projectName",
        )
    if user_id is None:
        return
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values("pk"))
    if unfinished.filter(requested_by_id=user_id).count() >= per_user:
        raise QueueLimitReached(
            f"You already have {per_user} job(s) waiting or running in the {queue} "
            "queue, the most one user may have; wait for one of them to finish "
            "and try again.",
            target="projectName",
        )


def job_record_finished(
    *,
    kind: str,
    project_name: str,
    api: str = Job.Api.CONVERSATIONS,
    project: ProjectRow | None = None,
) -> Job:
    """A job for an operation already applied within the request (Azure models some
    quick writes as jobs; clients still poll them)."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.create(
            job_id=_new_job_id(now),
            kind=kind,
            api=api,
            project_name=project_name,
            project_id=_pk(_project_of(project_name, project)),
            status=Job.Status.SUCCEEDED,
            percent_complete=100,
            started_at=now,
            finished_at=now,
            expires_at=now + JOB_LIFETIME,
        )
        _job_audit(job)
    return job


def job_run_in_request(
    *,
    kind: str,
    project: ProjectRow,
    operation: Callable[[JobContext], dict[str, Any] | None],
    params: dict[str, Any] | None = None,
    api: str = Job.Api.CONVERSATIONS,
) -> dict[str, Any]:
    """Run ``operation`` now, in this web request, under a job row of its own, and
    return its result; its errors are re-raised for the request to answer (the row
    ends ``failed`` or ``cancelled`` too).

    For writes that answer synchronously but go in several transactions (the API's
    ``utterances:import``): the row claims the project like a queued job would
    (the one-active-import-upload-or-deletion constraint: a concurrent one is
    409), carries the operation's journal and a heartbeat, so if this process is
    killed mid-way the workers' sweep fails the job and undoes what it recorded.
    It is on no queue (``queue=""``): nothing waits behind it.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            job = Job.objects.create(
                job_id=_new_job_id(now),
                kind=kind,
                api=api,
                project_name=project.name,
                project_id=project.pk,
                params=params or {},
                status=Job.Status.RUNNING,
                started_at=now,
                heartbeat_at=now,
                expires_at=now + JOB_LIFETIME,
                queue="",
                requested_by_id=requester_id(),
                worker=f"{socket.gethostname()}:{os.getpid()} (web request)",
            )
    except IntegrityError:
        raise Conflict(
            f"Another import, upload or deletion of project {project.name!r} is in "
            "progress; wait for it to finish and try again."
        ) from None
    try:
        with _Heartbeat(job.pk, _heartbeat_interval()):
            result = operation(JobContext(job)) or {}
    except JobCancelled:
        _finish(job.pk, status=Job.Status.CANCELLED)
        raise
    except StudioError as exc:
        details = exc.details or [exc.as_detail()]
        _finish(
            job.pk, status=Job.Status.FAILED, errors=[d.as_azure() for d in details]
        )
        raise
    except BaseException as exc:
        _finish(
            job.pk,
            status=Job.Status.FAILED,
            errors=[_unexpected_error(job, exc)],
        )
        raise
    _finish(job.pk, status=Job.Status.SUCCEEDED, percent_complete=100, result=result)
    return result


@dataclass
class JobContext:
    """What an operation sees of its job while it runs on a worker."""

    job: Job
    _last_percent: int = field(default=0, init=False)

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def progress(self, percent: float) -> None:
        """Report progress in percent; stored only when it moves forward."""
        value = max(0, min(100, int(percent)))
        if value <= self._last_percent:
            return
        self._last_percent = value
        # At normal priority: a niced writer holding SQLite's lock stalls the others
        # (studio/cpu.py).
        at_normal_priority(
            Job.objects.filter(pk=self.job.pk).update,
            percent_complete=value,
            updated_at=timezone.now(),
        )

    def cancel_requested(self) -> bool:
        status = (
            Job.objects.filter(pk=self.job.pk).values_list("status", flat=True).first()
        )
        return status in (Job.Status.CANCELLING, Job.Status.CANCELLED)

    def raise_if_cancelled(self) -> None:
        """Call at safe points, before anything is committed."""
        if self.cancel_requested():
            raise JobCancelled


class _Heartbeat:
    """Beats ``heartbeat_at`` from a thread with its own DB connection."""

    def __init__(self, job_pk: Any, interval: float) -> None:
        self._job_pk = job_pk
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"job-heartbeat-{job_pk}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval * 2 + 5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                # A cancelling job's worker is still busy stopping: it beats too,
                # or the sweeper would fail a job whose worker is alive. At normal
                # priority, as every short write of a job (studio/cpu.py).
                at_normal_priority(
                    Job.objects.filter(
                        pk=self._job_pk,
                        status__in=[Job.Status.RUNNING, Job.Status.CANCELLING],
                    ).update,
                    heartbeat_at=timezone.now(),
                )
        except Exception:  # noqa: BLE001 - a failed beat must not kill the worker
            logger.exception("job heartbeat failed for %s", self._job_pk)
        finally:
            connection.close()


def _claim(job_pk: Any) -> Job | None:
    now = timezone.now()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    claimed = Job.objects.filter(pk=job_pk, status=Job.Status.NOT_STARTED).update(
        status=Job.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        updated_at=now,
        worker=worker,
    )
    if not claimed:
        return None
    job = Job.objects.get(pk=job_pk)
    Job.objects.filter(pk=job_pk).update(attempts=job.attempts + 1)
    return job


def _finish(job_pk: Any, **fields: Any) -> None:
    now = timezone.now()
    # Only a running (or cancelling) job can finish: a job failed meanwhile by the
    # sweeper keeps its verdict.
    Job.objects.filter(
        pk=job_pk, status__in=[Job.Status.RUNNING, Job.Status.CANCELLING]
    ).update(finished_at=now, updated_at=now, **fields)


def _unexpected_error(job: Job, exc: BaseException) -> dict[str, str]:
    """The job's error for an exception no service turned into a StudioError."""
    return {
        "code": "InternalServerError",
        "message": f"The {job.kind} operation failed unexpectedly: {exc}",
    }


def job_execute(
    *, job_pk: Any, operation: Callable[[JobContext], dict[str, Any] | None]
) -> None:
    """Run ``operation`` for the job on this worker and record how it ended.

    ``operation`` returns the job's ``result`` (or None). A ``StudioError`` fails the
    job with that error (a client mistake, e.g. a bad import file); any other exception
    fails it as an internal error and is logged. Nothing is re-raised: the job row is
    the outcome, and Celery must not retry a failed operation blindly.
    """
    # Celery's Django fixup closes stale connections around every task, and eager
    # runs (tests, the embedded fallback) may sit inside a transaction: never close
    # connections here.
    job = _claim(job_pk)
    if job is None:
        logger.info("job %s is not waiting to run (already claimed or gone)", job_pk)
        return
    context = JobContext(job)
    try:
        with _Heartbeat(job.pk, _heartbeat_interval()):
            result = operation(context)
    except JobCancelled:
        _finish(job.pk, status=Job.Status.CANCELLED)
    except StudioError as exc:
        details = exc.details or [exc.as_detail()]
        _finish(
            job.pk,
            status=Job.Status.FAILED,
            errors=[d.as_azure() for d in details],
        )
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.job_id, job.kind)
        _finish(
            job.pk,
            status=Job.Status.FAILED,
            errors=[_unexpected_error(job, exc)],
        )
    else:
        # A cancel that arrives after the operation committed is too late: the
        # operation's changes stand, so the job reports success.
        _finish(
            job.pk,
            status=Job.Status.SUCCEEDED,
            percent_complete=100,
            result=result or {},
        )


def jobs_fail_stale(*, stale_after: timedelta, now: datetime | None = None) -> int:
    """End the jobs whose heartbeat stopped: their worker was killed or lost.

    A running job is failed with a reason; a cancelling one ends ``cancelled``,
    as asked (operations apply nothing before their final commit, so neither
    changed anything). Returns how many jobs were ended. Safe to call from every
    worker concurrently.
    """
    now = now or timezone.now()
    cutoff = now - stale_after
    error = {
        "code": "InternalServerError",
        "message": (
            "The worker running this job stopped responding (it was killed or crashed) "
            f"and its heartbeat is older than {int(stale_after.total_seconds())} s. "
            "No changes were applied; run the operation again."
        ),
    }
    stale = Job.objects.filter(heartbeat_at__lt=cutoff)
    cancelled = stale.filter(status=Job.Status.CANCELLING).update(
        status=Job.Status.CANCELLED, finished_at=now, updated_at=now
    )
    failed = stale.filter(status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED, errors=[error], finished_at=now, updated_at=now
    )
    return cancelled + failed


@dataclass(frozen=True, slots=True)
class Redispatched:
    """What one round of ``jobs_redispatch_lost`` did."""

    resent: int = 0
    failed: int = 0


def jobs_redispatch_lost(
    *, waited: timedelta, limit: int, now: datetime | None = None
) -> Redispatched:
    """Send again the message of each queued job that has waited longer than
    ``waited`` on an idle queue; a job already sent again ``limit`` times fails.

    A job waits legitimately behind the jobs of its queue (a deploy behind a
    deploy, a training behind a training). But when nothing runs on its queue,
    nothing there finished within ``waited`` and a live worker consumes it, a job
    that still has not started has no message in the broker any more: a consumer
    crashed reading it (studio/broker.py), a broker restart dropped it, or the web
    process died between the commit and the send. Re-sending is harmless: every
    task claims its job ``notStarted -> running`` first (``_claim``), so a second
    message for a job is a no-op. Each re-send is recorded on the job (``resends``,
    a ``JobResent`` warning) and logged; the job waits a full ``waited`` again
    before the next. Safe to call from every worker at once: a conditional update
    claims each re-send before the message goes.
    """
    now = now or timezone.now()
    cutoff = now - waited
    due = Job.objects.filter(status=Job.Status.NOT_STARTED).exclude(queue="")
    due = due.filter(
        Q(resent_at__lt=cutoff) | Q(resent_at__isnull=True, created_at__lt=cutoff)
    )
    resent = failed = 0
    for queue in sorted(set(due.values_list("queue", flat=True))):
        if not _queue_idle(queue=queue, since=cutoff):
            continue
        if not queue_has_live_worker(queue=queue):
            continue  # its messages wait in the broker; the job body says why
        for job in due.filter(queue=queue).order_by("created_at"):
            if job.resends >= limit:
                failed += _lost_job_fail(job, now=now, limit=limit)
            else:
                resent += _lost_job_resend(job, now=now, limit=limit)
    return Redispatched(resent=resent, failed=failed)


def _queue_idle(*, queue: str, since: datetime) -> bool:
    """Nothing runs on ``queue`` and nothing that ran there finished after
    ``since``: its workers were free all along."""
    busy = Q(status__in=[Job.Status.RUNNING, Job.Status.CANCELLING]) | Q(
        started_at__isnull=False, finished_at__gte=since
    )
    return not Job.objects.filter(busy, queue=queue).exists()


def _lost_job_resend(job: Job, *, now: datetime, limit: int) -> int:
    """Send ``job``'s message again; 1 if this call sent it, else 0."""
    try:
        task = job_task(kind=job.kind, api=job.api)
    except ImproperlyConfigured:
        logger.exception("Cannot send job %s again", job.job_id)
        return 0
    waited = int((now - (job.resent_at or job.created_at)).total_seconds())
    count = job.resends + 1
    warning = {
        "code": "JobResent",
        "message": (
            f"The job waited {waited} s without starting although nothing ran "
            f"ahead of it in the {job.queue} queue: its queue message was lost, so "
            f"it was sent again ({count} of {limit})."
        ),
    }
    claimed = Job.objects.filter(
        pk=job.pk, status=Job.Status.NOT_STARTED, resends=job.resends
    ).update(
        resends=count,
        resent_at=now,
        warnings=[*job.warnings, warning],
        updated_at=now,
    )
    if not claimed:
        return 0  # another worker's sweep sent it, or it started meanwhile
    try:
        task.apply_async(args=[str(job.pk)], queue=job.queue)
    except (KombuError, OSError) as exc:
        # The broker is down: not counted, the next sweep tries again.
        Job.objects.filter(pk=job.pk, resends=count).update(
            resends=job.resends, resent_at=job.resent_at, warnings=job.warnings
        )
        logger.warning("Could not send job %s again: %s", job.job_id, exc)
        return 0
    logger.warning(
        "Sent job %s (%s of %r) again to the %s queue (%d of %d): it waited %d s "
        "on the idle queue, so its message was lost.",
        job.job_id,
        job.kind,
        job.project_name,
        job.queue,
        count,
        limit,
        waited,
    )
    return 1


def _lost_job_fail(job: Job, *, now: datetime, limit: int) -> int:
    """Fail a job whose message is lost for good; 1 if this call failed it."""
    tried = (
        f"sending it again {limit} time{'s' if limit != 1 else ''} did not help"
        if limit
        else "re-sending is off (STUDIO_JOB_REDISPATCH_LIMIT=0)"
    )
    error = {
        "code": "InternalServerError",
        "message": (
            f"The job never started: it waited in the {job.queue} queue with no job "
            f"running ahead of it, its queue message was lost and {tried}. No "
            "changes were applied; run the operation again."
        ),
    }
    ended = Job.objects.filter(
        pk=job.pk, status=Job.Status.NOT_STARTED, resends=job.resends
    ).update(status=Job.Status.FAILED, errors=[error], finished_at=now, updated_at=now)
    if ended:
        logger.warning(
            "Failed job %s (%s of %r): it never started and was sent again %d time(s).",
            job.job_id,
            job.kind,
            job.project_name,
            job.resends,
        )
    return ended


def job_cancel(*, job: Job) -> Job:
    """Ask a job to stop: a waiting job is cancelled at once, a running one is marked
    ``cancelling`` and its operation stops at its next check."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk, status=Job.Status.NOT_STARTED).update(
        status=Job.Status.CANCELLED, finished_at=now, updated_at=now
    )
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.CANCELLING, updated_at=now
    )
    job.refresh_from_db()
    return job


def _job_files(jobs: QuerySet[Job]) -> set[str]:
    """The storage files ``jobs`` own: an export's result (``result["file"]``) and a
    staged input its worker never got to remove (``params["file"]``)."""
    names: set[str] = set()
    for result, params in jobs.values_list("result", "params"):
        for owner in (result, params):
            name = owner.get("file") if isinstance(owner, dict) else None
            if isinstance(name, str) and name:
                names.add(name)
    return names


def jobs_delete(*, jobs: QuerySet[Job]) -> int:
    """Delete ``jobs`` and, once that has committed, the files they own (a rollback
    keeps both). Returns how many jobs were deleted."""
    with transaction.atomic():
        names = _job_files(jobs)
        deleted, _ = jobs.delete()

        def delete_files() -> None:
            for name in names:
                default_storage.delete(name)

        transaction.on_commit(delete_files)
    return deleted


def jobs_purge_expired(*, now: datetime | None = None) -> int:
    """Delete finished jobs past their expiration date (Azure keeps them 7 days),
    with the files they own in storage."""
    now = now or datetime.now(tz=UTC)
    return jobs_delete(
        jobs=Job.objects.filter(expires_at__lt=now, status__in=Job.FINISHED)
    )
