"""Deployment-resource APIs (2023-04-15-preview and later; the 1.0.0b4 authoring
SDK's ``begin_assign_project_resources``, ``list_project_resources``,
``list_assigned_resource_deployments``, ``begin_delete_deployment_from_resources``
and their job reads).

Views are thin: check access, call one ``training.resource_jobs`` starter or one
selector, render. Assigned resources carry their sync state beyond Azure's model
(``syncState``, ``syncMessage``, ``customDomain`` and per-deployment states).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.lro import accepted, iso, job_state, job_status_response
from jobs.models import Job
from projects.apis.base import ProjectApiView
from projects.apis.conversations import API_VERSION, BASE, LRO_RESPONSES, PAGING
from projects.models import Project
from projects.selectors import authoring as project_selectors
from studio.api.paging import paged_response
from studio.errors import NotFound
from training import resource_jobs
from training.selectors.resources import (
    DeploymentSync,
    ResourceSync,
    assigned_resource_deployments,
    project_resources_sync,
)

TAGS = ["Conversation deployment resources"]
JOB_KINDS = {
    "assign": Job.Kind.RESOURCES_ASSIGN,
    "unassign": Job.Kind.RESOURCES_UNASSIGN,
}


def deployment_sync_as_azure(sync: DeploymentSync) -> dict[str, Any]:
    body: dict[str, Any] = {
        "deploymentName": sync.deployment_name,
        "syncState": sync.state,
        "modelId": sync.model_id,
    }
    if sync.deployed_at is not None:
        body["lastSyncedDateTime"] = iso(sync.deployed_at)
    if sync.message:
        body["message"] = sync.message
    if sync.job_id:
        body["jobId"] = sync.job_id
    return body


def resource_sync_as_azure(sync: ResourceSync) -> dict[str, Any]:
    """Azure's ``AssignedProjectResource`` plus the sync state."""
    resource = sync.resource
    body: dict[str, Any] = {
        "azureResourceId": resource.azure_resource_id,
        "region": resource.region,
        "customDomain": sync.assignment.custom_domain,
        "syncState": sync.state,
        "deployments": [deployment_sync_as_azure(d) for d in sync.deployments],
    }
    messages = [d.message for d in sync.deployments if d.state == sync.state]
    if messages and messages[0]:
        body["syncMessage"] = messages[0]
    return body


def resource_job_body(job: Job) -> dict[str, Any]:
    """Azure's job state plus each resource's progress (``resources``)."""
    body = job_state(job)
    resources = (job.result or {}).get("resources")
    if resources:
        body["resources"] = resources
    return body


def _project(name: str) -> Project:
    return project_selectors.project_get(
        name=name, kinds=resource_jobs.CONVERSATION_KINDS
    )


class ProjectResourceListApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_project_resource_list",
        parameters=[API_VERSION, *PAGING],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, project_name: str) -> Response:
        self.check_project_access(project_name, "read")
        project = _project(project_name)
        return paged_response(
            request, project_resources_sync(project=project), resource_sync_as_azure
        )


class ProjectResourcesAssignApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_project_resources_assign",
        parameters=[API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses=LRO_RESPONSES,
    )
    def post(self, request: Request, project_name: str) -> Response:
        self.check_project_access(project_name, "deploy")
        job = resource_jobs.resources_assign_start(
            project_name=project_name, body=self.json_body(request)
        )
        return accepted(
            request,
            job,
            f"{BASE}/projects/{project_name}/resources/assign/jobs/{job.job_id}",
        )


class ProjectResourcesUnassignApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_project_resources_unassign",
        parameters=[API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses=LRO_RESPONSES,
    )
    def post(self, request: Request, project_name: str) -> Response:
        self.check_project_access(project_name, "deploy")
        job = resource_jobs.resources_unassign_start(
            project_name=project_name, body=self.json_body(request)
        )
        return accepted(
            request,
            job,
            f"{BASE}/projects/{project_name}/resources/unassign/jobs/{job.job_id}",
        )


class ProjectResourcesJobApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_project_resources_job_get",
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(
        self, request: Request, project_name: str, action: str, job_id: str
    ) -> Response:
        self.check_project_access(project_name, "read")
        kind = JOB_KINDS.get(action)
        if kind is None:
            raise NotFound(
                f"There is no resources/{action} operation; use assign or unassign.",
                target="path",
            )
        return job_status_response(
            job_id=job_id,
            kinds=[kind],
            project_name=project_name,
            body=resource_job_body,
        )


class DeploymentDeleteFromResourcesApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_delete_from_resources",
        parameters=[API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses=LRO_RESPONSES,
    )
    def post(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        self.check_project_access(project_name, "deploy")
        job = resource_jobs.deployment_delete_from_resources_start(
            project_name=project_name,
            deployment_name=deployment_name,
            body=self.json_body(request),
        )
        return accepted(
            request,
            job,
            f"{BASE}/projects/{project_name}/deployments/{deployment_name}"
            f"/delete-from-resources/jobs/{job.job_id}",
        )


class DeploymentDeleteFromResourcesJobApi(ProjectApiView):
    @extend_schema(
        tags=TAGS,
        operation_id="conversation_deployment_delete_from_resources_job_get",
        parameters=[API_VERSION],
        responses=OpenApiTypes.OBJECT,
    )
    def get(
        self, request: Request, project_name: str, deployment_name: str, job_id: str
    ) -> Response:
        self.check_project_access(project_name, "read")
        return job_status_response(
            job_id=job_id,
            kinds=[Job.Kind.RESOURCES_DELETE],
            project_name=project_name,
            target_name=deployment_name,
            body=resource_job_body,
        )


class AssignedResourceDeploymentListApi(ProjectApiView):
    """``GET projects/global/deployments/resources``: per project the caller may
    read, its deployments that were copied to resources."""

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_assigned_resource_deployment_list",
        parameters=[API_VERSION, *PAGING],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        projects = self.readable_projects(
            Project.objects.filter(kind__in=resource_jobs.CONVERSATION_KINDS)
        )
        entries = assigned_resource_deployments(projects=projects)

        def serialize(entry: Any) -> dict[str, Any]:
            project, rows = entry
            deployments = []
            for row, local in rows:
                item = {
                    "deploymentName": row.deployment_name,
                    "lastDeployedDateTime": iso(row.deployed_at),
                }
                if local is not None:  # deleted here: no expiration to tell
                    item["deploymentExpirationDate"] = local.expires_on.isoformat()
                deployments.append(item)
            return {"projectName": project.name, "deploymentsMetadata": deployments}

        return paged_response(request, entries, serialize)
