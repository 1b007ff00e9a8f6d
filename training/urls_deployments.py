"""Conversation deployment routes, under ``/language/authoring/analyze-conversations/``.

``:swap`` and ``swap/jobs`` come before ``deployments/<name>``: ``swap`` is a reserved
deployment name, so they never shadow a deployment.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from training.apis import deployments as api

D = "projects/<str:project_name>/deployments"

urlpatterns: list[URLPattern | URLResolver] = [
    path(D, api.DeploymentListApi.as_view(), name="deployment-list"),
    path(f"{D}/:swap", api.DeploymentSwapApi.as_view(), name="deployment-swap"),
    path(
        f"{D}/swap/jobs/<str:job_id>",
        api.DeploymentSwapJobApi.as_view(),
        name="deployment-swap-job",
    ),
    path(f"{D}/<str:deployment_name>", api.DeploymentApi.as_view(), name="deployment"),
    path(
        f"{D}/<str:deployment_name>/jobs/<str:job_id>",
        api.DeploymentJobApi.as_view(),
        name="deployment-job",
    ),
]
