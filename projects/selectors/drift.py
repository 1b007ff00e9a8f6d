"""The drift check between two studios (``manage.py projectdrift``): which projects
of this studio, copied from another by export and import, no longer match it.

An export carries ``metadata.lastModifiedDateTime`` (``formats.conversation.
export_stamp``); the import keeps it as the copy's ``source_modified_at``. The
source's project list shows each project's ``lastModifiedDateTime`` to the second:
when it differs from the stamp the copy was made from, the source changed since.
When the copy's own ``last_modified_at`` moved past its ``imported_at``, the copy
was changed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from projects.formats.conversation import parse_stamp
from projects.models import Project

IN_SYNC = "in sync"
SOURCE_CHANGED = "changed at the source since the copy"
COPY_CHANGED = "changed here since the copy"
BOTH_CHANGED = "changed at the source and here since the copy"
NOT_AT_SOURCE = "not at the source"
NOT_A_COPY = "not a copy (not imported from a studio export)"
DRIFTED = {SOURCE_CHANGED, COPY_CHANGED, BOTH_CHANGED, NOT_AT_SOURCE}


@dataclass(frozen=True)
class ProjectDrift:
    name: str
    state: str
    # The copy's source stamp and the source's lastModifiedDateTime now.
    copied: datetime | None = None
    source: datetime | None = None

    @property
    def drifted(self) -> bool:
        return self.state in DRIFTED


def _to_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def projects_drift(
    *, source_modified: Mapping[str, str | None], names: list[str] | None = None
) -> list[ProjectDrift]:
    """Compare this studio's Conversation and Orchestration projects (or ``names``)
    with the source's ``{projectName: lastModifiedDateTime}``."""
    projects = Project.objects.filter(
        kind__in=[Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION]
    ).order_by("name")
    if names is not None:
        projects = projects.filter(name__in=names)
    rows = []
    for project in projects:
        copied = project.source_modified_at
        if copied is None:
            rows.append(ProjectDrift(project.name, NOT_A_COPY))
            continue
        if project.name not in source_modified:
            rows.append(ProjectDrift(project.name, NOT_AT_SOURCE, copied))
            continue
        source = parse_stamp(source_modified[project.name])
        source_changed = source is None or _to_second(source) != _to_second(copied)
        here_changed = project.last_modified_at != project.imported_at
        state = {
            (False, False): IN_SYNC,
            (True, False): SOURCE_CHANGED,
            (False, True): COPY_CHANGED,
            (True, True): BOTH_CHANGED,
        }[(source_changed, here_changed)]
        rows.append(ProjectDrift(project.name, state, copied, source))
    return rows
