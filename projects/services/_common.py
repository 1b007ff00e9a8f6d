"""Helpers shared by the write services."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from projects import validators as v
from projects.models import Project
from studio.errors import InvalidArgument, InvalidRequest


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
