"""The HTTP surface of the training app, one pattern list per mount point.

``studio/urls.py`` mounts these lists after the authoring app's at the same place
and names the namespaces that span apps (``conversations``, ``ui``).

* ``conversation_patterns``: training, trained models, evaluation (azure-api.md
  §3.4–§3.6), deployments and deployment resources, under
  ``/language/authoring/analyze-conversations/`` (namespace ``conversations``).
* ``qna_patterns``: knowledge-base deployments, under both question-answering
  mounts (``/language/authoring/query-knowledgebases/`` and
  ``/language/query-knowledgebases/``).
* ``api_v1_patterns``: ``/api/v1/``, the review queue (``training/apis/review.py``)
  and its clusters (``training/apis/clusters.py``), the deploy gate and
  deployments' shadow models (``training/apis/shadow.py``), and the
  deployment-resource registry (``training/apis/resource_registry.py``).
* ``ui_patterns``: the studio's Review, Train, Models and evaluation and
  Deployments screens (namespace ``ui``; the Playground is the runtime's).
* ``resources_ui_patterns``: ``/resources/``, the deployment-resource registry for
  studio staff (namespace ``resources``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from training.apis import clusters as clusters_api
from training.apis import deployments as deployment_api
from training.apis import gate as gate_api
from training.apis import resource_registry as registry_api
from training.apis import resources as resource_api
from training.apis import review as review_api
from training.apis import shadow as shadow_api
from training.apis import training as api
from training.views import clusters, deployments, models, resources, review, train

P = "projects/<str:project_name>"
M = f"{P}/models/<str:label>"
D = f"{P}/deployments"
R = f"{P}/resources"

# --- /language/authoring/analyze-conversations/ (namespace "conversations") ---------
# ":swap" and "swap/jobs" come before "deployments/<name>": "swap" is a reserved
# deployment name, so they never shadow a deployment.

conversation_patterns: list[URLPattern | URLResolver] = [
    # Before deployments/<name>: "global" is a reserved project name.
    path(
        "projects/global/deployments/resources",
        resource_api.AssignedResourceDeploymentListApi.as_view(),
        name="deployment-resources-all",
    ),
    # Training, trained models and their evaluation.
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
    # Deployments.
    path(D, deployment_api.DeploymentListApi.as_view(), name="deployment-list"),
    path(
        f"{D}/:swap",
        deployment_api.DeploymentSwapApi.as_view(),
        name="deployment-swap",
    ),
    path(
        f"{D}/swap/jobs/<str:job_id>",
        deployment_api.DeploymentSwapJobApi.as_view(),
        name="deployment-swap-job",
    ),
    path(
        f"{D}/<str:deployment_name>",
        deployment_api.DeploymentApi.as_view(),
        name="deployment",
    ),
    path(
        f"{D}/<str:deployment_name>/jobs/<str:job_id>",
        deployment_api.DeploymentJobApi.as_view(),
        name="deployment-job",
    ),
    # Deployment resources (training/apis/resources.py).
    path(R, resource_api.ProjectResourceListApi.as_view(), name="project-resources"),
    path(
        f"{R}/:assign",
        resource_api.ProjectResourcesAssignApi.as_view(),
        name="project-resources-assign",
    ),
    path(
        f"{R}/:unassign",
        resource_api.ProjectResourcesUnassignApi.as_view(),
        name="project-resources-unassign",
    ),
    path(
        f"{R}/<str:action>/jobs/<str:job_id>",
        resource_api.ProjectResourcesJobApi.as_view(),
        name="project-resources-job",
    ),
    path(
        f"{D}/<str:deployment_name>/:delete-from-resources",
        resource_api.DeploymentDeleteFromResourcesApi.as_view(),
        name="deployment-delete-from-resources",
    ),
    path(
        f"{D}/<str:deployment_name>/delete-from-resources/jobs/<str:job_id>",
        resource_api.DeploymentDeleteFromResourcesJobApi.as_view(),
        name="deployment-delete-from-resources-job",
    ),
]

# --- /language/{authoring/,}query-knowledgebases/ (no namespace; mounted twice) ------

qna_patterns: list[URLPattern | URLResolver] = [
    path(D, deployment_api.KbDeploymentListApi.as_view(), name="qna-deployment-list"),
    path(
        f"{D}/<str:deployment_name>",
        deployment_api.KbDeploymentApi.as_view(),
        name="qna-deployment",
    ),
    path(
        f"{D}/<str:deployment_name>/jobs/<str:job_id>",
        deployment_api.KbDeploymentJobApi.as_view(),
        name="qna-deployment-job",
    ),
]

# --- /api/v1/ (no namespace) ------------------------------------------------------

api_v1_patterns: list[URLPattern | URLResolver] = [
    path("resources", registry_api.ResourceListApi.as_view(), name="v1-resources"),
    path(
        "resources/<int:pk>",
        registry_api.ResourceApi.as_view(),
        name="v1-resource",
    ),
    path(f"{P}/review", review_api.ReviewListApi.as_view(), name="v1-review"),
    path(
        f"{P}/review/clusters",
        clusters_api.ReviewClusterListApi.as_view(),
        name="v1-review-clusters",
    ),
    path(
        f"{P}/review/clusters/<int:cluster_id>",
        clusters_api.ReviewClusterApi.as_view(),
        name="v1-review-cluster",
    ),
    path(
        f"{P}/review/<int:log_id>",
        review_api.ReviewActApi.as_view(),
        name="v1-review-act",
    ),
    path(f"{P}/gate", gate_api.GateApi.as_view(), name="v1-gate"),
    path(f"{P}/gate:pin", gate_api.GatePinApi.as_view(), name="v1-gate-pin"),
    path(f"{P}/golden", gate_api.GoldenListApi.as_view(), name="v1-golden"),
    path(
        f"{P}/golden/<int:utterance_id>",
        gate_api.GoldenApi.as_view(),
        name="v1-golden-utterance",
    ),
    path(
        f"{D}/<str:deployment_name>/shadow",
        shadow_api.DeploymentShadowApi.as_view(),
        name="v1-deployment-shadow",
    ),
]

# --- The studio UI (namespace "ui") -----------------------------------------------

U = "projects/<str:name>/"
UR = U + "review/"
UT = U + "train/"
UM = U + "models/"
UD = U + "deployments/"

ui_patterns: list[URLPattern | URLResolver] = [
    path(UR, review.review_page, name="review"),
    path(UR + "<int:pk>/act", review.review_act, name="review-act"),
    path(UR + "clusters/", clusters.cluster_list, name="review-clusters"),
    path(UR + "clusters/<int:pk>/", clusters.cluster_detail, name="review-cluster"),
    path(UR + "clusters/<int:pk>/act", clusters.cluster_act, name="review-cluster-act"),
    path(UT, train.train_page, name="train"),
    path(UT + "start", train.train_create, name="train-start"),
    path(UT + "jobs/<str:job_id>/", train.train_job, name="train-job"),
    path(UT + "jobs/<str:job_id>/cancel", train.train_cancel, name="train-cancel"),
    path(UM, models.model_list, name="models"),
    # "compare" has no trailing slash: it never shadows a model labeled "compare".
    path(UM + "compare", models.model_compare, name="models-compare"),
    path(UM + "<str:label>/", models.model_detail, name="model"),
    path(UM + "<str:label>/cell", models.model_cell, name="model-cell"),
    path(UM + "<str:label>/relabel", models.model_relabel, name="model-relabel"),
    path(UM + "<str:label>/add", models.model_add_to_data, name="model-add"),
    path(UM + "<str:label>/delete", models.model_delete, name="model-delete"),
    path(UD, deployments.deployment_list, name="deployments"),
    path(UD + "deploy", deployments.deployment_create, name="deployment-create"),
    path(UD + "swap", deployments.deployment_swap, name="deployment-swap"),
    path(UD + "jobs/<str:job_id>/", deployments.deployment_job, name="deployment-job"),
    path(UD + "shadow", deployments.deployment_shadow_set, name="deployment-shadow"),
    path(
        UD + "<str:deployment>/shadow/clear",
        deployments.deployment_shadow_clear,
        name="deployment-shadow-clear",
    ),
    # "resources" is not a deployment name the page links to: its routes come first.
    path(UD + "resources/", resources.project_resources, name="deployment-resources"),
    path(
        UD + "resources/assign",
        resources.project_resource_assign,
        name="deployment-resource-assign",
    ),
    path(
        UD + "resources/<int:pk>/unassign",
        resources.project_resource_unassign,
        name="deployment-resource-unassign",
    ),
    path(
        UD + "resources/<int:pk>/copy",
        resources.project_resource_copy,
        name="deployment-resource-copy",
    ),
    path(
        UD + "resources/<int:pk>/delete",
        resources.project_resource_delete,
        name="deployment-resource-delete",
    ),
    path(
        UD + "<str:deployment>/delete",
        deployments.deployment_delete,
        name="deployment-delete",
    ),
]

# --- /resources/: the deployment-resource registry (namespace "resources") --------

resources_ui_patterns: list[URLPattern | URLResolver] = [
    path("resources/", resources.resource_list, name="list"),
    path("resources/new", resources.resource_add, name="add"),
    path("resources/<int:pk>/edit", resources.resource_edit, name="edit"),
    path("resources/<int:pk>/save", resources.resource_save, name="save"),
    path("resources/<int:pk>/remove", resources.resource_remove, name="remove"),
]
