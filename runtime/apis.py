"""Runtime prediction API (azure-api.md §1, §2): what bots call.

Views stay thin and cheap: parse the body into a typed request (400 naming the
field), check access to the project, count the key's quota, call one service, and
write the JSON directly (no serializer or renderer on the hot path). Database
outages become Azure's 503 instead of an HTML 500 (``RuntimeApiView``). A user's key
is held to its owner's project roles for the project it names and for the project an
orchestration routes to (training/README.md, "Links and access").
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from projects.apis.base import ProjectApiView
from projects.apis.conversations import API_VERSION
from runtime import limits, parsing, services
from runtime.errors import ServiceUnavailable, TooManyRequests
from runtime.keys import access_cache, key_cache
from runtime.registry import runtime
from studio.api.auth import (
    KEY_HEADER,
    ApiKeyAuthentication,
    BearerTokenAuthentication,
    KeyPrincipal,
)
from studio.api.errors import InvalidKey
from studio.api.tokens import BearerToken
from studio.api.versions import ApiFamily
from studio.models import ApiKey

TAGS = ["Runtime"]


def json_response(data: Any) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        content_type="application/json; charset=utf-8",
    )


class CachedApiKeyAuthentication(ApiKeyAuthentication):
    """The key header, checked through the runtime's short-lived key cache
    (``runtime.keys``): no query per prediction for a known key."""

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        raw = request.META.get(KEY_HEADER)
        if raw is None:
            return None
        api_key = key_cache.authenticate(raw.strip())
        if api_key is None:
            raise InvalidKey()
        return KeyPrincipal(api_key), api_key


class CachedApiKeyScheme(OpenApiAuthenticationExtension):
    """The same ``Ocp-Apim-Subscription-Key`` header as the authoring API's
    ``apiKey`` scheme (a second name: drf-spectacular wants one class per name)."""

    target_class = "runtime.apis.CachedApiKeyAuthentication"
    name = "runtimeApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key"}


class RuntimeApiView(ProjectApiView):
    """Azure error shapes for the runtime's own failures: 429 with ``Retry-After``
    and 503 when the database is unreachable (``studio.api.errors.database_error``
    closes the broken connection so the next request reconnects)."""

    authentication_classes = [CachedApiKeyAuthentication, BearerTokenAuthentication]
    # The project is named in the body (or query), and every call counts against
    # the key's per-minute limit.
    schema_error_statuses = frozenset({403, 404, 429})

    def handle_exception(self, exc: Exception) -> Response:
        # Database errors are mapped by the house handler (``database_error``).
        response = super().handle_exception(exc)
        if isinstance(exc, TooManyRequests):
            response["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, ServiceUnavailable):
            response["Retry-After"] = str(getattr(exc, "retry_after", 1))
        return response

    def check_project_access(self, project_name: str, action: str) -> None:
        """The house check, remembered for a few seconds once it passed for a
        served project (``keys.access_cache``): a warm prediction with a user's key
        costs no query. Only projects with a deployment are remembered, so a name
        that does not exist yet is checked again on every request."""
        user = self.key_owner
        if user is None:
            return
        if access_cache.allowed(user.pk, project_name, action):
            return
        super().check_project_access(project_name, action)
        if runtime().directory.has_project(project_name):
            access_cache.remember(user.pk, project_name, action)

    def target_access(self) -> services.TargetAccess | None:
        """The check for the project an orchestration routes to: a user's key
        reaches through a link only what it may query directly; a resource key
        (no owner) reaches everything, as any Azure key of the resource does."""
        if self.key_owner is None:
            return None
        return lambda name: self.check_project_access(name, "predict")

    def api_key_prefix(self, request: Request) -> str:
        auth = request.auth
        return auth.prefix if isinstance(auth, ApiKey) else ""

    def count_prediction(self, request: Request, *, amount: int = 1) -> None:
        auth = request.auth
        if isinstance(auth, ApiKey):
            limits.rate_limit_check(key_id=auth.pk, amount=amount)
        elif isinstance(auth, BearerToken):
            # A token's calls count against its user, as one key's do.
            limits.rate_limit_check(key_id=f"user-{auth.user.pk}", amount=amount)


class ConversationAnalyzeApi(RuntimeApiView):
    """Predict with a Conversation or Orchestration deployment (azure-api.md §1);
    on 2025-05-15-preview and 2025-11-15-preview also ``kind: ConversationalAI``,
    multi-turn conversations analyzed with a Conversation deployment."""

    api_family = ApiFamily.CONVERSATIONS

    @extend_schema(
        tags=TAGS,
        operation_id="conversation_analyze",
        parameters=[API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request: Request) -> HttpResponse:
        self.count_prediction(request)
        parsed = parsing.analyze_body_parse(
            self.json_body(request), api_version=self.api_version
        )
        self.check_project_access(parsed.project_name, "predict")
        if isinstance(parsed, parsing.ConversationalAIRequest):
            # One prediction per item (the first was counted with the request,
            # before parsing, so that bad requests count too).
            items = sum(len(c.items) for c in parsed.conversations)
            if items > 1:
                self.count_prediction(request, amount=items - 1)
            return json_response(
                services.conversational_ai_analyze(
                    parsed, api_key_prefix=self.api_key_prefix(request)
                )
            )
        return json_response(
            services.conversation_analyze(
                parsed,
                api_key_prefix=self.api_key_prefix(request),
                target_access=self.target_access(),
            )
        )


class KnowledgeBaseQueryApi(RuntimeApiView):
    """Answers from a deployed knowledge base (azure-api.md §2.1, §2.2)."""

    api_family = ApiFamily.QUESTION_ANSWERING

    @extend_schema(
        tags=TAGS,
        operation_id="knowledgebase_query",
        parameters=[
            API_VERSION,
            OpenApiParameter("projectName", str, OpenApiParameter.QUERY, required=True),
            OpenApiParameter(
                "deploymentName", str, OpenApiParameter.QUERY, required=True
            ),
        ],
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request: Request) -> HttpResponse:
        self.count_prediction(request)
        parsed = parsing.qna_request_parse(
            self.json_body(request),
            project_name=request.query_params.get("projectName"),
            deployment_name=request.query_params.get("deploymentName"),
        )
        self.check_project_access(parsed.project_name, "predict")
        return json_response(services.knowledgebase_query(parsed))


class TextQueryApi(RuntimeApiView):
    """Answers found in the text records sent with the question (§2.3)."""

    api_family = ApiFamily.QUESTION_ANSWERING
    # No project: the records come with the question.
    schema_error_statuses = frozenset({429})

    @extend_schema(
        tags=TAGS,
        operation_id="text_query",
        parameters=[API_VERSION],
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request: Request) -> HttpResponse:
        self.count_prediction(request)
        parsed = parsing.text_request_parse(self.json_body(request))
        return json_response(services.text_query(parsed))
