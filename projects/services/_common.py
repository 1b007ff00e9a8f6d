"""Helpers shared by the write services."""

from __future__ import annotations

from django.utils import timezone

from projects.models import Project
from studio.errors import InvalidArgument


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


def require_kind(*, project: Project, kinds: tuple[str, ...], action: str) -> None:
    if project.kind not in kinds:
        raise InvalidArgument(
            f"Project {project.name!r} is a {project.kind} project; {action} needs "
            f"a {' or '.join(kinds)} project.",
            target="projectKind",
        )
