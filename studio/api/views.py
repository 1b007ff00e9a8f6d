"""The base class of every Azure-compatible API view: authentication (a key or a
bearer token), ``api-version``, JSON bodies, Azure errors. Per-project roles are the
projects app's (``projects.apis.base.ProjectApiView``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from studio.api.auth import (
    ApiKeyAuthentication,
    BearerTokenAuthentication,
    HasCredential,
)
from studio.api.parsers import MergePatchJSONParser, StrictJSONParser
from studio.api.tokens import BearerToken
from studio.api.versions import SUPPORTED_VERSIONS, ApiFamily
from studio.errors import InvalidArgument, InvalidRequest
from studio.models import ApiKey
from studio.requester import requester_set

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


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
    """Key (or bearer token) authentication, ``api-version`` checking, JSON bodies,
    Azure errors.

    Subclasses set ``api_family``; ``require_api_version = False`` only for routes
    Azure serves without one (none so far).
    """

    # The key header first: a call that sends both is a key call.
    authentication_classes = [ApiKeyAuthentication, BearerTokenAuthentication]
    permission_classes = [HasCredential]
    parser_classes = [StrictJSONParser, MergePatchJSONParser]
    content_negotiation_class = AzureContentNegotiation
    api_family: ClassVar[ApiFamily] = ApiFamily.CONVERSATIONS
    require_api_version: ClassVar[bool] = True
    # 4xx answers beyond those ``studio.api.schema`` derives from the path and method.
    schema_error_statuses: ClassVar[frozenset[int]] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication first: 401 wins
        # Jobs this call creates count against its key owner's queue limit.
        requester_set(lambda: None if self.key_owner is None else self.key_owner.pk)
        if self.require_api_version:
            self._check_api_version(request)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        """``OPTIONS``: 204 with the ``Allow`` header (DRF adds it to every
        response), not DRF's metadata body, which describes the view class."""
        return Response(status=204)

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

    @property
    def key_owner(self) -> AbstractBaseUser | None:
        """The user whose key made the call, or None for a resource key; for a
        bearer token, the user the token names."""
        if not hasattr(self, "_key_owner"):
            api_key = self.request.auth
            owner: AbstractBaseUser | None = None
            if isinstance(api_key, ApiKey) and api_key.created_by_id is not None:
                owner = api_key.created_by
            elif isinstance(api_key, BearerToken):
                owner = api_key.user
            self._key_owner = owner
        return self._key_owner

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
