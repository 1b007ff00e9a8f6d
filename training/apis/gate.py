"""``/api/v1/projects/{p}/gate``: the deploy gate's setting and set (the comparison
runs on every deploy and swap, ``training/services/gate.py``).

- ``GET gate``: the threshold, the guarded deployments, the pinned set (size, date,
  who) and the golden count.
- ``PATCH gate`` ``{"maxAccuracyDrop": 2.5 | null, "gatedDeployments": [...]}``:
  block deploys worse than the serving model by more than that many accuracy points
  (null: off), into the named deployments only ([]: all). Admins.
- ``POST gate:pin``: copy the Test set as it is now into the pinned set. Analysts.
- ``GET golden``, ``PUT golden/{utteranceId}``, ``DELETE golden/{utteranceId}``:
  the golden utterances. Analysts.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.lro import iso
from projects.apis.fine_grained import PAGING, PROJECT_NAME, V1ApiView
from projects.models import Project, Utterance
from projects.selectors import authoring as selectors
from projects.selectors.gate import gate_summary
from projects.services import gate as svc
from studio.api.paging import paged_response
from studio.errors import InvalidArgument

TAGS = ["deploy gate (v1)"]
GATE_KINDS = list(svc.GATE_KINDS)
UTTERANCE_ID = OpenApiParameter("utterance_id", int, OpenApiParameter.PATH)
# PATCH gate's fields and the service's arguments they set.
SETTINGS = {"maxAccuracyDrop": "max_drop", "gatedDeployments": "gated_deployments"}


def _project(name: str) -> Project:
    return selectors.project_get(name=name, kinds=GATE_KINDS)


def gate_document(project: Project) -> dict[str, Any]:
    summary = gate_summary(project=project)
    pinned = summary["pinned"]
    if pinned is not None:
        pinned = pinned | {"pinnedDateTime": iso(pinned["pinnedDateTime"])}
    return summary | {"pinned": pinned}


def golden_document(utterance: Utterance) -> dict[str, Any]:
    return {
        "id": utterance.pk,
        "text": utterance.text,
        "intent": utterance.intent.name,
        "dataset": utterance.dataset,
        "golden": utterance.golden,
    }


class GateApi(V1ApiView):
    project_actions = {"get": "read", "head": "read", "patch": "admin"}

    @extend_schema(
        operation_id="v1_gate_get",
        parameters=[PROJECT_NAME],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description="The deploy gate: maxAccuracyDrop (null: deploys are never "
        "blocked), gatedDeployments (the deployments compared and blocked; empty: "
        "all), the pinned Test set, the golden count and the gate set's size.",
    )
    def get(self, request: Request, project_name: str) -> Response:
        return Response(gate_document(_project(project_name)))

    @extend_schema(
        operation_id="v1_gate_update",
        parameters=[PROJECT_NAME],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description='{"maxAccuracyDrop": number | null, "gatedDeployments": '
        "[string]}, either or both (a field left out keeps its value). "
        "maxAccuracyDrop: block deploys and swaps whose model is worse than the "
        "serving one by more than this many accuracy points (0 to 100) on the gate "
        "set; null turns the block off. gatedDeployments: the names of the "
        "deployments the gate guards (at most 10; they need not exist yet); a deploy "
        "or swap into any other deployment is not compared and never blocked (its job "
        "warning DeployGateSkipped says so); an empty list guards every deployment. "
        "Bad values are a 400 InvalidArgument naming the field, and change nothing. "
        "Admins only.",
    )
    def patch(self, request: Request, project_name: str) -> Response:
        project = _project(project_name)
        body = self.json_body(request)
        if not isinstance(body, dict) or not set(body) & set(SETTINGS):
            raise InvalidArgument(
                'Send {"maxAccuracyDrop": number of accuracy points, or null} and/or '
                '{"gatedDeployments": [deployment names]}.',
                target="maxAccuracyDrop",
            )
        unknown = sorted(set(body) - set(SETTINGS))
        if unknown:
            raise InvalidArgument(
                f"Unknown field {unknown[0]!r}: only maxAccuracyDrop and "
                "gatedDeployments can be set.",
                target=unknown[0],
            )
        project = svc.project_gate_update(
            project=project,
            **{SETTINGS[field]: value for field, value in body.items()},
        )
        return Response(gate_document(project))


class GatePinApi(V1ApiView):
    project_actions = {"post": "train"}

    @extend_schema(
        operation_id="v1_gate_pin",
        parameters=[PROJECT_NAME],
        request=None,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description="Pin the Test set now: copy its utterances and labels into the "
        "gate set, replacing the previous pin. Analysts and admins.",
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = _project(project_name)
        svc.evaluation_set_pin(project=project)
        return Response(gate_document(project))


class GoldenListApi(V1ApiView):
    project_actions = {"get": "read", "head": "read"}

    @extend_schema(
        operation_id="v1_golden_list",
        parameters=[PROJECT_NAME, *PAGING],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _project(project_name)
        rows = (
            Utterance.objects.filter(project=project, golden=True)
            .select_related("intent")
            .order_by("id")
        )
        return paged_response(request, rows, golden_document)


class GoldenApi(V1ApiView):
    project_actions = {"put": "write", "delete": "write"}

    @extend_schema(
        operation_id="v1_golden_mark",
        parameters=[PROJECT_NAME, UTTERANCE_ID],
        request=None,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description="Mark the utterance golden: every deploy is checked on it.",
    )
    def put(self, request: Request, project_name: str, utterance_id: int) -> Response:
        return self._set(project_name, utterance_id, golden=True)

    @extend_schema(
        operation_id="v1_golden_unmark",
        parameters=[PROJECT_NAME, UTTERANCE_ID],
        request=None,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def delete(
        self, request: Request, project_name: str, utterance_id: int
    ) -> Response:
        return self._set(project_name, utterance_id, golden=False)

    def _set(self, project_name: str, utterance_id: int, *, golden: bool) -> Response:
        project = _project(project_name)
        row = svc.utterance_golden_set(project=project, pk=utterance_id, golden=golden)
        return Response(golden_document(row))
