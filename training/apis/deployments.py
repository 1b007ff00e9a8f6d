"""Deployment APIs: conversation deployments (azure-api.md §3.7) and knowledge-base
deployments (question-answering authoring, 2021-10-01 and 2023-04-01).

Views are thin: check access, call one ``training.deploy_jobs`` starter or one
selector, render. Every change is a job (202 + ``Operation-Location``); the job URL
is the one the SDK polls (``deployments/{d}/jobs/{id}`` or
``deployments/swap/jobs/{id}``).
After a deploy job succeeds the SDK GETs the deployment itself (azure-core's final GET
of a PUT), which the job makes readable before it reports success.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.lro import accepted, iso, job_status_response
from jobs.models import Job
from projects.apis.base import ProjectApiView
from projects.apis.conversations import API_VERSION, BASE, LRO_RESPONSES, PAGING
from projects.apis.question_answering import QnaApiView, qna_schema
from projects.selectors import authoring as project_selectors
from studio.api.paging import paged_response
from studio.api.versions import has_deployment_resources
from training import deploy_jobs
from training.models import Deployment
from training.selectors.authoring import deployment_get, deployments_list
from training.selectors.resources import deployment_assigned_resources
from training.services.gate import OVERRIDE_PARAM, override_reason_clean

QNA_PROJECTS_SEGMENT = "query-knowledgebases/projects"
TAGS = ["Conversation deployments"]
GATE_OVERRIDE = OpenApiParameter(
    OVERRIDE_PARAM,
    str,
    OpenApiParameter.QUERY,
    required=False,
    description=(
        "Beyond Azure. Deploy even when the project's deploy gate blocks the model "
        "(it is worse than the serving model by more than the project's threshold): "
        "the reason, recorded in the audit trail. Project admins and resource keys "
        "only (403 otherwise)."
    ),
)


def deployment_as_azure(deployment: Deployment, *, api_version: str) -> dict[str, Any]:
    """Azure's ``ProjectDeployment`` of a conversation deployment (§3.7)."""
    body: dict[str, Any] = {
        "deploymentName": deployment.name,
        "modelId": deployment.model_id,
        "lastTrainedDateTime": iso(deployment.model_trained_at),
        "lastDeployedDateTime": iso(deployment.deployed_at),
        "deploymentExpirationDate": deployment.expires_on.isoformat(),
        "modelTrainingConfigVersion": deployment.training_config_version,
    }
    if has_deployment_resources(api_version):
        # Where the deployment was copied (training.resource_jobs); required by
        # the 2025 SDK models.
        body["assignedResources"] = [
            {"azureResourceId": r.azure_resource_id, "region": r.region}
            for r in deployment_assigned_resources(
                project=deployment.project, deployment_name=deployment.name
            )
        ]
    return body


def kb_deployment_as_azure(deployment: Deployment) -> dict[str, Any]:
    """The question-answering ``ProjectDeployment``: name and last deployment time."""
    return {
        "deploymentName": deployment.name,
        "lastDeployedDateTime": iso(deployment.deployed_at),
    }


# --- conversation deployments ------------------------------------------------------


def _conversation_project(name: str) -> Any:
    return project_selectors.project_get(
        name=name, kinds=deploy_jobs.CONVERSATION_KINDS
    )


def _override_reason(view: ProjectApiView, request: Request, project_name: str) -> Any:
    """The admin's reason to deploy over the gate (``?gateOverrideReason=``), None
    when not sent; 403 for anyone but an admin, 400 when empty."""
    raw = request.query_params.get(OVERRIDE_PARAM)
    if raw is None:
        return None
    view.check_project_access(project_name, "admin")
    return override_reason_clean(raw)


class DeploymentListApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_list",
        parameters=[API_VERSION, *PAGING],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str) -> Response:
        self.check_project_access(project_name, "read")
        project = _conversation_project(project_name)
        version = self.api_version
        return paged_response(
            request,
            deployments_list(project=project),
            lambda d: deployment_as_azure(d, api_version=version),
        )


class DeploymentApi(ProjectApiView):
    """``/projects/{p}/deployments/{d}``: get, deploy (PUT), delete."""

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_get",
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        self.check_project_access(project_name, "read")
        project = _conversation_project(project_name)
        deployment = deployment_get(project=project, name=deployment_name)
        return Response(deployment_as_azure(deployment, api_version=self.api_version))

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_deploy",
        parameters=[API_VERSION, GATE_OVERRIDE],
        request=OpenApiTypes.OBJECT,
        responses=LRO_RESPONSES,
    )
    def put(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        self.check_project_access(project_name, "deploy")
        reason = _override_reason(self, request, project_name)
        job = deploy_jobs.deploy_start(
            project_name=project_name,
            deployment_name=deployment_name,
            body=self.json_body(request),
            override_reason=reason,
        )
        return accepted(request, job, _job_path(project_name, deployment_name, job))

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_delete",
        parameters=[API_VERSION],
        request=None,
        responses=LRO_RESPONSES,
    )
    def delete(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        self.check_project_access(project_name, "deploy")
        job = deploy_jobs.deployment_delete_start(
            project_name=project_name, deployment_name=deployment_name
        )
        return accepted(request, job, _job_path(project_name, deployment_name, job))


def _job_path(project_name: str, deployment_name: str, job: Job) -> str:
    return (
        f"{BASE}/projects/{project_name}/deployments/{deployment_name}"
        f"/jobs/{job.job_id}"
    )


class DeploymentSwapApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_swap",
        parameters=[API_VERSION, GATE_OVERRIDE],
        request=OpenApiTypes.OBJECT,
        responses=LRO_RESPONSES,
    )
    def post(self, request: Request, project_name: str) -> Response:
        self.check_project_access(project_name, "deploy")
        reason = _override_reason(self, request, project_name)
        job = deploy_jobs.swap_start(
            project_name=project_name,
            body=self.json_body(request),
            override_reason=reason,
        )
        return accepted(
            request,
            job,
            f"{BASE}/projects/{project_name}/deployments/swap/jobs/{job.job_id}",
        )


class DeploymentJobApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_job_get",
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(
        self, request: Request, project_name: str, deployment_name: str, job_id: str
    ) -> Response:
        self.check_project_access(project_name, "read")
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.DEPLOY, Job.Kind.DEPLOYMENT_DELETE],
            project_name=project_name,
            target_name=deployment_name,
        )


class DeploymentSwapJobApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_swap_job_get",
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str, job_id: str) -> Response:
        self.check_project_access(project_name, "read")
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.SWAP],
            project_name=project_name,
            target_name=deploy_jobs.SWAP_TARGET,
        )


# --- knowledge-base deployments ----------------------------------------------------


def _kb_project(name: str) -> Any:
    return project_selectors.project_get(name=name, kinds=deploy_jobs.KB_KINDS)


def _qna_projects_prefix(request: Request) -> str:
    """``/language/[authoring/]query-knowledgebases/projects`` as the client sent it,
    so job URLs stay on the prefix the client uses."""
    path = request.path
    return path[: path.index(QNA_PROJECTS_SEGMENT) + len(QNA_PROJECTS_SEGMENT)]


class KbDeploymentListApi(QnaApiView):
    @qna_schema(
        operation_id="QuestionAnsweringProjects_ListDeployments",
        parameters=[API_VERSION, *PAGING],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_name: str) -> Response:
        self.check_project_access(project_name, "read")
        project = _kb_project(project_name)
        return paged_response(
            request, deployments_list(project=project), kb_deployment_as_azure
        )


class KbDeploymentApi(QnaApiView):
    """``PUT`` deploys the knowledge base as it is now (no body); ``GET`` is the
    deployment azure-core reads after the deploy job succeeds."""

    @qna_schema(
        operation_id="QuestionAnsweringProjects_DeployProject",
        parameters=[API_VERSION],
        request=None,
        responses={202: None},
    )
    def put(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        self.check_project_access(project_name, "deploy")
        job = deploy_jobs.kb_deploy_start(
            project_name=project_name, deployment_name=deployment_name
        )
        return accepted(
            request,
            job,
            f"{_qna_projects_prefix(request)}/{project_name}/deployments/"
            f"{deployment_name}/jobs/{job.job_id}",
        )

    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetDeployment",
        parameters=[API_VERSION],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        self.check_project_access(project_name, "read")
        project = _kb_project(project_name)
        deployment = deployment_get(project=project, name=deployment_name)
        return Response(kb_deployment_as_azure(deployment))


class KbDeploymentJobApi(QnaApiView):
    @qna_schema(
        operation_id="QuestionAnsweringProjects_GetDeployStatus",
        parameters=[API_VERSION],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(
        self, request: Request, project_name: str, deployment_name: str, job_id: str
    ) -> Response:
        self.check_project_access(project_name, "read")
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.DEPLOY],
            project_name=project_name,
            target_name=deployment_name,
            api=Job.Api.QUESTION_ANSWERING,
        )
