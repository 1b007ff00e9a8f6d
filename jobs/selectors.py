"""Reads of jobs: a project's jobs, and one job as its Azure URL names it.

A job belongs to its project's row, not to the name (``project_jobs``), so a new
project that reuses a deleted one's name sees none of the old jobs. Jobs sit below
projects in the layering: the project table is reached through the Job's foreign
key (``Job.project``), never by importing projects.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Exists, Q, QuerySet

from jobs.models import Job
from studio.errors import OperationNotFound


def _projects() -> QuerySet[Any]:
    """Every project row, through the model ``Job.project`` points to."""
    return Job._meta.get_field("project").related_model._default_manager.all()


ACTIVE_JOB_STATUSES = (
    Job.Status.NOT_STARTED,
    Job.Status.RUNNING,
    Job.Status.CANCELLING,
)


def project_jobs(*, project_name: str) -> QuerySet[Job]:
    """The jobs of the project called ``project_name``, found by the project row's
    identity, not by the name: those of that row, plus an import still creating it
    (it attaches itself when it has). With no project of that name: only jobs that
    belong to no project (an import not yet done, a finished deletion).

    One statement, so one snapshot: looking the project up first and reading the
    jobs after would miss an import that commits its project and attaches itself
    in between (its poll answered 404 although the import succeeded)."""
    named = _projects().filter(name=project_name)
    detached = Q(project__isnull=True, project_name=project_name)
    creating = detached & Q(kind=Job.Kind.IMPORT, status__in=ACTIVE_JOB_STATUSES)
    orphaned = detached & ~Exists(named)
    return Job.objects.filter(Q(project__in=named.values("pk")) | creating | orphaned)


def job_get(
    *,
    job_id: str,
    kinds: Collection[str],
    project_name: str | None = None,
    target_name: str | None = None,
    api: str = Job.Api.CONVERSATIONS,
) -> Job:
    """The job with that id, only if it belongs to that URL's project and kind.

    Scoping by project, kind and API keeps one project's job URL from revealing
    another's job (no IDOR through guessed ids); the project is the row now called
    ``project_name`` (``project_jobs``), so a deleted project's jobs stay hidden from
    a new project of the same name.
    """
    qs = Job.objects.filter(job_id=job_id, kind__in=list(kinds), api=api)
    if project_name is not None:
        qs = qs & project_jobs(project_name=project_name)
    if target_name is not None:
        qs = qs.filter(target_name=target_name)
    job = qs.first()
    if job is None or _succeeded_by_namesake(job):
        raise OperationNotFound(f"The job {job_id!r} was not found.", target="jobId")
    return job


def _succeeded_by_namesake(job: Job) -> bool:
    """A deletion job (polled by id alone) of a project whose name a newer project
    holds now: it belongs to the old one, not to whoever may read the new one."""
    return (
        job.kind == Job.Kind.PROJECT_DELETE
        and job.project_id is None
        and _projects()
        .filter(name=job.project_name, created_at__gt=job.created_at)
        .exists()
    )
