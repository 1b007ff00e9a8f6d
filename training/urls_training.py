"""Training, trained-model and evaluation routes, under
``/language/authoring/analyze-conversations/`` (azure-api.md §3.4–§3.6)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from training.apis import training as api

P = "projects/<str:project_name>"
M = f"{P}/models/<str:label>"

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{P}/:train", api.TrainApi.as_view(), name="train"),
    path(f"{P}/train/jobs", api.TrainingJobListApi.as_view(), name="train-job-list"),
    path(
        f"{P}/train/jobs/<str:job_id>",
        api.TrainingJobApi.as_view(),
        name="train-job",
    ),
    path(
        f"{P}/train/jobs/<str:job_id>/:cancel",
        api.TrainingJobCancelApi.as_view(),
        name="train-job-cancel",
    ),
    path(f"{P}/models", api.TrainedModelListApi.as_view(), name="model-list"),
    path(M, api.TrainedModelApi.as_view(), name="model"),
    path(
        f"{M}/evaluation/result",
        api.EvaluationResultListApi.as_view(),
        name="model-evaluation-result",
    ),
    path(
        f"{M}/evaluation/summary-result",
        api.EvaluationSummaryApi.as_view(),
        name="model-evaluation-summary",
    ),
    path(f"{M}/:load-snapshot", api.LoadSnapshotApi.as_view(), name="load-snapshot"),
    path(
        f"{M}/load-snapshot/jobs/<str:job_id>",
        api.LoadSnapshotJobApi.as_view(),
        name="load-snapshot-job",
    ),
]
