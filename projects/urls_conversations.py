"""Conversation authoring routes, under ``/language/authoring/analyze-conversations/``.

The ``projects/global/...`` routes come first: ``global`` is a reserved project name,
so they never shadow a project. Train, models, deployments and swap arrive with the
training app (``training.urls_training`` and ``training.urls_deployments``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from projects.apis import conversations as api
from studio.api.not_offered import DEPLOYMENT_RESOURCES, NotOfferedApi

app_name = "conversations"

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects", api.ProjectListApi.as_view(), name="project-list"),
    path(
        "projects/global/deletion-jobs/<str:job_id>",
        api.ProjectDeletionJobApi.as_view(),
        name="project-deletion-job",
    ),
    path(
        "projects/global/languages",
        api.LanguageListApi.as_view(),
        name="language-list",
    ),
    path(
        "projects/global/prebuilt-entities",
        api.PrebuiltEntityListApi.as_view(),
        name="prebuilt-entity-list",
    ),
    path(
        "projects/global/training-config-versions",
        api.TrainingConfigVersionListApi.as_view(),
        name="training-config-version-list",
    ),
    path(
        "projects/global/deployments/resources",
        NotOfferedApi.as_view(feature=DEPLOYMENT_RESOURCES),
        name="deployment-resources-all",
    ),
    path("projects/<str:project_name>", api.ProjectApi.as_view(), name="project"),
    # Deployment resources (2023-04-15-preview and later) are not offered.
    path(
        "projects/<str:project_name>/resources",
        NotOfferedApi.as_view(feature=DEPLOYMENT_RESOURCES),
        name="project-resources",
    ),
    path(
        "projects/<str:project_name>/resources/<str:action>",
        NotOfferedApi.as_view(feature=DEPLOYMENT_RESOURCES),
        name="project-resources-action",
    ),
    path(
        "projects/<str:project_name>/resources/<str:action>/jobs/<str:job_id>",
        NotOfferedApi.as_view(feature=DEPLOYMENT_RESOURCES),
        name="project-resources-job",
    ),
    path(
        "projects/<str:project_name>/deployments/<str:deployment_name>"
        "/:delete-from-resources",
        NotOfferedApi.as_view(feature=DEPLOYMENT_RESOURCES),
        name="deployment-delete-from-resources",
    ),
    path(
        "projects/<str:project_name>/deployments/<str:deployment_name>"
        "/delete-from-resources/jobs/<str:job_id>",
        NotOfferedApi.as_view(feature=DEPLOYMENT_RESOURCES),
        name="deployment-delete-from-resources-job",
    ),
    path(
        "projects/<str:project_name>/:import",
        api.ProjectImportApi.as_view(),
        name="project-import",
    ),
    path(
        "projects/<str:project_name>/:export",
        api.ProjectExportApi.as_view(),
        name="project-export",
    ),
    path(
        "projects/<str:project_name>/import/jobs/<str:job_id>",
        api.ProjectImportJobApi.as_view(),
        name="project-import-job",
    ),
    path(
        "projects/<str:project_name>/export/jobs/<str:job_id>",
        api.ProjectExportJobApi.as_view(),
        name="project-export-job",
    ),
    path(
        "projects/<str:project_name>/export/jobs/<str:job_id>/result",
        api.ProjectExportResultApi.as_view(),
        name="project-export-result",
    ),
    path("", include("training.urls_training")),
    path("", include("training.urls_deployments")),
]
