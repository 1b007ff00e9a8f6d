"""Celery tasks behind the authoring jobs (import, export, project deletion).

Each task takes a job's primary key and lets
``jobs.services.job_execute`` run one service for it, so the job row records
the outcome. Both API families use them:
``job.api == "questionanswering"`` selects the knowledge-base services.

``job.params`` contract (set by the API views that enqueue the jobs):

* import: ``file`` (a staged document in default storage, deleted when the job ends)
  or ``document`` (inline JSON); ``owner_id`` (optional): the user who asked for the
  import (none: a resource key), who becomes the admin of a project the import
  creates and must be able to read every project the document links to;
  ``format`` (``Conversation``) for conversations, ``file_format`` (``json`` |
  ``tsv``) for question answering.
* export: ``stringIndexType`` for conversations (plus ``modelId`` to export a trained
  model's snapshot instead of the working copy), ``file_format`` for question
  answering. The result is written to ``exports/<jobId>.<ext>`` and its storage name
  becomes ``job.result["file"]``.
* delete: nothing.
* utterances upload (Data page): ``file`` (the staged upload, deleted when the job
  ends), ``stringIndexType``, ``owner_id`` and ``utterances`` (how many; the queue
  follows the staged file's size, ``jobs.queues``). While it runs,
  ``result["journal"]`` records what it added (written with each chunk); the
  finished job's result is the report.
* update sources (knowledge bases): ``fetch`` (``[{"index", "source",
  "sourceUri"}]``, validated by ``kb_sources_update_as_job``) and ``delete`` (source
  names).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from celery import shared_task
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from jobs.models import Job
from jobs.services import JobContext, job_execute
from projects import services
from projects.models import Project
from projects.permissions import job_actor
from projects.selectors import authoring as selectors
from projects.trained import trained
from studio.errors import ErrorDetail, NotFound, ProjectNotFound
from studio.inputs import json_loads, text_decode

EXPORTS_DIR = "exports"
CONVERSATION_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
KB_KINDS = (Project.Kind.QUESTION_ANSWERING,)


def _is_kb(job: Job) -> bool:
    return job.api == Job.Api.QUESTION_ANSWERING


def _kinds(job: Job) -> tuple[str, ...]:
    return KB_KINDS if _is_kb(job) else CONVERSATION_KINDS


def _file_format(job: Job) -> Literal["json", "tsv"]:
    return "tsv" if job.params.get("file_format") == "tsv" else "json"


def _asset_kind(job: Job) -> Literal["qnas", "synonyms"] | None:
    value = job.params.get("asset_kind")
    if value == "qnas" or value == "synonyms":
        return value
    return None


def _load_document(job: Job) -> Any:
    """The import document: parsed JSON, or TSV text for a knowledge base."""
    if "document" in job.params:
        return job.params["document"]
    with default_storage.open(job.params["file"], "rb") as handle:
        raw = handle.read()
    text = text_decode(raw, what="The import file", target="body")
    if _is_kb(job) and _file_format(job) == "tsv":
        return text
    return json_loads(text, what="The import file", target="body")


def _import(context: JobContext) -> dict[str, Any]:
    job = context.job
    warnings: list[ErrorDetail] = []
    created = not Project.objects.filter(name=job.project_name).exists()
    try:
        document = _load_document(job)
        if _is_kb(job):
            services.kb_import(
                name=job.project_name,
                document=document,
                file_format=_file_format(job),
                asset_kind=_asset_kind(job),
            )
        else:
            services.project_import(
                name=job.project_name,
                document=document,
                format=str(job.params.get("format", "Conversation")),
                warnings=warnings,
                actor=job_actor(job.params),
            )
    finally:
        # The staged body is input, not a result: it goes whatever the outcome.
        if "file" in job.params:
            default_storage.delete(job.params["file"])
    if job.project_id is None:
        # The import made the project: from now on the job is found through it.
        Job.objects.filter(pk=job.pk).update(
            project=Project.objects.filter(name=job.project_name).first()
        )
    if created and job.params.get("owner_id") is not None:
        # A user's import made the project: that user administers it (studio roles).
        services.member_make_owner(
            project_name=job.project_name, user_id=int(job.params["owner_id"])
        )
    if warnings:
        # Non-fatal notes (e.g. a different metadata.projectName) for the job body.
        Job.objects.filter(pk=job.pk).update(warnings=[w.as_azure() for w in warnings])
    return {}


def _own_project(job: Job) -> Project:
    """The project row the job was made for: a project created since under the
    same name is another project (ProjectNotFound)."""
    project = selectors.project_get(name=job.project_name, kinds=_kinds(job))
    if project.pk != job.project_id:
        raise ProjectNotFound(
            f"The project {job.project_name!r} was deleted.", target="projectName"
        )
    return project


def _export(context: JobContext) -> dict[str, Any]:
    job = context.job
    project = _own_project(job)
    exported: Any
    if _is_kb(job):
        extension = _file_format(job)
        exported = services.kb_export(
            project=project, file_format=extension, asset_kind=_asset_kind(job)
        )
    elif job.params.get("modelId"):
        extension = "json"
        exported = _model_snapshot_export(job, project)
    else:
        extension = "json"
        exported = services.project_export(
            project=project,
            string_index_type=str(job.params.get("stringIndexType", "Utf16CodeUnit")),
        )
    content = (
        exported
        if isinstance(exported, str)
        else json.dumps(exported, ensure_ascii=False, indent=2)
    )
    name = f"{EXPORTS_DIR}/{job.job_id}.{extension}"
    # A retried job overwrites its own file rather than leaving a suffixed copy.
    if default_storage.exists(name):
        default_storage.delete(name)
    stored = default_storage.save(name, ContentFile(content.encode("utf-8")))
    if not Job.objects.filter(pk=job.pk).exists():
        # The project (and with it this job) was deleted while the file was being
        # written: nothing would ever serve or delete it.
        default_storage.delete(stored)
    return {"file": stored}


def _model_snapshot_export(job: Job, project: Project) -> dict[str, Any]:
    """Export with ``trainedModelLabel``: the snapshot of the model the request
    named (by model id), offsets in the requested index type."""
    document = trained().model_snapshot_document(
        project=project,
        model_id=job.params["modelId"],
        string_index_type=str(job.params.get("stringIndexType", "Utf16CodeUnit")),
    )
    if document is None:
        raise NotFound(
            "The trained model named by trainedModelLabel was deleted or retrained "
            "before it could be exported.",
            target="trainedModelLabel",
        )
    return document


def _delete(context: JobContext) -> dict[str, Any]:
    job = context.job
    project = _own_project(job)
    services.project_delete(project=project)
    return {}


def _utterances_upload(context: JobContext) -> dict[str, Any]:
    # Imported here: projects.services.uploads queues this module's task.
    from projects.services.uploads import upload_journal_write, utterances_upload_apply

    job = context.job
    try:
        project = selectors.project_get(name=job.project_name, kinds=CONVERSATION_KINDS)
        with default_storage.open(job.params["file"], "rb") as handle:
            content = handle.read()
        return utterances_upload_apply(
            project=project,
            content=content,
            string_index_type=str(job.params.get("stringIndexType", "Utf16CodeUnit")),
            progress=context.progress,
            cancelled=context.cancel_requested,
            note=lambda journal: upload_journal_write(job=job, journal=journal),
        )
    finally:
        default_storage.delete(job.params["file"])


def _sources_fetch(context: JobContext) -> dict[str, Any]:
    job = context.job
    return services.kb_sources_fetch(
        project=_own_project(job),
        fetches=list(job.params.get("fetch", [])),
        deletes=list(job.params.get("delete", [])),
    )


@shared_task(ignore_result=True)
def kb_sources_fetch_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_sources_fetch)


@shared_task(ignore_result=True)
def project_import_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_import)


@shared_task(ignore_result=True)
def project_export_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_export)


@shared_task(ignore_result=True)
def project_delete_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_delete)


@shared_task(ignore_result=True)
def utterances_upload_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_utterances_upload)
