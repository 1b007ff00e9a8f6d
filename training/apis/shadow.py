"""``/api/v1/projects/{p}/deployments/{d}/shadow``: a deployment's shadow model
(``training.services.shadow``) and how often it agreed with the live model.
GET needs the read role; PUT (``{"trainedModelLabel": "..."}``) and DELETE the
deploy role, as deploying does. Azure's deployment documents are unchanged: the
shadow lives only here."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from projects.apis.fine_grained import PROJECT_NAME, V1ApiView
from projects.selectors import authoring as project_selectors
from training.selectors.authoring import deployment_get
from training.selectors.shadow import shadow_document
from training.services import shadow as svc

TAGS = ["shadow deployments (v1)"]
DEPLOYMENT_NAME = OpenApiParameter("deployment_name", str, OpenApiParameter.PATH)


class DeploymentShadowApi(V1ApiView):
    project_actions = {
        "get": "read",
        "head": "read",
        "put": "deploy",
        "delete": "deploy",
    }

    @extend_schema(
        operation_id="v1_deployment_shadow_get",
        parameters=[PROJECT_NAME, DEPLOYMENT_NAME],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            "The deployment's live model and its shadow (null when none), with the "
            "shadow's agreement over the last 24 hours and since it was set: queries "
            "compared, same top intent (agreementRate), confidence gaps, dropped "
            "under load, failed."
        ),
    )
    def get(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        project = project_selectors.project_get(
            name=project_name, kinds=list(svc.SHADOW_KINDS)
        )
        deployment = deployment_get(project=project, name=deployment_name)
        return Response(shadow_document(deployment))

    @extend_schema(
        operation_id="v1_deployment_shadow_set",
        parameters=[PROJECT_NAME, DEPLOYMENT_NAME],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            '{"trainedModelLabel": str}: make a trained model of the same project '
            "(not the one the deployment serves) its shadow, replacing any other. "
            "The shadow predicts every query in the background; only the live model "
            "answers. Promote it with an ordinary deploy of its label."
        ),
    )
    def put(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        project = project_selectors.project_get(
            name=project_name, kinds=list(svc.SHADOW_KINDS)
        )
        body = self.json_body(request)
        change = svc.deployment_shadow_set(
            project=project,
            deployment_name=deployment_name,
            model_label=body.get("trainedModelLabel"),
        )
        return Response(shadow_document(change.deployment))

    @extend_schema(
        operation_id="v1_deployment_shadow_clear",
        parameters=[PROJECT_NAME, DEPLOYMENT_NAME],
        responses={204: None},
        tags=TAGS,
        description="Stop shadowing the deployment (204 also when it had no shadow).",
    )
    def delete(
        self, request: Request, project_name: str, deployment_name: str
    ) -> Response:
        project = project_selectors.project_get(
            name=project_name, kinds=list(svc.SHADOW_KINDS)
        )
        svc.deployment_shadow_clear(project=project, deployment_name=deployment_name)
        return Response(status=204)
