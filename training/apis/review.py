"""``/api/v1/projects/{p}/review``: the review queue of logged queries (listed best
first, duplicates collapsed) and its triage actions. Same key authentication and
Azure error body as the rest of ``/api/v1``; reading needs the read role, acting the
labeling one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from projects.apis.fine_grained import (
    LABELED_KINDS,
    PAGING,
    PROJECT_NAME,
    V1ApiView,
    request_labeler,
)
from projects.models import Project
from projects.selectors import authoring as selectors
from studio.api.paging import paged_response
from studio.errors import InvalidArgument
from studio.inputs import echo
from training.selectors import review as sr
from training.services import review as svc
from training.services.review_recipe import review_keys_catch_up

TAGS = ["review queue (v1)"]
REASONS = ("shadow",)
FILTERS = [
    OpenApiParameter("deployment", str, description="Only queries to this deployment."),
    OpenApiParameter("since", OpenApiTypes.DATE, description="Logged on or after."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Logged on or before."),
    OpenApiParameter(
        "band",
        str,
        enum=list(sr.BANDS),
        description="Top confidence: low < 0.5 ≤ medium < 0.8 ≤ high.",
    ),
    OpenApiParameter("intent", str, description="Only queries predicted as this."),
    OpenApiParameter("status", str, enum=list(sr.STATUSES)),
    OpenApiParameter(
        "reason",
        str,
        enum=list(REASONS),
        description="shadow: only queries the deployment's shadow model disagreed "
        "on (another top intent, or a large confidence gap).",
    ),
]


def _labeled(name: str) -> Project:
    return selectors.project_get(name=name, kinds=LABELED_KINDS)


def _date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidArgument(
            f"{name} must be a date such as 2026-01-31; got {echo(raw)}.", target=name
        ) from None


def body_action(body: dict[str, Any], actions: Sequence[str]) -> str:
    """The body's ``action``, required as a string (400 naming ``actions``); the
    service checks that it is one of them."""
    action = body.get("action")
    if not isinstance(action, str):
        raise InvalidArgument(
            f"action is required: one of {', '.join(actions)}.", target="action"
        )
    return action


def review_filter(request: Request) -> sr.ReviewFilter:
    params = request.query_params
    band = params.get("band") or ""
    if band and band not in sr.BANDS:
        raise InvalidArgument(
            f"band must be one of {', '.join(sr.BANDS)}; got {echo(band)}.",
            target="band",
        )
    status = params.get("status") or "pending"
    if status not in sr.STATUSES:
        raise InvalidArgument(
            f"status must be one of {', '.join(sr.STATUSES)}; got {echo(status)}.",
            target="status",
        )
    reason = params.get("reason") or ""
    if reason and reason not in REASONS:
        raise InvalidArgument(
            f"reason must be one of {', '.join(REASONS)}; got {echo(reason)}.",
            target="reason",
        )
    since, until = _date(request, "since"), _date(request, "until")
    if since and until and until < since:
        raise InvalidArgument("until is before since.", target="until")
    return sr.ReviewFilter(
        deployment=params.get("deployment") or "",
        since=since,
        until=until,
        band=band,
        intent=params.get("intent") or "",
        status=status,
        shadow=reason == "shadow",
    )


class ReviewListApi(V1ApiView):
    @extend_schema(
        operation_id="v1_review_list",
        parameters=[PROJECT_NAME, *PAGING, *FILTERS],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            "Logged queries (sent with isLoggingEnabled) waiting for review, the "
            "ones labeling would teach most first; duplicates (same normalized "
            "text) are one item with a count. `id` names the item in actions; "
            "`logIds` lists at most 1,000 of its logs (the oldest), `count` all."
        ),
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        filters = review_filter(request)  # a bad filter is a 400 that writes nothing
        review_keys_catch_up(project=project)  # a bounded batch, if any
        groups = sr.review_queue(project=project, filters=filters)
        return paged_response(request, groups, sr.review_group_document)


class ReviewActApi(V1ApiView):
    @extend_schema(
        operation_id="v1_review_act",
        parameters=[
            PROJECT_NAME,
            OpenApiParameter("log_id", int, OpenApiParameter.PATH),
        ],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            '{"action": "accept"|"label"|"none"|"skip"|"discard", "intent"?: str}: '
            "accept the predicted intent, label with `intent`, mark out of scope "
            "(intent None), skip or discard the item and its duplicates. The first "
            "three add the query to the data (the project's review dataset) or "
            "relabel the utterance of the same text."
        ),
    )
    def post(self, request: Request, project_name: str, log_id: int) -> Response:
        project = _labeled(project_name)
        body = self.json_body(request)
        outcome = svc.review_act(
            project=project,
            log_id=log_id,
            action=body_action(body, svc.ACTIONS),
            intent=body.get("intent"),
            user=self.key_owner,
            labeled_by=request_labeler(request),
        )
        utterance = outcome.utterance
        return Response(
            {
                "action": outcome.action,
                "count": outcome.count,
                "intent": outcome.intent,
                "utterance": None
                if utterance is None
                else {
                    "id": utterance.pk,
                    "text": utterance.text,
                    "dataset": utterance.dataset,
                    "created": outcome.created,
                },
            }
        )
