"""The base class of every Azure-compatible API view."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    from django.db.models import QuerySet

    from projects.models import Project

# The default ``project_actions``: reads for safe methods, writes for the rest.
READ_WRITE: Mapping[str, str] = {
    "get": "read",
    "head": "read",
    "post": "write",
    "put": "write",
    "patch": "write",
    "delete": "write",
}


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
    # For views whose URL names a project (``project_name``): the action each HTTP
    # method needs, checked before the handler runs, so no handler can forget it.
    # None: the view calls ``check_project_access`` itself (the training APIs).
    project_actions: ClassVar[Mapping[str, str] | None] = None
    # 4xx answers beyond those ``studio.api.schema`` derives from the path and method.
    schema_error_statuses: ClassVar[frozenset[int]] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication first: 401 wins
        # Jobs this call creates count against its key owner's queue limit.
        requester_set(lambda: None if self.key_owner is None else self.key_owner.pk)
        if self.require_api_version:
            self._check_api_version(request)
        actions = self.project_actions
        if actions is not None and "project_name" in kwargs:
            # A method without an action (OPTIONS, TRACE, anything unknown) has no
            # handler that touches the project: dispatch answers it (204 or 405).
            action = actions.get((request.method or "get").lower())
            if action is not None:
                self.check_project_access(kwargs["project_name"], action)

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

    def check_project_access(self, project_name: str, action: str) -> None:
        """Raise when the caller may not ``action`` the project.

        ``action`` is one of ``read``, ``write``, ``train``, ``deploy``, ``predict``.
        Every view that touches a project calls this with the project name from the
        path or body. Keys created without an owner are resource keys (as an Azure
        resource key): they may do everything. Per-project roles of a key's owner
        are enforced here (``projects.permissions``): a project the owner is not a
        member of is "not found" (ProjectNotFound, 404), as if it did not exist; a
        role too low for the action is 403 Forbidden. A project that does not exist
        yet passes: the view answers 404 itself, or creates it.
        """
        user = self.key_owner
        if user is None:
            return
        from projects.permissions import project_access_check

        project_access_check(user, project_name, action)

    def project_allows(self, project_name: str, action: str) -> bool:
        """Whether the caller may ``action`` the project (``check_project_access``
        without raising), for a service that needs a stronger right for part of a
        request (``targets_allowed``)."""
        from studio.errors import Forbidden, ProjectNotFound

        try:
            self.check_project_access(project_name, action)
        except (Forbidden, ProjectNotFound):
            return False
        return True

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

    def readable_projects(self, projects: QuerySet[Project]) -> QuerySet[Project]:
        """``projects`` narrowed to those the caller may read (list endpoints)."""
        user = self.key_owner
        if user is None:
            return projects
        from projects.permissions import projects_for_user

        return projects.filter(pk__in=projects_for_user(user).values("pk"))

    def project_created(self, project: Project) -> None:
        """A user's key created ``project``: make that user its admin."""
        user = self.key_owner
        if user is not None:
            from projects.services import member_make_admin

            member_make_admin(project=project, user=user)

    @property
    def owner_params(self) -> dict[str, Any]:
        """Job params naming the key's owner, for jobs that act for them (imports):
        an import makes the owner the new project's admin, and checks its links
        against what the owner may read."""
        from projects.permissions import actor_params

        return actor_params(self.key_owner)

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
