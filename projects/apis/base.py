"""The base class of every Azure-compatible API view that touches projects.

``studio.api.views.AzureApiView`` is the studio's part (keys and bearer tokens,
``api-version``, JSON bodies, Azure errors); ``ProjectApiView`` adds who may do what
to a project (``projects.permissions``): a declared action per HTTP method checked
before the handler runs, checks a handler makes itself, list narrowing, the admin
membership of a project a user's key creates, and the job params that name the key's
owner. The training and runtime APIs build on it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework.request import Request

from projects.models import Project
from projects.permissions import actor_params, project_access_check, projects_for_user
from projects.services import member_make_admin
from studio.api.views import AzureApiView
from studio.errors import Forbidden, ProjectNotFound

# The default ``project_actions``: reads for safe methods, writes for the rest.
READ_WRITE: Mapping[str, str] = {
    "get": "read",
    "head": "read",
    "post": "write",
    "put": "write",
    "patch": "write",
    "delete": "write",
}


class ProjectApiView(AzureApiView):
    """``AzureApiView`` with per-project roles."""

    # For views whose URL names a project (``project_name``): the action each HTTP
    # method needs, checked before the handler runs, so no handler can forget it.
    # None: the view calls ``check_project_access`` itself (the training APIs).
    project_actions: ClassVar[Mapping[str, str] | None] = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication first: 401 wins
        actions = self.project_actions
        if actions is not None and "project_name" in kwargs:
            # A method without an action (OPTIONS, TRACE, anything unknown) has no
            # handler that touches the project: dispatch answers it (204 or 405).
            action = actions.get((request.method or "get").lower())
            if action is not None:
                self.check_project_access(kwargs["project_name"], action)

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
        project_access_check(user, project_name, action)

    def project_allows(self, project_name: str, action: str) -> bool:
        """Whether the caller may ``action`` the project (``check_project_access``
        without raising), for a service that needs a stronger right for part of a
        request (``targets_allowed``)."""
        try:
            self.check_project_access(project_name, action)
        except (Forbidden, ProjectNotFound):
            return False
        return True

    def readable_projects(self, projects: QuerySet[Project]) -> QuerySet[Project]:
        """``projects`` narrowed to those the caller may read (list endpoints)."""
        user = self.key_owner
        if user is None:
            return projects
        return projects.filter(pk__in=projects_for_user(user).values("pk"))

    def project_created(self, project: Project) -> None:
        """A user's key created ``project``: make that user its admin."""
        user = self.key_owner
        if user is not None:
            member_make_admin(project=project, user=user)

    @property
    def owner_params(self) -> dict[str, Any]:
        """Job params naming the key's owner, for jobs that act for them (imports):
        an import makes the owner the new project's admin, and checks its links
        against what the owner may read."""
        return actor_params(self.key_owner)
