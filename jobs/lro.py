"""Long-running operations as azure-core's poller needs them (azure-api.md §3.1).

Triggers answer 202 with an absolute ``Operation-Location`` (built from the request's
host, with ``api-version``) and a short ``Retry-After``; never ``Location`` and never a
``resourceLocation`` in job bodies, which would send the poller elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.models import Job
from jobs.queues import job_queue_warning
from jobs.selectors import job_get

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class AcceptedResponse(Response):
    """An empty 202 that still says ``application/json``, as every Azure answer does
    (the spec's ``produces``); DRF drops the ``Content-Type`` of an empty body."""

    @property
    def rendered_content(self) -> Any:
        content = super().rendered_content
        self["Content-Type"] = JSON_CONTENT_TYPE
        return content


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def retry_after_seconds() -> int:
    return int(getattr(settings, "STUDIO_RETRY_AFTER_SECONDS", 1))


def absolute_url(request: Request, path: str, **query: str) -> str:
    """``path`` on the request's host, carrying the request's ``api-version``."""
    params = dict(query)
    version = request.query_params.get("api-version")
    if version:
        params = {"api-version": version, **params}
    suffix = "?" + urlencode(params) if params else ""
    return request.build_absolute_uri(path + suffix)


def accepted(request: Request, job: Job, poll_path: str) -> Response:
    """202 for a job whose status lives at ``poll_path`` (empty JSON answer)."""
    response = AcceptedResponse(status=202)
    response["Operation-Location"] = absolute_url(request, poll_path)
    response["Retry-After"] = str(retry_after_seconds())
    return response


def job_state(job: Job) -> dict[str, Any]:
    """Azure's JobState body; callers add ``resultUrl`` or ``result``.

    A job that has not started carries one more warning, computed now, saying why
    it waits (its queue, its position, what runs ahead: ``jobs.queues``).
    """
    warnings = list(job.warnings)
    queued = job_queue_warning(job=job)
    if queued is not None:
        warnings.append(queued)
    return {
        "jobId": job.job_id,
        "createdDateTime": iso(job.created_at),
        "lastUpdatedDateTime": iso(job.updated_at),
        "expirationDateTime": iso(job.expires_at),
        "status": job.status,
        "warnings": warnings,
        "errors": job.errors,
    }


def job_response(body: dict[str, Any], job: Job) -> Response:
    """A job status body, with ``Retry-After`` while the job is still going."""
    response = Response(body)
    if not job.is_finished:
        response["Retry-After"] = str(retry_after_seconds())
    return response


def job_status_response(
    *,
    job_id: str,
    kinds: Collection[str],
    project_name: str,
    target_name: str | None = None,
    api: str = Job.Api.CONVERSATIONS,
    body: Callable[[Job], dict[str, Any]] = job_state,
) -> Response:
    """The answer to a job poll (every ``.../jobs/{jobId}`` GET of the authoring
    APIs): the job of this URL, which ``job_get`` scopes to the project, kinds,
    target and API (404 ``OperationNotFound`` for any other), rendered by ``body``
    (Azure's JobState unless the operation adds to it), with ``Retry-After`` while
    it is still going. The caller has checked the caller's access to the project."""
    job = job_get(
        job_id=job_id,
        kinds=kinds,
        project_name=project_name,
        target_name=target_name,
        api=api,
    )
    return job_response(body(job), job)
