"""Helpers shared by the write services."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from projects import validators as v
from projects.models import Project
from studio.errors import Conflict, InvalidArgument, InvalidRequest, PreconditionFailed
from studio.models import ApiKey


@dataclass(frozen=True, slots=True)
class Labeler:
    """Who labels an utterance, stored on it as its last labeler: a user (signed in
    to the studio, or the owner of a personal API key) or a resource key (a key
    with no owner, shown as "API key <name>")."""

    user_id: int | None = None
    api_key_id: int | None = None

    @classmethod
    def of_user(cls, user: AbstractBaseUser) -> Labeler:
        return cls(user_id=user.pk)

    @classmethod
    def of_key(cls, api_key: ApiKey) -> Labeler:
        if api_key.created_by_id is not None:
            return cls(user_id=api_key.created_by_id)
        return cls(api_key_id=api_key.pk)

    def fields(self) -> dict[str, int | None]:
        """The Utterance fields to write (both, so a new labeler replaces the old)."""
        return {"labeled_by_id": self.user_id, "labeled_by_key_id": self.api_key_id}


def labeler_fields(labeler: Labeler | None) -> dict[str, int | None]:
    """Utterance fields for a write by ``labeler``; none (unchanged) when unknown."""
    return {} if labeler is None else labeler.fields()


def project_touch(*, project: Project) -> None:
    """Move ``last_modified_at``: called inside every write's transaction, so replicas
    comparing timestamps see every change to the project's data."""
    now = timezone.now()
    Project.objects.filter(pk=project.pk).update(last_modified_at=now)
    project.last_modified_at = now


def project_lock(*, project: Project) -> Project:
    """Re-read the project row locked for the rest of the transaction, so limit
    checks (count, then insert) cannot race with another writer."""
    return Project.objects.select_for_update().get(pk=project.pk)


def project_name_check(*, name: str) -> None:
    if (msg := v.project_name_error(name)) is not None:
        raise InvalidArgument(msg, target="projectName")


def project_lookalike_check(*, name: str) -> None:
    """409 when another project's name differs from ``name`` only in letter case
    (project names are ASCII: ``validators.name_key`` is ``lower()`` for them).
    The other name is not shown: its project may be one the caller cannot see."""
    if Project.objects.filter(name__iexact=name).exclude(name=name).exists():
        raise Conflict(
            f"Project name {name!r} is taken: another project has the same name in "
            "different letter case (names are compared ignoring case).",
            target="projectName",
        )


def project_insert(*, project: Project) -> bool:
    """Insert the new ``project`` row (after ``project_lookalike_check``), in a
    savepoint. False when a concurrent request inserted the same name first: the
    caller then treats the name as existing (PATCH is create-or-update); a
    concurrent look-alike is the 409 of ``project_lookalike_check``. Never lets the
    unique violation out as a database error."""
    project_lookalike_check(name=project.name)
    try:
        with transaction.atomic():
            project.save(force_insert=True)
    except IntegrityError:
        project.pk = None
        if Project.objects.filter(name=project.name).exists():
            return False
        project_lookalike_check(name=project.name)
        raise
    return True


def require_kind(*, project: Project, kinds: tuple[str, ...], action: str) -> None:
    if project.kind not in kinds:
        raise InvalidArgument(
            f"Project {project.name!r} is a {project.kind} project; {action} needs "
            f"a {' or '.join(kinds)} project.",
            target="projectKind",
        )


def require_object(data: Any, *, what: str = "body") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest(f"The {what} must be a JSON object.")
    return data


def version_check(*, current: int, expected: Collection[int] | None, what: str) -> None:
    """Optimistic concurrency: ``expected`` holds the versions the caller saw
    (``If-Match``, a row form's hidden version); None means "no condition". Call it
    on the row as read under its lock, before writing."""
    if expected is not None and current not in expected:
        raise PreconditionFailed(
            f"This {what} was changed by someone else — reload to see the change.",
            target="If-Match",
        )
