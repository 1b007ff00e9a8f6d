"""Project-level operations started from the studio UI: create (the creator becomes
its admin), import and delete as jobs, and the summary the projects list shows.

The rules are the API's: creation goes through ``project_create_or_update`` /
``qna_project_create_or_update``, imports run ``projects.tasks.project_import_task``
(validated atomically in the job), deletion ``project_delete_task``. Only what the UI
adds lives here: refusing an existing name on "create", decoding an uploaded file,
and recording who started a job (``params["owner_id"]``), so that the job page can be
shown to that user and an import that creates a project makes them its admin.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import transaction

from jobs.models import Job
from jobs.services import job_create
from projects.models import Project, ReplacedProject
from projects.permissions import readable_project_names
from projects.services._common import project_lookalike_check
from projects.services.audit import project_settings_state, settings_record
from projects.services.jobs import project_job_guard, staged_document_save
from projects.services.kb import kb_import_check, qna_project_create_or_update
from projects.services.members import member_make_admin
from projects.services.projects import project_create_or_update
from projects.validators import project_name_error, size_error
from studio.errors import Conflict, InvalidArgument, InvalidRequest
from studio.inputs import json_loads, text_decode

# What the import form offers: the file's format and the project kind it holds.
ImportFormat = Literal["conversation", "qna-json", "qna-tsv"]
IMPORT_FORMATS: dict[str, str] = {
    "conversation": "Conversation or Orchestration project (Azure JSON)",
    "qna-json": "Knowledge base (Azure JSON)",
    "qna-tsv": "Knowledge base (QnA Maker TSV)",
}


def name_taken_message(
    *, user: AbstractBaseUser, name: str, taken_by: str, why: str = ""
) -> str:
    """Why ``name`` cannot be used: it is taken by project ``taken_by`` (the same
    name, or one differing in case). Only someone who may read that project learns
    that it exists (and ``why``); to anyone else the name is just not available."""
    if readable_project_names(user, [taken_by]):
        return (
            f"A project called {taken_by!r} already exists{why}; choose another name."
        )
    return f"The name {name!r} is not available; choose another name."


def project_create_by_user(
    *,
    user: AbstractBaseUser,
    kind: str,
    name: str,
    language: str,
    description: str = "",
    multilingual: bool = False,
    confidence_threshold: float | None = None,
    default_answer: str = "",
) -> Project:
    """Create a new project of ``kind`` and make ``user`` its admin, atomically.

    Unlike the API's PATCH (create or update), an existing name is refused: the
    create form must never change someone else's project."""
    if kind not in Project.Kind.values:
        raise InvalidArgument(
            f"Kind {kind!r} is not one of {', '.join(Project.Kind.values)}.",
            target="projectKind",
        )
    if (problem := project_name_error(name)) is not None:
        raise InvalidArgument(problem, target="projectName")
    with transaction.atomic():
        taken_by = (
            Project.objects.filter(name__iexact=name)
            .values_list("name", flat=True)
            .first()
        )
        if taken_by is not None:
            raise Conflict(
                name_taken_message(user=user, name=name, taken_by=taken_by),
                target="projectName",
            )
        if kind == Project.Kind.QUESTION_ANSWERING:
            settings: dict[str, Any] = {"defaultAnswer": default_answer}
            project, created = qna_project_create_or_update(
                name=name,
                data={
                    "language": language,
                    "description": description,
                    "multilingualResource": multilingual,
                    "settings": settings,
                },
            )
        else:
            data: dict[str, Any] = {
                "projectName": name,
                "projectKind": kind,
                "language": language,
                "description": description,
                "multilingual": multilingual,
            }
            if confidence_threshold is not None:
                data["settings"] = {"confidenceThreshold": confidence_threshold}
            project, created = project_create_or_update(name=name, data=data)
        if not created:  # lost a race with another creation of the same name
            raise Conflict(
                f"A project called {name!r} already exists; choose another name.",
                target="projectName",
            )
        member_make_admin(project=project, user=user)
    return project


def project_settings_update(
    *,
    project: Project,
    language: str,
    description: str,
    multilingual: bool,
    confidence_threshold: float | None = None,
    default_answer: str | None = None,
    review_dataset: str | None = None,
    encoder: str | None = None,
    per_intent_thresholds: bool | None = None,
) -> Project:
    """The settings form: the same merge-patch as the API, for either family, plus
    the studio's own ``review_dataset`` (Conversation and Orchestration).
    ``encoder`` ("" for the language's default) is the API's ``settings.encoder``,
    ``per_intent_thresholds`` its ``settings.perIntentThresholds``."""
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        data: dict[str, Any] = {
            "language": language,
            "description": description,
            "multilingualResource": multilingual,
        }
        if default_answer is not None:
            data["settings"] = {"defaultAnswer": default_answer}
        updated, _ = qna_project_create_or_update(name=project.name, data=data)
        return updated
    data = {"language": language, "description": description}
    data["multilingual"] = multilingual
    settings_data: dict[str, Any] = {}
    if confidence_threshold is not None:
        settings_data["confidenceThreshold"] = confidence_threshold
    if encoder is not None:
        settings_data["encoder"] = encoder
    if per_intent_thresholds is not None:
        settings_data["perIntentThresholds"] = per_intent_thresholds
    if settings_data:
        data["settings"] = settings_data
    with transaction.atomic():
        updated, _ = project_create_or_update(name=project.name, data=data)
        if review_dataset is not None and review_dataset != updated.review_dataset:
            if review_dataset not in ("Train", "Test"):
                raise InvalidArgument("Choose Train or Test.", target="review_dataset")
            before = project_settings_state(updated)
            Project.objects.filter(pk=updated.pk).update(review_dataset=review_dataset)
            updated.review_dataset = review_dataset
            settings_record(project=updated, before=before)
    return updated


def _decode(content: bytes) -> str:
    return text_decode(content, target="file")


def _json(text: str) -> Any:
    return json_loads(text, what="The file", target="file")


def import_file_project_name(*, file_format: str, content: bytes) -> str:
    """The project name an Azure JSON file names (``metadata.projectName``), or "".
    A file that is not UTF-8 JSON is refused here, before the name is asked for."""
    if file_format == "qna-tsv":
        return ""
    document = _json(_decode(content))
    if not isinstance(document, dict):
        raise InvalidArgument(
            "The file must be an exported project: a JSON object with 'metadata' "
            "and 'assets'.",
            target="file",
        )
    metadata = document.get("metadata")
    name = metadata.get("projectName") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _replace_confirmed(existing: Project | None, name: str, confirm: str) -> None:
    """Replacing a project is as final as deleting it, so the studio asks the same
    way: the name, typed. (Checked after the file, so a bad file is said first.)"""
    if existing is None or confirm.strip() == name:
        return
    days = settings.STUDIO_REPLACED_PROJECT_RETENTION_DAYS
    kept = (
        f" Its current content stays restorable from its page for {days} days."
        if days
        else ""
    )
    raise Conflict(
        f"A project called {name} already exists; importing replaces all of "
        f"its content. Type {name} to confirm.{kept}",
        target="confirm",
    )


def project_import_start(
    *,
    user: AbstractBaseUser,
    name: str,
    file_format: str,
    content: bytes,
    may_replace: bool,
    confirm: str = "",
) -> Job:
    """Check the upload enough to fail fast (format, JSON, the name), stage it and
    queue the import job. ``may_replace``: the caller administers the existing
    project of that name (imports replace a project entirely); ``confirm`` must then
    be that name, typed, as for a deletion. Nothing is staged otherwise."""
    if file_format not in IMPORT_FORMATS:
        raise InvalidArgument(
            f"Format {file_format!r} is not one of {', '.join(IMPORT_FORMATS)}.",
            target="format",
        )
    if (problem := project_name_error(name)) is not None:
        raise InvalidArgument(problem, target="projectName")
    if not content:
        raise InvalidRequest("The file is empty.", target="file")
    if (problem := size_error(len(content))) is not None:
        raise InvalidRequest(problem, target="file")
    existing = Project.objects.filter(name=name).first()
    if existing is None:
        project_lookalike_check(name=name)
    if existing is not None and not may_replace:
        raise Conflict(
            name_taken_message(
                user=user,
                name=name,
                taken_by=name,
                why=" and you do not administer it",
            ),
            target="projectName",
        )
    project_job_guard(project_name=name, actor=user)
    text = _decode(content)
    params: dict[str, Any] = {"owner_id": user.pk}
    if file_format == "conversation":
        document = _json(text)
        if not isinstance(document, dict) or not isinstance(
            document.get("assets", {}), dict
        ):
            raise InvalidArgument(
                "The file must be an exported project: a JSON object with "
                "'metadata' and 'assets'.",
                target="file",
            )
        kind = (document.get("metadata") or {}).get("projectKind")
        if kind == Project.Kind.QUESTION_ANSWERING or (
            existing is not None and existing.kind == Project.Kind.QUESTION_ANSWERING
        ):
            raise InvalidArgument(
                "A knowledge base cannot be imported as a conversation project; "
                "choose a knowledge-base format.",
                target="format",
            )
        _replace_confirmed(existing, name, confirm)
        api = Job.Api.CONVERSATIONS
        staged = staged_document_save(content=text.encode("utf-8"), file_format="json")
        params |= {"file": staged, "format": "Conversation"}
    else:
        extension = "tsv" if file_format == "qna-tsv" else "json"
        document = text if extension == "tsv" else _json(text)
        kb_import_check(name=name, document=document, file_format=extension)
        _replace_confirmed(existing, name, confirm)
        api = Job.Api.QUESTION_ANSWERING
        staged = staged_document_save(
            content=text.encode("utf-8"), file_format=extension
        )
        params |= {"file": staged, "file_format": extension, "asset_kind": None}
    return job_create(
        kind=Job.Kind.IMPORT,
        project_name=name,
        api=api,
        params=params,
    )


def project_delete_start(*, user: AbstractBaseUser, project: Project) -> Job:
    project_job_guard(project_name=project.name)
    api = (
        Job.Api.QUESTION_ANSWERING
        if project.kind == Project.Kind.QUESTION_ANSWERING
        else Job.Api.CONVERSATIONS
    )
    return job_create(
        kind=Job.Kind.PROJECT_DELETE,
        project_name=project.name,
        api=api,
        params={"owner_id": user.pk},
    )


def replaced_project_restore_start(
    *, user: AbstractBaseUser, snapshot: ReplacedProject
) -> Job:
    """Import a replaced project's kept content back (a job, as any import); the
    content it replaces is kept in turn."""
    project = snapshot.project
    project_job_guard(project_name=project.name, actor=user)
    with default_storage.open(snapshot.file, "rb") as handle:
        content = handle.read()
    params: dict[str, Any] = {"owner_id": user.pk}
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        api = Job.Api.QUESTION_ANSWERING
        params |= {"file_format": "json", "asset_kind": None}
    else:
        api = Job.Api.CONVERSATIONS
        params |= {"format": "Conversation"}
    params["file"] = staged_document_save(content=content, file_format="json")
    return job_create(
        kind=Job.Kind.IMPORT,
        project_name=project.name,
        project=project,
        api=api,
        params=params,
    )
