"""Model files in storage: orphans (a worker killed between writing its files and
committing the rows that point to them) are deleted once old enough."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.factories import ProjectFactory
from tests.training.model_helpers import make_trained_model
from training.artifact_store import artifacts_purge_orphans

pytestmark = pytest.mark.django_db


def test_unreferenced_model_files_are_deleted_once_older_than_the_grace() -> None:
    project = ProjectFactory.create(kind="Conversation")
    model = make_trained_model(
        project,
        "m1",
        ["hello there", "hi", "bye now", "goodbye"],
        ["Hi", "Hi", "Bye", "Bye"],
    )
    orphan = default_storage.save("models/killed-1-abc.bin", ContentFile(b"x"))
    orphan_snapshot = default_storage.save(
        "snapshots/killed-1.json", ContentFile(b"{}")
    )
    unrelated = default_storage.save("exports/job.json", ContentFile(b"{}"))

    # Young files may belong to a job that is about to commit: kept. (Storage is
    # shared by the test session, so the checks name files instead of counting.)
    artifacts_purge_orphans()
    assert default_storage.exists(orphan)
    assert default_storage.exists(orphan_snapshot)

    later = timezone.now() + timedelta(hours=2)
    assert artifacts_purge_orphans(now=later) >= 2
    assert not default_storage.exists(orphan)
    assert not default_storage.exists(orphan_snapshot)
    # What a model references stays, and so does what other owners keep.
    assert default_storage.exists(model.artifact_name)
    assert default_storage.exists(unrelated)
