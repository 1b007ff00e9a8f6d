"""Helpers shared by the conversation and question-answering authoring APIs.

Import documents are staged in Django's default storage (``imports/<uuid>.<ext>``)
instead of the job row: a job is read on every poll, and an 8 MB body in its
``params`` would be loaded each time. The import task reads the staged file and
deletes it when the job ends. Export tasks write ``exports/<jobId>.<ext>`` and record
the name in ``job.result["file"]``; the ``resultUrl`` route serves it from there, so
any web replica can answer, whatever worker ran the job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.request import Request

from projects import selectors
from projects.models import Project
from projects.permissions import Actor, actor_reads_everything, readable_project_names
from studio.errors import Conflict, InvalidArgument, NotFound
from studio.inputs import echo
from training.models import Job

IMPORTS_DIR = "imports"
# The 409 of creating a project (OpenAPI): names are unique across project kinds.
NAME_TAKEN = "The name is taken by a project of another kind (names are unique)."
# Jobs that rewrite or remove a whole project, or add to it in chunks: only one of
# them may be queued or running per project, or a delete could interleave with an
# import's replacement or an upload's chunks.
EXCLUSIVE_KINDS = (Job.Kind.IMPORT, Job.Kind.PROJECT_DELETE, Job.Kind.UTTERANCES_UPLOAD)
_EXCLUSIVE_WHAT: dict[str, str] = {
    Job.Kind.IMPORT: "an import",
    Job.Kind.PROJECT_DELETE: "a deletion",
    Job.Kind.UTTERANCES_UPLOAD: "an upload of utterances",
}
ACTIVE_STATUSES = (Job.Status.NOT_STARTED, Job.Status.RUNNING, Job.Status.CANCELLING)

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


def project_metadata(project: Project) -> dict[str, Any]:
    """Azure's ``ProjectMetadata`` of a project (a paging serializer)."""
    return selectors.project_metadata_as_azure(project=project)


def project_job_guard(*, project_name: str, actor: Actor = None) -> None:
    """409 while an import, upload or deletion of the project is queued or running.

    A friendly early answer naming the job; the database constraint
    ``one_active_import_or_delete_per_project`` closes the race between two requests.
    Names are unique across project kinds, so both API families are checked. The
    job is named only to ``actor`` (None: a resource key) if they may read the
    project or started the job: an import may be creating a project nobody else
    may see, whose job no role protects yet.
    """
    busy = (
        Job.objects.filter(
            project_name=project_name,
            kind__in=EXCLUSIVE_KINDS,
            status__in=ACTIVE_STATUSES,
        )
        .order_by("created_at")
        .first()
    )
    if busy is not None:
        if (
            actor is not None
            and not actor_reads_everything(actor)
            and busy.params.get("owner_id") != actor.pk
            and not readable_project_names(actor, [project_name])
        ):
            raise Conflict(
                f"The name {project_name!r} is not available right now; try again "
                "later or choose another name.",
                target="projectName",
            )
        what = _EXCLUSIVE_WHAT.get(busy.kind, "a job")
        raise Conflict(
            f"Project {project_name!r} has {what} in progress (job {busy.job_id}); "
            "wait for it to finish and try again.",
            target="projectName",
        )


def staged_document_save(*, content: bytes, file_format: str) -> str:
    """Stage an import body for a worker; the storage name goes in ``job.params``."""
    name = f"{IMPORTS_DIR}/{uuid.uuid4()}.{file_format}"
    return default_storage.save(name, ContentFile(content))


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
