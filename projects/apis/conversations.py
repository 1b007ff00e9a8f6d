"""Conversation authoring API (azure-api.md §3) for Conversation and Orchestration
projects under ``/language/authoring/analyze-conversations/``.

Request-level checks stay cheap (the body is a JSON object, query enums); an import
document is validated atomically by ``services.project_import`` inside the job, whose
errors name the offending item.
"""

from __future__ import annotations

from typing import Any

from django.conf import global_settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.lro import (
    absolute_url,
    accepted,
    job_response,
    job_state,
    job_status_response,
)
from jobs.models import Job
from jobs.selectors import job_get
from jobs.services import job_create
from projects import services
from projects.apis.base import READ_WRITE, ProjectApiView
from projects.apis.common import (
    NAME_TAKEN,
    export_file_response,
    json_bytes,
    project_metadata,
    query_choice,
)
from projects.models import Project
from projects.selectors import authoring as selectors
from projects.services.jobs import project_job_guard, staged_document_save
from projects.trained import trained
from projects.validators import language_error, project_name_error
from studio.api.paging import paged_response
from studio.errors import InvalidArgument
from studio.vocabulary import TRAINING_CONFIG_VERSIONS

BASE = "/language/authoring/analyze-conversations"
KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
API = Job.Api.CONVERSATIONS
IMPORT_FORMATS = ("Conversation", "Luis")
EXPORT_FORMATS = ("Conversation", "Luis")
STRING_INDEX_TYPES = ("Utf16CodeUnit", "UnicodeCodePoint", "TextElements_v8")

API_VERSION = OpenApiParameter(
    "api-version", str, OpenApiParameter.QUERY, required=True
)
PAGING = [
    OpenApiParameter("top", int, OpenApiParameter.QUERY),
    OpenApiParameter("skip", int, OpenApiParameter.QUERY),
    OpenApiParameter("maxpagesize", int, OpenApiParameter.QUERY),
]
LRO_RESPONSES = {
    202: OpenApiResponse(
        description="Accepted: poll the Operation-Location header (Retry-After).",
        response=None,
    )
}
TAGS = ["Conversation authoring"]
# Changing a project's settings, replacing it by an import or deleting it is for its
# admins; exporting is a read (projects.permissions has the roles).
ADMIN_WRITES = {**READ_WRITE, "patch": "admin", "post": "admin", "delete": "admin"}
READ_ONLY_POST = {**READ_WRITE, "post": "read"}


def _project(name: str) -> Project:
    return selectors.project_get(name=name, kinds=KINDS)


def _project_job(project_name: str, job_id: str, kind: str) -> Job:
    return job_get(job_id=job_id, kinds=[kind], project_name=project_name, api=API)


def _project_exists(name: str) -> None:
    """404 ``ProjectNotFound`` naming the project unless it is a conversation one."""
    _project(name)


@extend_schema(
    tags=TAGS, parameters=[API_VERSION, *PAGING], responses=OpenApiTypes.OBJECT
)
class ProjectListApi(ProjectApiView):
    def get(self, request: Request) -> Response:
        projects = self.readable_projects(selectors.project_list(kinds=KINDS))
        return paged_response(request, projects, project_metadata)


class ProjectGetApi(ProjectApiView):
    project_actions = READ_WRITE

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_project_get",
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str) -> Response:
        return Response(project_metadata(_project(project_name)))


class ProjectCreateOrUpdateApi(ProjectApiView):
    project_actions = ADMIN_WRITES

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_project_create_or_update",
        parameters=[API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiTypes.OBJECT,
            201: OpenApiTypes.OBJECT,
            409: OpenApiResponse(description=NAME_TAKEN),
        },
    )
    def patch(self, request: Request, project_name: str) -> Response:
        # The service refuses other kinds, and names taken by a knowledge base.
        body = self.json_body(request)
        project, created = services.project_create_or_update(
            name=project_name, data=body
        )
        if created:
            self.project_created(project)
        return Response(project_metadata(project), status=201 if created else 200)


class ProjectDeleteApi(ProjectApiView):
    project_actions = ADMIN_WRITES

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_project_delete",
        parameters=[API_VERSION],
        request=None,
        responses=LRO_RESPONSES,
    )
    def delete(self, request: Request, project_name: str) -> Response:
        _project_exists(project_name)
        project_job_guard(project_name=project_name)
        job = job_create(
            kind=Job.Kind.PROJECT_DELETE,
            project_name=project_name,
            api=API,
        )
        return accepted(
            request, job, f"{BASE}/projects/global/deletion-jobs/{job.job_id}"
        )


class ProjectApi(ProjectGetApi, ProjectCreateOrUpdateApi, ProjectDeleteApi):
    """``/projects/{projectName}``: one URL, three operations (each its own class
    above); this only joins their methods for the router."""

    project_actions = ADMIN_WRITES


@extend_schema(
    tags=TAGS,
    parameters=[
        API_VERSION,
        OpenApiParameter("format", str, OpenApiParameter.QUERY, enum=IMPORT_FORMATS),
    ],
    request=OpenApiTypes.OBJECT,
    responses=LRO_RESPONSES,
)
class ProjectImportApi(ProjectApiView):
    project_actions = ADMIN_WRITES

    def post(self, request: Request, project_name: str) -> Response:
        file_format = query_choice(
            request, "format", IMPORT_FORMATS, default="Conversation"
        )
        name_problem = project_name_error(project_name)
        if name_problem:
            raise InvalidArgument(name_problem, target="projectName")
        services.project_lookalike_check(name=project_name)  # 409 now, not a failed job
        body = self.json_body(request)
        if file_format != "Luis":  # a LUIS app JSON has no assets/metadata
            _fail_fast(body)
        project_job_guard(project_name=project_name, actor=self.key_owner)
        staged = staged_document_save(content=json_bytes(body), file_format="json")
        job = job_create(
            kind=Job.Kind.IMPORT,
            project_name=project_name,
            api=API,
            params={"file": staged, "format": file_format, **self.owner_params},
        )
        return accepted(
            request, job, f"{BASE}/projects/{project_name}/import/jobs/{job.job_id}"
        )


def _fail_fast(body: dict[str, Any]) -> None:
    """Refuse documents that are plainly not conversation projects before queueing a
    job; everything else is the import service's job."""
    assets = body.get("assets")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidArgument("metadata must be an object.", target="metadata")
    if assets is not None and not isinstance(assets, dict):
        raise InvalidArgument("assets must be an object.", target="assets")
    for path, holder in (("assets", assets), ("metadata", metadata)):
        kind = holder.get("projectKind") if isinstance(holder, dict) else None
        if kind is not None and kind not in KINDS:
            raise InvalidArgument(
                f"{path}.projectKind {kind!r} cannot be imported here; use "
                "Conversation or Orchestration.",
                target=f"{path}.projectKind",
            )


@extend_schema(
    tags=TAGS,
    parameters=[
        API_VERSION,
        OpenApiParameter("format", str, OpenApiParameter.QUERY, enum=EXPORT_FORMATS),
        OpenApiParameter(
            "stringIndexType",
            str,
            OpenApiParameter.QUERY,
            required=True,
            enum=STRING_INDEX_TYPES,
        ),
        OpenApiParameter("assetKind", str, OpenApiParameter.QUERY),
        OpenApiParameter("trainedModelLabel", str, OpenApiParameter.QUERY),
    ],
    request=None,
    responses=LRO_RESPONSES,
)
class ProjectExportApi(ProjectApiView):
    project_actions = READ_ONLY_POST

    def post(self, request: Request, project_name: str) -> Response:
        file_format = query_choice(
            request, "format", EXPORT_FORMATS, default="Conversation"
        )
        if file_format == "Luis":
            raise InvalidArgument(
                "Exporting in the LUIS format is not supported; use "
                "format=Conversation.",
                target="format",
            )
        index_type = query_choice(
            request, "stringIndexType", STRING_INDEX_TYPES, required=True
        )
        project = _project(project_name)
        params: dict[str, Any] = {
            "stringIndexType": index_type,
            # Unused for conversation projects, as in Azure.
            "assetKind": request.query_params.get("assetKind"),
        }
        label = request.query_params.get("trainedModelLabel")
        if label:
            # That model's snapshot (the assets it was trained on), not the working
            # copy; pinned by model id, so a retrain meanwhile cannot change it.
            model = trained().model_by_label(project=project, label=label)
            params["modelId"] = model.model_id
        job = job_create(
            kind=Job.Kind.EXPORT,
            project_name=project_name,
            api=API,
            params=params,
        )
        return accepted(
            request, job, f"{BASE}/projects/{project_name}/export/jobs/{job.job_id}"
        )


JOB_STATUS_SCHEMA = extend_schema(
    tags=TAGS,
    parameters=[API_VERSION],
    responses=OpenApiTypes.OBJECT,
)


@JOB_STATUS_SCHEMA
class ProjectImportJobApi(ProjectApiView):
    project_actions = READ_WRITE

    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        return job_status_response(
            job_id=job_id, kinds=[Job.Kind.IMPORT], project_name=project_name, api=API
        )


@JOB_STATUS_SCHEMA
class ProjectExportJobApi(ProjectApiView):
    project_actions = READ_WRITE

    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        job = _project_job(project_name, job_id, Job.Kind.EXPORT)
        body = job_state(job)
        if job.status == Job.Status.SUCCEEDED:
            body = {
                "resultUrl": absolute_url(
                    request,
                    f"{BASE}/projects/{project_name}/export/jobs/{job.job_id}/result",
                ),
                **body,
            }
        return job_response(body, job)


@JOB_STATUS_SCHEMA
class ProjectExportResultApi(ProjectApiView):
    project_actions = READ_WRITE

    def get(self, request: Request, project_name: str, job_id: str) -> HttpResponse:
        job = _project_job(project_name, job_id, Job.Kind.EXPORT)
        return export_file_response(job)


@extend_schema(tags=TAGS, parameters=[API_VERSION], responses=OpenApiTypes.OBJECT)
class ProjectDeletionJobApi(ProjectApiView):
    def get(self, request: Request, job_id: str) -> Response:
        job = job_get(job_id=job_id, kinds=[Job.Kind.PROJECT_DELETE], api=API)
        self.check_project_access(job.project_name, "read")
        return job_response(job_state(job), job)


def _project_kind_param(request: Request) -> None:
    query_choice(request, "projectKind", KINDS)


def _languages() -> list[dict[str, str]]:
    # The intent models are language-agnostic (word and character n-grams), so every
    # language Django knows by name is one a project may declare.
    return [
        {"languageName": str(name), "languageCode": code.lower()}
        for code, name in global_settings.LANGUAGES
    ]


@extend_schema(
    tags=TAGS,
    parameters=[
        API_VERSION,
        OpenApiParameter("projectKind", str, OpenApiParameter.QUERY, enum=KINDS),
        *PAGING,
    ],
    responses=OpenApiTypes.OBJECT,
)
class LanguageListApi(ProjectApiView):
    def get(self, request: Request) -> Response:
        _project_kind_param(request)
        return paged_response(request, _languages(), dict, default_page_size=1000)


def _prebuilt_catalog() -> list[dict[str, str]]:
    # Imported lazily: the engine is heavy and loaded only where it is needed.
    from training.engine.entities.prebuilt import PREBUILT_CATALOG

    return [
        {
            "category": entry["category"],
            "description": entry["description"],
            "examples": entry["examples"],
        }
        for entry in PREBUILT_CATALOG
    ]


@extend_schema(
    tags=TAGS,
    parameters=[
        API_VERSION,
        OpenApiParameter("language", str, OpenApiParameter.QUERY),
        OpenApiParameter("multilingual", str, OpenApiParameter.QUERY),
        *PAGING,
    ],
    responses=OpenApiTypes.OBJECT,
)
class PrebuiltEntityListApi(ProjectApiView):
    def get(self, request: Request) -> Response:
        query_choice(request, "multilingual", ("true", "false", "True", "False"))
        language = request.query_params.get("language")
        if language:
            problem = language_error(language)
            if problem:
                raise InvalidArgument(problem, target="language")
        return paged_response(request, _prebuilt_catalog(), dict)


@extend_schema(
    tags=TAGS,
    parameters=[
        API_VERSION,
        OpenApiParameter("projectKind", str, OpenApiParameter.QUERY, enum=KINDS),
        *PAGING,
    ],
    responses=OpenApiTypes.OBJECT,
)
class TrainingConfigVersionListApi(ProjectApiView):
    def get(self, request: Request) -> Response:
        _project_kind_param(request)
        return paged_response(
            request,
            TRAINING_CONFIG_VERSIONS,
            lambda v: {
                "trainingConfigVersion": v[0],
                "modelExpirationDate": v[1].isoformat(),
            },
        )
