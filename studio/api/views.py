"""The base class of every Azure-compatible API view."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from studio.api.auth import ApiKeyAuthentication, HasApiKey
from studio.api.parsers import MergePatchJSONParser
from studio.api.versions import SUPPORTED_VERSIONS, ApiFamily
from studio.errors import InvalidArgument, InvalidRequest


class AzureContentNegotiation(DefaultContentNegotiation):
    """Always the first renderer (JSON). Azure's ``format`` query parameter names a
    file format (``format=Conversation``, ``format=tsv``); DRF would read it as its
    renderer override and answer 404."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class AzureApiView(APIView):
    """Key authentication, ``api-version`` checking, JSON bodies, Azure errors.

    Subclasses set ``api_family``; ``require_api_version = False`` only for routes
    Azure serves without one (none so far).
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    parser_classes = [JSONParser, MergePatchJSONParser]
    content_negotiation_class = AzureContentNegotiation
    api_family: ClassVar[ApiFamily] = ApiFamily.CONVERSATIONS
    require_api_version: ClassVar[bool] = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication first: 401 wins
        if self.require_api_version:
            self._check_api_version(request)

    def _check_api_version(self, request: Request) -> None:
        version = request.query_params.get("api-version")
        supported = SUPPORTED_VERSIONS[self.api_family]
        if not version:
            raise InvalidArgument(
                "The api-version query parameter is required. Supported versions: "
                + ", ".join(supported)
                + ".",
                target="api-version",
            )
        if version not in supported:
            raise InvalidArgument(
                f"Unsupported api-version {version!r}. Supported versions: "
                + ", ".join(supported)
                + ".",
                target="api-version",
            )

    def check_project_access(self, project_name: str, action: str) -> None:
        """Raise when the caller may not ``action`` the project.

        ``action`` is one of ``read``, ``write``, ``train``, ``deploy``, ``predict``.
        Every view that touches a project calls this with the project name from the
        path or body. Keys created without an owner are resource keys (as an Azure
        resource key): they may do everything. Per-project roles of a key's owner
        are enforced here.
        """

    @property
    def api_version(self) -> str:
        return str(self.request.query_params.get("api-version", ""))

    def json_body(self, request: Request, *, required: bool = True) -> dict[str, Any]:
        """The body as a JSON object, or an Azure 400 saying what is wrong."""
        data = request.data
        if not data and required:
            raise InvalidRequest(
                "The request body is empty; a JSON object is required.",
                inner_code="EmptyRequest",
            )
        if not isinstance(data, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        return data
