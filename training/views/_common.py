"""Plumbing shared by the train, models, deployments and playground screens.

Jobs started from these screens are shown as a progress fragment that htmx polls
(``hx-trigger="every 1s"``) until the job ends; the fragment is rendered from the
``Job`` row alone, so a page reload shows exactly what polling shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from jobs.models import Job
from jobs.queues import job_wait_note
from projects.models import Project
from studio.plain_errors import plain_job_messages
from training.train_jobs import training_stage_note

POLL_SECONDS = 1
# Unprocessable input: base.html makes htmx swap 422 responses too.
INVALID = 422


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def redirect_with(request: HttpRequest, url: str, message: str) -> HttpResponse:
    messages.success(request, message)
    return HttpResponseRedirect(url)


@dataclass(frozen=True, slots=True)
class JobView:
    """What a job row looks like on screen."""

    job: Job
    percent: int
    duration: timedelta | None
    errors: list[str]
    warnings: list[str]
    # Why it waits (queue position, what runs ahead), or its stage and time left.
    status_note: str = ""

    @property
    def finished(self) -> bool:
        return self.job.is_finished

    @property
    def cancellable(self) -> bool:
        return self.job.status in (Job.Status.NOT_STARTED, Job.Status.RUNNING)


def job_view(job: Job) -> JobView:
    percent = 100 if job.status == Job.Status.SUCCEEDED else job.percent_complete
    duration = None
    if job.started_at is not None and job.finished_at is not None:
        duration = job.finished_at - job.started_at
    return JobView(
        job=job,
        percent=percent,
        duration=duration,
        errors=plain_job_messages(job.errors),
        warnings=plain_job_messages(job.warnings),
        status_note=job_wait_note(job=job)
        or (training_stage_note(job) if job.kind == Job.Kind.TRAIN else ""),
    )


def project_job(project: Project, job_id: str, kinds: tuple[str, ...]) -> Job:
    """A job of this project and of these kinds, else 404 (a job id of another
    project reveals nothing)."""
    job = Job.objects.filter(
        job_id=job_id, project=project, kind__in=list(kinds)
    ).first()
    if job is None:
        raise Http404("No such job in this project.")
    return job


def first_error(errors: dict[str, list[str]]) -> str:
    for values in errors.values():
        if values:
            return values[0]
    return ""


def context(project: Project, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"project": project, "poll_seconds": POLL_SECONDS}
    base.update(extra)
    return base
