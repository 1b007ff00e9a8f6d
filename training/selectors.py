"""Reads for jobs (and, with the runtime issue, models and deployments)."""

from __future__ import annotations

from collections.abc import Collection

from studio.errors import OperationNotFound
from training.models import Job


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
    another's job (no IDOR through guessed ids).
    """
    qs = Job.objects.filter(job_id=job_id, kind__in=list(kinds), api=api)
    if project_name is not None:
        qs = qs.filter(project_name=project_name)
    if target_name is not None:
        qs = qs.filter(target_name=target_name)
    job = qs.first()
    if job is None:
        raise OperationNotFound(f"The job {job_id!r} was not found.", target="jobId")
    return job
