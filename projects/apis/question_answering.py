"""Azure's question-answering authoring API (``query-knowledgebases/projects/...``).

Served under both prefixes Azure has used: ``/language/authoring/query-knowledgebases``
(2023-04-01 and later) and ``/language/query-knowledgebases`` (2021-10-01, what
``azure-ai-language-questionanswering==1.1.0`` sends). Job URLs are built on the prefix
of the request that started the job, so a client keeps talking to the paths it knows.

Views are thin: parse, call one service or selector, render. QnA and source updates are
small and validated up front, so they are applied in the request (a bad operation gets
a 400 and changes nothing) and answered with an already finished job, which is what the
SDK's poller expects; imports, exports and deletions run on Celery.
"""

from __future__ import annotations

from typing import Any

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
from projects.formats.qna import qna_as_azure
from projects.models import Project
from projects.selectors import authoring as selectors
from projects.services.jobs import project_job_guard, staged_document_save
from studio.api.paging import paged_response
from studio.api.parsers import (
    MergePatchJSONParser,
    PlainTextParser,
    StrictJSONParser,
)
from studio.api.schema import AzureAutoSchema
from studio.api.versions import ApiFamily
from studio.errors import InvalidArgument, InvalidRequest

QNA = Project.Kind.QUESTION_ANSWERING
API = Job.Api.QUESTION_ANSWERING
PROJECTS_SEGMENT = "query-knowledgebases/projects"
FILE_FORMATS = ("json", "tsv")
ASSET_KINDS = ("qnas", "synonyms")
QNA_TAGS = ["question-answering authoring"]

PROJECT_NAME = OpenApiParameter(
    "project_name", str, OpenApiParameter.PATH, description="Name of the project."
)
JOB_ID = OpenApiParameter("job_id", str, OpenApiParameter.PATH)
API_VERSION = OpenApiParameter("api-version", str, required=True)
PAGING = [
    OpenApiParameter("top", int),
    OpenApiParameter("skip", int),
    OpenApiParameter("maxpagesize", int),
]
FORMAT = OpenApiParameter("format", str, enum=["json", "tsv", "excel"])
ASSET_KIND = OpenApiParameter("assetKind", str, enum=list(ASSET_KINDS))


class CurrentPathSchema(AzureAutoSchema):
    """Documents the ``authoring/`` mount only: the 2021-10-01 mount serves the same
    operations and would repeat every operationId."""

    def is_excluded(self) -> bool:
        return "/authoring/" not in self.path or super().is_excluded()


def qna_schema(**kwargs: Any) -> Any:
    """``extend_schema`` on top of ``CurrentPathSchema``, tagged as Azure's
    question-answering authoring operations unless ``tags`` says otherwise."""
    kwargs.setdefault("tags", QNA_TAGS)

    def decorator(method: Any) -> Any:
        # extend_schema builds on a schema class found on the function.
        method.schema = CurrentPathSchema
        return extend_schema(**kwargs)(method)

    return decorator


def qna_job_status_schema(operation_id: str) -> Any:
    """A project's job status read (``.../jobs/{jobId}``)."""
    return qna_schema(
        operation_id=operation_id,
        parameters=[PROJECT_NAME, JOB_ID, API_VERSION],
        responses={200: OpenApiTypes.OBJECT},
    )


# --- rendering -------------------------------------------------------------------


def _projects_prefix(request: Request) -> str:
    """``/language/[authoring/]query-knowledgebases/projects`` as the client sent it."""
    path = request.path
    return path[: path.index(PROJECTS_SEGMENT) + len(PROJECTS_SEGMENT)]


def _file_format(request: Request) -> str:
    if request.query_params.get("format") == "excel":
        raise InvalidArgument(
            "format=excel is not supported by this server; use json or tsv.",
            target="format",
        )
    return str(query_choice(request, "format", FILE_FORMATS, default="json"))


def _asset_kind(request: Request) -> str | None:
    return query_choice(request, "assetKind", ASSET_KINDS)


def _kb(name: str) -> Project:
    return selectors.project_get(name=name, kinds=[QNA])


def _project_job(project_name: str, job_id: str, kind: str) -> Job:
    return job_get(job_id=job_id, kinds=[kind], project_name=project_name, api=API)


class QnaApiView(ProjectApiView):
    api_family = ApiFamily.QUESTION_ANSWERING
    project_actions = READ_WRITE


# Changing a knowledge base's settings, replacing it by an import or deleting it is
# for its admins; exporting is a read (projects.permissions has the roles).
ADMIN_WRITES = {**READ_WRITE, "patch": "admin", "post": "admin", "delete": "admin"}
READ_ONLY_POST = {**READ_WRITE, "post": "read"}


# --- projects --------------------------------------------------------------------


class QnaProjectListApi(QnaApiView):
    @qna_schema(
        operation_id="QuestionAnsweringProjects_ListProjects",
        parameters=[API_VERSION, *PAGING],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        projects = self.readable_projects(selectors.project_list(kinds=[QNA]))
        return paged_response(request, projects, project_metadata)


class QnaProjectApi(QnaApiView):
    """Get, create/update (merge-patch) and delete one knowledge base."""

    parser_classes = [
        MergePatchJSONParser,
        StrictJSONParser,
    ]
    project_actions = ADMIN_WRITES

    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetProjectDetails",
        parameters=[PROJECT_NAME, API_VERSION],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_name: str) -> Response:
        return Response(project_metadata(_kb(project_name)))

    @qna_schema(
        operation_id="QuestionAnsweringProjects_CreateProject",
        parameters=[PROJECT_NAME, API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiTypes.OBJECT,
            201: OpenApiTypes.OBJECT,
            409: OpenApiResponse(description=NAME_TAKEN),
        },
    )
    def patch(self, request: Request, project_name: str) -> Response:
        project, created = services.qna_project_create_or_update(
            name=project_name, data=self.json_body(request)
        )
        if created:
            self.project_created(project)
        return Response(project_metadata(project), status=201 if created else 200)

    @qna_schema(
        operation_id="QuestionAnsweringProjects_DeleteProject",
        parameters=[PROJECT_NAME, API_VERSION],
        request=None,
        responses={202: None},
    )
    def delete(self, request: Request, project_name: str) -> Response:
        project = _kb(project_name)
        project_job_guard(project_name=project.name)
        job = job_create(
            kind=Job.Kind.PROJECT_DELETE,
            project_name=project.name,
            api=API,
        )
        return accepted(
            request, job, f"{_projects_prefix(request)}/deletion-jobs/{job.job_id}"
        )


class QnaDeletionJobApi(QnaApiView):
    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetDeleteStatus",
        parameters=[JOB_ID, API_VERSION],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = job_get(job_id=job_id, kinds=[Job.Kind.PROJECT_DELETE], api=API)
        self.check_project_access(job.project_name, "read")
        return job_response(job_state(job), job)


# --- import / export -------------------------------------------------------------


class QnaImportApi(QnaApiView):
    parser_classes = [StrictJSONParser, PlainTextParser]
    project_actions = ADMIN_WRITES

    @qna_schema(
        operation_id="QuestionAnsweringProjects_Import",
        parameters=[PROJECT_NAME, API_VERSION, FORMAT, ASSET_KIND],
        request={
            "application/json": OpenApiTypes.OBJECT,
            "text/tab-separated-values": OpenApiTypes.STR,
        },
        responses={202: None},
    )
    def post(self, request: Request, project_name: str) -> Response:
        file_format = _file_format(request)
        asset_kind = _asset_kind(request)
        document = services.kb_import_check(
            name=project_name, document=request.data, file_format=file_format
        )
        project_job_guard(project_name=project_name, actor=self.key_owner)
        content = (
            document.encode("utf-8")
            if isinstance(document, str)
            else json_bytes(document)
        )
        staged = staged_document_save(content=content, file_format=file_format)
        job = job_create(
            kind=Job.Kind.IMPORT,
            project_name=project_name,
            api=API,
            params={
                "file": staged,
                "file_format": file_format,
                "asset_kind": asset_kind,
                **self.owner_params,
            },
        )
        return accepted(
            request,
            job,
            f"{_projects_prefix(request)}/{project_name}/import/jobs/{job.job_id}",
        )


class QnaImportJobApi(QnaApiView):
    @qna_job_status_schema("QuestionAnsweringProjects_GetImportStatus")
    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        return job_status_response(
            job_id=job_id, kinds=[Job.Kind.IMPORT], project_name=project_name, api=API
        )


class QnaExportApi(QnaApiView):
    project_actions = READ_ONLY_POST

    @qna_schema(
        operation_id="QuestionAnsweringProjects_Export",
        parameters=[PROJECT_NAME, API_VERSION, FORMAT, ASSET_KIND],
        request=None,
        responses={202: None},
    )
    def post(self, request: Request, project_name: str) -> Response:
        file_format = _file_format(request)
        asset_kind = _asset_kind(request)
        project = _kb(project_name)
        job = job_create(
            kind=Job.Kind.EXPORT,
            project_name=project.name,
            api=API,
            params={"file_format": file_format, "asset_kind": asset_kind},
        )
        return accepted(
            request,
            job,
            f"{_projects_prefix(request)}/{project.name}/export/jobs/{job.job_id}",
        )


class QnaExportJobApi(QnaApiView):
    @qna_job_status_schema("QuestionAnsweringProjects_GetExportStatus")
    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        job = _project_job(project_name, job_id, Job.Kind.EXPORT)
        body = job_state(job)
        if job.status == Job.Status.SUCCEEDED:
            body["resultUrl"] = absolute_url(
                request,
                f"{_projects_prefix(request)}/{project_name}/export/jobs/"
                f"{job.job_id}/result",
            )
        return job_response(body, job)


class QnaExportResultApi(QnaApiView):
    """The exported file of a succeeded export job, from the default storage."""

    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetExportResult",
        parameters=[PROJECT_NAME, JOB_ID, API_VERSION],
        responses={200: OpenApiTypes.BINARY},
    )
    def get(self, request: Request, project_name: str, job_id: str) -> HttpResponse:
        return export_file_response(_project_job(project_name, job_id, Job.Kind.EXPORT))


# --- QnAs, synonyms, sources -----------------------------------------------------


class QnaListApi(QnaApiView):
    parser_classes = [
        StrictJSONParser,
        MergePatchJSONParser,
    ]

    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetQnas",
        parameters=[
            PROJECT_NAME,
            API_VERSION,
            *PAGING,
            OpenApiParameter("source", str),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _kb(project_name)
        qnas = selectors.kb_qna_list(
            project=project, source=request.query_params.get("source") or None
        )
        return paged_response(request, qnas, qna_as_azure)

    @qna_schema(
        operation_id="QuestionAnsweringProjects_UpdateQnas",
        parameters=[PROJECT_NAME, API_VERSION],
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={202: None},
    )
    def patch(self, request: Request, project_name: str) -> Response:
        project = _kb(project_name)
        operations = _json_array(request, what="update-QnAs operations")
        job = services.kb_qnas_update_as_job(project=project, operations=operations)
        return accepted(
            request,
            job,
            f"{_projects_prefix(request)}/{project.name}/qnas/jobs/{job.job_id}",
        )


class QnaUpdateJobApi(QnaApiView):
    @qna_job_status_schema("QuestionAnsweringProjects_GetUpdateQnasStatus")
    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.UPDATE_QNAS],
            project_name=project_name,
            api=API,
        )


class QnaSynonymsApi(QnaApiView):
    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetSynonyms",
        parameters=[PROJECT_NAME, API_VERSION, *PAGING],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _kb(project_name)
        return paged_response(
            request,
            selectors.kb_synonym_list(project=project),
            lambda group: group.as_azure(),
        )

    @qna_schema(
        operation_id="QuestionAnsweringProjects_UpdateSynonyms",
        parameters=[PROJECT_NAME, API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses={204: None},
    )
    def put(self, request: Request, project_name: str) -> Response:
        project = _kb(project_name)
        synonyms = services.kb_synonyms_document(document=self.json_body(request))
        services.kb_synonyms_update(project=project, synonyms=synonyms)
        return Response(status=204)


class QnaSourcesApi(QnaApiView):
    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetSources",
        parameters=[PROJECT_NAME, API_VERSION, *PAGING],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _kb(project_name)
        return paged_response(
            request, selectors.kb_source_list(project=project), lambda s: s
        )

    @qna_schema(
        operation_id="QuestionAnsweringProjects_UpdateSources",
        parameters=[PROJECT_NAME, API_VERSION],
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={202: None},
    )
    def patch(self, request: Request, project_name: str) -> Response:
        project = _kb(project_name)
        operations = _json_array(request, what="update-sources operations")
        job = services.kb_sources_update_as_job(project=project, operations=operations)
        return accepted(
            request,
            job,
            f"{_projects_prefix(request)}/{project.name}/sources/jobs/{job.job_id}",
        )


class QnaSourcesJobApi(QnaApiView):
    @qna_job_status_schema("QuestionAnsweringProjects_GetUpdateSourcesStatus")
    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.UPDATE_SOURCES],
            project_name=project_name,
            api=API,
        )


class QnaFeedbackApi(QnaApiView):
    @qna_schema(
        operation_id="QuestionAnsweringProjects_AddFeedback",
        parameters=[PROJECT_NAME, API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses={204: None},
    )
    def post(self, request: Request, project_name: str) -> Response:
        services.kb_feedback_add(
            project=_kb(project_name), document=self.json_body(request)
        )
        return Response(status=204)


def _json_array(request: Request, *, what: str) -> list[Any]:
    data = request.data
    if not isinstance(data, list):
        raise InvalidRequest(f"The request body must be a JSON array of {what}.")
    if not data:
        raise InvalidRequest(
            f"The request body is an empty array; send at least one of the {what}.",
            inner_code="EmptyRequest",
        )
    return data
