"""Helpers shared by the conversation and question-answering authoring APIs.

Export tasks write ``exports/<jobId>.<ext>`` and record the name in
``job.result["file"]``; the ``resultUrl`` route serves it from there, so any web
replica can answer, whatever worker ran the job. Imports are staged by
``projects.services.jobs``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from django.core.files.storage import default_storage
from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.request import Request

from jobs.models import Job
from projects.models import Project
from projects.selectors import authoring as selectors
from studio.errors import InvalidArgument, NotFound
from studio.inputs import echo

# The 409 of creating a project (OpenAPI): names are unique across project kinds.
NAME_TAKEN = "The name is taken by a project of another kind (names are unique)."
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents the ``Ocp-Apim-Subscription-Key`` header in the OpenAPI schema
    (registered on import; every authoring URLconf imports this module)."""

    target_class = "studio.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key"}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <JWT>`` from the configured OpenID Connect issuer
    (``studio.api.tokens``), the alternative to the key header."""

    target_class = "studio.api.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def project_metadata(project: Project) -> dict[str, Any]:
    """Azure's ``ProjectMetadata`` of a project (a paging serializer)."""
    return selectors.project_metadata_as_azure(project=project)


def json_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def query_choice(
    request: Request,
    name: str,
    choices: Collection[str],
    *,
    default: str | None = None,
    required: bool = False,
) -> str | None:
    """A query parameter restricted to ``choices``, or a 400 naming the allowed ones."""
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise InvalidArgument(
                f"The query parameter {name!r} is required; use one of "
                f"{', '.join(choices)}.",
                target=name,
            )
        return default
    if value not in choices:
        raise InvalidArgument(
            f"Unsupported {name} {echo(value)}; use one of {', '.join(choices)}.",
            target=name,
        )
    return value


def export_file_response(job: Job) -> HttpResponse:
    """The file an export job wrote, or 404 while there is none."""
    name = job.result.get("file") if job.status == Job.Status.SUCCEEDED else None
    if not name or not default_storage.exists(name):
        raise NotFound(
            f"The export job {job.job_id!r} has no result (status {job.status}).",
            target="jobId",
        )
    with default_storage.open(name, "rb") as handle:
        content = handle.read()
    extension = name.rsplit(".", 1)[-1]
    return HttpResponse(
        content, content_type=CONTENT_TYPES.get(extension, CONTENT_TYPES["json"])
    )
