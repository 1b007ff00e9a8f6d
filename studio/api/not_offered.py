"""Azure operations this studio does not offer, answered as such, and the catch-all
answer of every path it does not know.

Without a route, these paths would reach a neighbouring route and get a misleading
answer or the catch-all's bare "resource not found". Here the caller is
authenticated as on every route (401 first), then told which feature is not offered
and what the studio serves instead, in Azure's 404 error shape.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from studio.api.views import AzureApiView
from studio.errors import NotFound

CONVERSATION_JOBS = (
    "Conversation PII redaction and summarization jobs (analyze-conversations/jobs) "
    "are not offered by this studio. It serves conversational language understanding "
    "and orchestration through POST :analyze-conversations."
)


@extend_schema(exclude=True)
class NotOfferedApi(AzureApiView):
    """Every method: 404 ``NotFound`` naming the feature (``feature`` is set per
    route through ``as_view(feature=...)``)."""

    require_api_version = False
    feature: ClassVar[str] = ""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication first: 401 wins
        raise NotFound(self.feature, target="path")


@extend_schema(exclude=True)
class UnknownPathApi(APIView):
    """Every other path under ``/language/`` and ``/api/v1/`` (the last route of each,
    in ``studio/urls.py``): Azure's 404 body, never Django's HTML."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Raised here so DRF's handler renders it, whatever the method.
        raise NotFound(f"The resource {request.path!r} was not found.", target="path")
