"""The way back from an import that replaced a project (``ReplacedProject``).

``project_import`` and ``kb_import`` call ``replaced_project_keep`` inside their
transaction, with the project row locked, just before they clear its assets: the
project is exported (Azure's JSON, as an export would give it) to
``replaced/<uuid>.json`` in storage and a row records it. The caller deletes that
file again when its transaction fails. ``replaced_project_restore_start``
(``studio_projects``) imports the file back as a job; that import keeps the state
it replaces in turn, so a restore can itself be undone. Nothing is kept for a
project with nothing in it, nor when the retention is 0.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from projects.formats import conversation as fmt
from projects.formats import qna as qna_fmt
from projects.models import Project, ReplacedProject
from training.engine.offsets import parse_index_type

REPLACED_DIR = "replaced"


def _retention() -> timedelta | None:
    days = int(settings.STUDIO_REPLACED_PROJECT_RETENTION_DAYS)
    return timedelta(days=days) if days > 0 else None


def _plural(count: int, what: str) -> str:
    return f"{count:,} {what}{'s' if count != 1 else ''}"


def _summary(project: Project) -> str | None:
    """What the project holds in words, or None when it holds nothing worth
    keeping (a new project's built-in None intent only)."""
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        qnas = project.qnas.count()
        if not qnas and not project.kb_synonyms.exists():
            return None
        return _plural(qnas, "question-answer pair")
    utterances = project.utterances.count()
    intents = project.intents.count()
    if not utterances and intents <= 1 and not project.entities.exists():
        return None
    return f"{_plural(utterances, 'utterance')} in {_plural(intents, 'intent')}"


def replaced_project_keep(*, project: Project) -> str | None:
    """Export ``project`` as it is now and record it; returns the storage name
    written (for the caller to delete if its transaction fails), or None."""
    retention = _retention()
    summary = _summary(project)
    if retention is None or summary is None:
        return None
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        document = qna_fmt.export_document(project)
    else:
        document = fmt.export_document(
            project, index_type=parse_index_type("Utf16CodeUnit")
        )
    name = default_storage.save(
        f"{REPLACED_DIR}/{uuid.uuid4()}.json",
        ContentFile(json.dumps(document, ensure_ascii=False).encode("utf-8")),
    )
    now = timezone.now()
    ReplacedProject.objects.create(
        project=project,
        file=name,
        summary=summary,
        replaced_at=now,
        expires_at=now + retention,
    )
    return name


@contextmanager
def replaced_files_cleanup() -> Iterator[list[str]]:
    """Around an import's transaction: the snapshot files it appends to the list
    are deleted again when the transaction fails (their rows roll back with it)."""
    kept: list[str] = []
    try:
        yield kept
    except BaseException:
        for name in kept:
            default_storage.delete(name)
        raise


def replaced_projects_purge(*, now: datetime | None = None) -> int:
    """Delete expired snapshots and their files (the workers' sweep); returns how
    many went."""
    expired = ReplacedProject.objects.filter(expires_at__lt=now or timezone.now())
    names = list(expired.values_list("file", flat=True))
    deleted, _ = expired.delete()
    for name in names:
        default_storage.delete(name)
    return deleted
