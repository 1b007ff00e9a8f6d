"""Knowledge-base deployment routes, mounted under ``/language/`` at both
``authoring/query-knowledgebases/`` and ``query-knowledgebases/`` (see
projects/urls_qna.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from training.apis import deployments as api

D = "projects/<str:project_name>/deployments"

urlpatterns: list[URLPattern | URLResolver] = [
    path(D, api.KbDeploymentListApi.as_view(), name="qna-deployment-list"),
    path(
        f"{D}/<str:deployment_name>",
        api.KbDeploymentApi.as_view(),
        name="qna-deployment",
    ),
    path(
        f"{D}/<str:deployment_name>/jobs/<str:job_id>",
        api.KbDeploymentJobApi.as_view(),
        name="qna-deployment-job",
    ),
]
