"""Project members and their roles. A project always keeps at least one admin, so it
can never be left with nobody able to manage it (superusers aside)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q

from projects.models import Project, ProjectMembership
from studio.audit import audit_record
from studio.errors import Conflict, InvalidArgument, NotFound

Role = ProjectMembership.Role


def _role_check(role: str) -> None:
    if role not in Role.values:
        raise InvalidArgument(
            f"Role {role!r} is not one of {', '.join(Role.values)}.", target="role"
        )


def _user_find(identifier: str) -> AbstractBaseUser:
    """An active user by user name or e-mail address (case-insensitive)."""
    identifier = identifier.strip()
    if not identifier:
        raise InvalidArgument("Enter a user name or e-mail address.", target="user")
    model = get_user_model()
    matches = list(
        model.objects.filter(
            Q(**{f"{model.USERNAME_FIELD}__iexact": identifier})
            | Q(email__iexact=identifier),
            is_active=True,
        )[:2]
    )
    if not matches:
        raise NotFound(f"No active user is called {identifier!r}.", target="user")
    if len(matches) > 1:
        raise InvalidArgument(
            f"{identifier!r} matches more than one user; enter the user name.",
            target="user",
        )
    user: AbstractBaseUser = matches[0]
    return user


def _lock_memberships(project: Project) -> None:
    """Serialize membership changes of one project (the last-admin rule)."""
    Project.objects.select_for_update().filter(pk=project.pk).first()


def _refuse_last_admin(project: Project, membership: ProjectMembership) -> None:
    if membership.role != Role.ADMIN:
        return
    others = (
        ProjectMembership.objects.filter(project=project, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )
    if not others:
        raise Conflict(
            f"{project.name!r} must keep at least one admin; make someone else an "
            "admin first.",
            target="role",
        )


def member_add(*, project: Project, user: str, role: str) -> ProjectMembership:
    """Add a user (by user name or e-mail) with ``role``; refuses an existing member."""
    _role_check(role)
    found = _user_find(user)
    with transaction.atomic():
        _lock_memberships(project)
        if ProjectMembership.objects.filter(project=project, user_id=found.pk).exists():
            raise Conflict(
                f"{found.get_username()!r} is already a member of {project.name!r}; "
                "change the role instead.",
                target="user",
            )
        membership = ProjectMembership.objects.create(
            project=project, user_id=found.pk, role=role
        )
        audit_record(
            action="member.add",
            project=project,
            target=f"member {found.get_username()}",
            after={"user": found.get_username(), "role": role},
        )
        return membership


def member_role_change(
    *, membership: ProjectMembership, role: str
) -> ProjectMembership:
    _role_check(role)
    with transaction.atomic():
        _lock_memberships(membership.project)
        membership = ProjectMembership.objects.get(pk=membership.pk)
        if role != Role.ADMIN:
            _refuse_last_admin(membership.project, membership)
        before = {"user": membership.user.get_username(), "role": membership.role}
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            action="member.change",
            project=membership.project,
            target=f"member {before['user']}",
            before=before,
            after={**before, "role": role},
        )
    return membership


def member_remove(*, membership: ProjectMembership) -> None:
    with transaction.atomic():
        _lock_memberships(membership.project)
        membership = ProjectMembership.objects.get(pk=membership.pk)
        _refuse_last_admin(membership.project, membership)
        membership.delete()
        username = membership.user.get_username()
        audit_record(
            action="member.remove",
            project=membership.project,
            target=f"member {username}",
            before={"user": username, "role": membership.role},
        )


def member_make_admin(*, project: Project, user: AbstractBaseUser) -> None:
    """Make the creator of a project its admin (UI creation, API creation by a
    user's key, imports that create a project). Idempotent."""
    if not user.is_authenticated:
        return
    ProjectMembership.objects.update_or_create(
        project=project, user_id=user.pk, defaults={"role": Role.ADMIN}
    )


def member_make_owner(*, project_name: str, user_id: int) -> None:
    """``member_make_admin`` by name and id, for jobs (which take ids). A user deleted
    or deactivated meanwhile is skipped: the project stays with superusers."""
    project = Project.objects.filter(name=project_name).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if project is not None and user is not None:
        member_make_admin(project=project, user=user)
