"""Studio UI routes of the Train, Models and evaluation and Deployments screens (the
Playground's are in runtime/urls_ui.py); included by projects/urls_ui.py (namespace
"ui")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from training.views import deployments, models, review, train

P = "projects/<str:name>/"
T = P + "train/"
M = P + "models/"
D = P + "deployments/"

R = P + "review/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(R, review.review_page, name="review"),
    path(R + "<int:pk>/act", review.review_act, name="review-act"),
    path(T, train.train_page, name="train"),
    path(T + "start", train.train_create, name="train-start"),
    path(T + "jobs/<str:job_id>/", train.train_job, name="train-job"),
    path(T + "jobs/<str:job_id>/cancel", train.train_cancel, name="train-cancel"),
    path(M, models.model_list, name="models"),
    # "compare" has no trailing slash: it never shadows a model labeled "compare".
    path(M + "compare", models.model_compare, name="models-compare"),
    path(M + "<str:label>/", models.model_detail, name="model"),
    path(M + "<str:label>/cell", models.model_cell, name="model-cell"),
    path(M + "<str:label>/relabel", models.model_relabel, name="model-relabel"),
    path(M + "<str:label>/add", models.model_add_to_data, name="model-add"),
    path(M + "<str:label>/delete", models.model_delete, name="model-delete"),
    path(D, deployments.deployment_list, name="deployments"),
    path(D + "deploy", deployments.deployment_create, name="deployment-create"),
    path(D + "swap", deployments.deployment_swap, name="deployment-swap"),
    path(D + "jobs/<str:job_id>/", deployments.deployment_job, name="deployment-job"),
    path(
        D + "<str:deployment>/delete",
        deployments.deployment_delete,
        name="deployment-delete",
    ),
]
