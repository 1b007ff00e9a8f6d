"""Per-project roles: the one place that decides who may do what to a project.

Roles (``ProjectMembership.Role``): *admin* does everything, including members, settings
and deployments; *analyst* labels data, trains and evaluates; *viewer* reads. A
superuser is an admin of every project without a membership row.

Actions, from weakest to strongest: ``read``, ``label``, ``train``, ``deploy``,
``admin``. Every UI view and htmx fragment goes through ``project_for_user`` (or the
``project_view`` decorator), and every Azure API view through
``project_access_check``. A user who is not a member gets "not found", exactly as for a
project that does not exist: the existence of other people's projects is not revealed.
A member whose role is too low gets "forbidden".

An orchestration project reads the projects it links to (their data is its training
data), so linking, importing links and training check ``readable_project_names`` for
the acting ``Actor`` (a user, or None for a resource key) on the linked projects.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse

from projects.models import Project, ProjectMembership
from studio.accounts import signed_in
from studio.errors import Forbidden, ProjectNotFound

Role = ProjectMembership.Role
AnyUser = AbstractBaseUser | AnonymousUser

ACTIONS = ("read", "label", "train", "deploy", "admin")
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(ACTIONS),
    Role.ANALYST: frozenset({"read", "label", "train"}),
    Role.VIEWER: frozenset({"read"}),
}
# The Azure API's coarser action names, mapped onto the studio's.
API_ACTIONS = {
    "read": "read",
    "predict": "read",
    "write": "label",
    "train": "train",
    "deploy": "deploy",
    "admin": "admin",
}


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown project action {action!r}; one of {ACTIONS}")


def _is_superuser(user: AnyUser) -> bool:
    return bool(getattr(user, "is_superuser", False)) and user.is_active


def role_of(user: AnyUser, project: Project) -> str | None:
    """The user's role in the project, or None for a non-member (or anonymous)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if _is_superuser(user):
        return Role.ADMIN
    return (
        ProjectMembership.objects.filter(project=project, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def role_allows(role: str | None, action: str) -> bool:
    _check_action(action)
    return role is not None and action in ROLE_ACTIONS.get(role, frozenset())


def user_can(user: AnyUser, project: Project, action: str) -> bool:
    return role_allows(role_of(user, project), action)


def projects_for_user(user: AnyUser) -> QuerySet[Project]:
    """Every project the user may read (all of them for a superuser)."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if _is_superuser(user):
        return Project.objects.all()
    return Project.objects.filter(memberships__user_id=user.pk)


# Who acts, wherever a project is read on someone's behalf (the API, the studio, a
# job): a user (signed in, or the owner of a personal API key), or None for a
# resource key (an API key with no owner), which may do everything as an Azure
# resource key does.
Actor = AbstractBaseUser | AnonymousUser | None


def actor_reads_everything(actor: Actor) -> bool:
    """A resource key or a superuser: every project, including ones not created
    yet (a link to a name that does not exist is theirs to make)."""
    return actor is None or _is_superuser(actor)


def readable_project_names(actor: Actor, names: Iterable[str]) -> frozenset[str]:
    """The names among ``names`` of existing projects ``actor`` may read, in one
    query: the one answer to "may this actor read project X" for linking, importing
    and training through orchestration links. A missing project and one the actor
    may not read are alike absent, so callers answer both the same way."""
    wanted = set(names)
    if not wanted:
        return frozenset()
    projects = Project.objects.all() if actor is None else projects_for_user(actor)
    return frozenset(projects.filter(name__in=wanted).values_list("name", flat=True))


def actor_params(actor: Actor) -> dict[str, Any]:
    """Job params recording who asked (``owner_id``); none for a resource key."""
    return {} if actor is None else {"owner_id": actor.pk}


def job_actor(params: Mapping[str, Any]) -> Actor:
    """The actor a job's params recorded (``actor_params``): None (a resource key)
    when none was recorded; a user deleted since (or an anonymous one) may read
    nothing, never gets the resource key's full access."""
    if "owner_id" not in params:
        return None
    user_id = params["owner_id"]
    user = (
        get_user_model().objects.filter(pk=user_id).first()
        if isinstance(user_id, int | str)
        else None
    )
    return user if user is not None else AnonymousUser()


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    """A project with the caller's role; templates read ``access.can.<action>``."""

    project: Project
    role: str

    @property
    def can(self) -> dict[str, bool]:
        return {action: role_allows(self.role, action) for action in ACTIONS}


def _access(
    user: AnyUser, name: str, action: str, kinds: Collection[str] | None
) -> ProjectAccess:
    """Raises ProjectNotFound / Forbidden; the UI and the API translate them."""
    _check_action(action)
    project = Project.objects.filter(name=name).first()
    role = role_of(user, project) if project is not None else None
    if project is None or role is None:
        raise ProjectNotFound(f"The project {name!r} was not found.", target=name)
    if kinds is not None and project.kind not in kinds:
        raise ProjectNotFound(
            f"The project {name!r} is not a {' or '.join(kinds)} project.",
            target=name,
        )
    if not role_allows(role, action):
        raise Forbidden(
            f"Your role in project {name!r} ({role}) does not allow this action "
            f"({action}).",
            target=name,
        )
    return ProjectAccess(project=project, role=role)


def project_access_for_user(
    user: AnyUser, name: str, action: str, *, kinds: Collection[str] | None = None
) -> ProjectAccess:
    """The UI form: Http404 for non-members (and missing projects), 403 for a role
    that is too low."""
    try:
        return _access(user, name, action, kinds)
    except ProjectNotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def project_for_user(
    user: AnyUser, name: str, action: str, *, kinds: Collection[str] | None = None
) -> Project:
    return project_access_for_user(user, name, action, kinds=kinds).project


def project_access_check(user: AnyUser, name: str, api_action: str) -> None:
    """The Azure API form (StudioErrors), in one query (it runs on every runtime
    call made with a personal key). A project that does not exist yet passes: the
    view itself answers 404, or creates it (and makes the caller its admin)."""
    action = API_ACTIONS.get(api_action)
    if action is None:
        raise ValueError(f"unknown API action {api_action!r}")
    if not user.is_authenticated or not user.is_active:
        if Project.objects.filter(name=name).exists():
            raise ProjectNotFound(f"The project {name!r} was not found.", target=name)
        return
    member_role = ProjectMembership.objects.filter(
        project=OuterRef("pk"), user_id=cast(Any, user.pk)
    ).values("role")[:1]
    roles = (
        Project.objects.filter(name=name)
        .annotate(member_role=Subquery(member_role))
        .values_list("member_role", flat=True)
    )
    found = list(roles)
    if not found:
        return
    role: str | None = Role.ADMIN if _is_superuser(user) else found[0]
    if role is None:
        raise ProjectNotFound(f"The project {name!r} was not found.", target=name)
    if not role_allows(role, action):
        raise Forbidden(
            f"Your role in project {name!r} ({role}) does not allow this action "
            f"({action}).",
            target=name,
        )


ProjectView = Callable[Concatenate[HttpRequest, Project, ...], HttpResponse]


def project_view(
    action: str, *, kinds: Collection[str] | None = None
) -> Callable[[ProjectView], Callable[..., HttpResponse]]:
    """Decorate a function view whose URL has ``<str:name>``: signs in first, checks
    the role, then calls ``view(request, project, **other_kwargs)``. The checked
    access is kept on ``request.studio_access`` for the layout (project tabs)."""
    _check_action(action)

    def decorator(view: ProjectView) -> Callable[..., HttpResponse]:
        @signed_in
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            name = kwargs.pop("name")
            access = project_access_for_user(request.user, name, action, kinds=kinds)
            request.studio_access = access  # type: ignore[attr-defined]
            return view(request, access.project, *args, **kwargs)

        return wrapper

    return decorator


def studio_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the current project's access and its navigation tabs."""
    access: ProjectAccess | None = getattr(request, "studio_access", None)
    if access is None:
        return {"studio_access": None, "project_tabs": []}
    return {"studio_access": access, "project_tabs": project_tabs(access, request.path)}


@dataclass(frozen=True, slots=True)
class Tab:
    label: str
    url: str
    active: bool


# (label, path under /projects/<name>/, kinds (None = every kind), action needed)
_TABS: tuple[tuple[str, str, tuple[str, ...] | None, str], ...] = (
    ("Overview", "", None, "read"),
    ("Schema", "schema/", ("Conversation", "Orchestration"), "read"),
    ("Orchestration", "orchestration/", ("Orchestration",), "read"),
    ("Data", "data/", ("Conversation", "Orchestration"), "read"),
    ("Review", "review/", ("Conversation", "Orchestration"), "read"),
    ("Knowledge base", "kb/", ("QuestionAnswering",), "read"),
    ("Train", "train/", ("Conversation", "Orchestration"), "read"),
    ("Models", "models/", ("Conversation", "Orchestration"), "read"),
    ("Deployments", "deployments/", None, "read"),
    ("Playground", "playground/", None, "read"),
    ("Settings", "settings/", None, "read"),
    ("Audit", "audit/", None, "read"),
)


def project_tabs(access: ProjectAccess, current_path: str) -> list[Tab]:
    base = f"/projects/{access.project.name}/"
    tabs = []
    for label, suffix, kinds, action in _TABS:
        if kinds is not None and access.project.kind not in kinds:
            continue
        if not role_allows(access.role, action):
            continue
        url = base + suffix
        active = current_path == url if not suffix else current_path.startswith(url)
        tabs.append(Tab(label=label, url=url, active=active))
    return tabs
