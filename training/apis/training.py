"""Training jobs, trained models and evaluation (azure-api.md §3.4–§3.6) under
``/language/authoring/analyze-conversations/projects/{projectName}/``.

Views parse the request, check the caller's access to the project and call one
service or selector of ``training.train_jobs`` / ``training.selectors``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.lro import accepted, iso, job_state, job_status_response
from jobs.models import Job
from jobs.selectors import job_get
from jobs.services import job_cancel
from projects.apis.base import ProjectApiView
from projects.apis.common import query_choice
from projects.apis.conversations import (
    API_VERSION,
    BASE,
    LRO_RESPONSES,
    PAGING,
    STRING_INDEX_TYPES,
)
from projects.models import Project
from projects.selectors import authoring as project_selectors
from studio.api.paging import paged_response
from studio.api.versions import has_data_generation
from studio.errors import Conflict
from training import train_jobs
from training.engine.offsets import (
    StringIndexType,
    from_code_points,
    parse_index_type,
)
from training.models import EvaluationResult, TrainedModel
from training.selectors import authoring as selectors

TAGS = ["Conversation training"]
KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
API = Job.Api.CONVERSATIONS


def _project(view: ProjectApiView, name: str, action: str) -> Project:
    view.check_project_access(name, action)
    return project_selectors.project_get(name=name, kinds=KINDS)


def _train_job_path(project_name: str, job_id: str) -> str:
    return f"{BASE}/projects/{project_name}/train/jobs/{job_id}"


def _train_job(project_name: str, job_id: str) -> Job:
    return job_get(
        job_id=job_id, kinds=[Job.Kind.TRAIN], project_name=project_name, api=API
    )


def training_job_body(job: Job, api_version: str) -> dict[str, Any]:
    """Azure's ``TrainingJobState`` in the shape of ``api_version``."""
    result = train_jobs.training_job_result(
        job, data_generation=has_data_generation(api_version)
    )
    return {**job_state(job), "result": result}


def trained_model_body(model: TrainedModel) -> dict[str, Any]:
    """Azure's ``TrainedModel`` (azure-api.md §3.5)."""
    return {
        "label": model.label,
        "modelId": model.model_id,
        "lastTrainedDateTime": iso(model.trained_at),
        "lastTrainingDurationInSeconds": model.training_duration_seconds,
        "modelExpirationDate": model.expires_on.isoformat(),
        "modelTrainingConfigVersion": model.training_config_version,
        "hasSnapshot": bool(model.snapshot_name),
    }


def _spans_as_azure(
    text: str, spans: list[dict[str, Any]], index_type: StringIndexType
) -> list[dict[str, Any]]:
    out = []
    for span in spans:
        offset, length = from_code_points(
            text, span["offset"], span["length"], index_type
        )
        out.append({"category": span["category"], "offset": offset, "length": length})
    return out


def evaluation_result_body(
    row: EvaluationResult, index_type: StringIndexType
) -> dict[str, Any]:
    """Azure's ``UtteranceEvaluationResult``; stored code points converted."""
    return {
        "text": row.text,
        "language": row.language,
        "intentsResult": {
            "expectedIntent": row.expected_intent,
            "predictedIntent": row.predicted_intent,
        },
        "entitiesResult": {
            "expectedEntities": _spans_as_azure(
                row.text, row.expected_entities, index_type
            ),
            "predictedEntities": _spans_as_azure(
                row.text, row.predicted_entities, index_type
            ),
        },
    }


class TrainApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_train",
        parameters=[API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses=LRO_RESPONSES,
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = _project(self, project_name, "train")
        job = train_jobs.train_start(
            project=project, body=self.json_body(request), actor=self.key_owner
        )
        return accepted(request, job, _train_job_path(project.name, job.job_id))


class TrainingJobListApi(ProjectApiView):
    @extend_schema(
        operation_id="conversation_training_job_list",
        tags=TAGS,
        parameters=[API_VERSION, *PAGING],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _project(self, project_name, "read")
        return paged_response(
            request,
            selectors.training_job_list(project_name=project.name),
            lambda job: training_job_body(job, self.api_version),
        )


class TrainingJobApi(ProjectApiView):
    @extend_schema(
        operation_id="conversation_training_job_get",
        tags=TAGS,
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        self.check_project_access(project_name, "read")
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.TRAIN],
            project_name=project_name,
            api=API,
            body=lambda job: training_job_body(job, self.api_version),
        )


class TrainingJobCancelApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_training_job_cancel",
        parameters=[API_VERSION],
        request=None,
        responses={
            **LRO_RESPONSES,
            409: OpenApiResponse(description="The job has already finished."),
        },
    )
    def post(self, request: Request, project_name: str, job_id: str) -> Response:
        self.check_project_access(project_name, "train")
        job = _train_job(project_name, job_id)
        if job.is_finished:
            raise Conflict(
                f"Training job {job_id!r} has already finished ({job.status}); "
                "there is nothing to cancel.",
                target="jobId",
            )
        job = job_cancel(job=job)
        return accepted(request, job, _train_job_path(project_name, job.job_id))


class TrainedModelListApi(ProjectApiView):
    @extend_schema(
        operation_id="conversation_trained_model_list",
        tags=TAGS,
        parameters=[API_VERSION, *PAGING],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _project(self, project_name, "read")
        return paged_response(
            request, selectors.trained_model_list(project=project), trained_model_body
        )


class TrainedModelApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_trained_model_get",
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str, label: str) -> Response:
        project = _project(self, project_name, "read")
        model = selectors.trained_model_get(project=project, label=label)
        return Response(trained_model_body(model))

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_trained_model_delete",
        parameters=[API_VERSION],
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, project_name: str, label: str) -> Response:
        # Deployments copy the model's pointer, so they keep serving (Azure allows
        # deleting a deployed model).
        project = _project(self, project_name, "train")
        model = selectors.trained_model_get(project=project, label=label)
        train_jobs.trained_model_delete(model=model)
        return Response(status=204)


class EvaluationResultListApi(ProjectApiView):
    @extend_schema(
        operation_id="conversation_evaluation_result_list",
        tags=TAGS,
        parameters=[
            API_VERSION,
            OpenApiParameter(
                "stringIndexType",
                str,
                OpenApiParameter.QUERY,
                required=True,
                enum=STRING_INDEX_TYPES,
            ),
            *PAGING,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str, label: str) -> Response:
        index_type = parse_index_type(
            query_choice(request, "stringIndexType", STRING_INDEX_TYPES, required=True)
        )
        project = _project(self, project_name, "read")
        model = selectors.trained_model_get(project=project, label=label)

        def body(row: EvaluationResult) -> dict[str, Any]:
            return evaluation_result_body(row, index_type)

        return paged_response(
            request,
            selectors.evaluation_result_list(model=model, actor=self.key_owner),
            body,
        )


class EvaluationSummaryApi(ProjectApiView):
    @extend_schema(
        operation_id="conversation_evaluation_summary",
        tags=TAGS,
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str, label: str) -> Response:
        project = _project(self, project_name, "read")
        model = selectors.trained_model_get(project=project, label=label)
        return Response(
            {**model.evaluation_summary, "evaluationOptions": model.evaluation_options}
        )


class LoadSnapshotApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_load_snapshot",
        parameters=[API_VERSION],
        request=None,
        responses=LRO_RESPONSES,
    )
    def post(self, request: Request, project_name: str, label: str) -> Response:
        from projects.services.jobs import project_job_guard

        project = _project(self, project_name, "write")
        model = selectors.trained_model_get(project=project, label=label)
        # A snapshot load replaces the assets like an import: not beside one.
        project_job_guard(project_name=project.name)
        job = train_jobs.load_snapshot_start(
            project=project, model=model, actor=self.key_owner
        )
        return accepted(
            request,
            job,
            f"{BASE}/projects/{project.name}/models/{label}/load-snapshot/jobs/"
            f"{job.job_id}",
        )


class LoadSnapshotJobApi(ProjectApiView):
    @extend_schema(
        operation_id="conversation_load_snapshot_job_get",
        tags=TAGS,
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(
        self, request: Request, project_name: str, label: str, job_id: str
    ) -> Response:
        self.check_project_access(project_name, "read")
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.LOAD_SNAPSHOT],
            project_name=project_name,
            target_name=label,
            api=API,
        )
