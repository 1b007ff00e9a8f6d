"""An import over an existing project (Azure's API replaces without asking) keeps
what the project held as a restorable snapshot for
``STUDIO_REPLACED_PROJECT_RETENTION_DAYS``; the workers' sweep purges expired ones."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs.models import Job
from projects import services
from projects.models import Project, QnaPair, ReplacedProject, Utterance
from projects.services.studio_projects import replaced_project_restore_start
from tests.api.test_conversation_authoring import BASE, Api, api, small_project
from tests.test_worker import make_monitor

__all__ = ["api"]  # the fixture, imported for these tests

pytestmark = pytest.mark.django_db


def bigger_project(name: str = "Mail") -> dict[str, Any]:
    document = small_project(name)
    document["assets"]["utterances"] += [
        {"text": f"read mail number {n}", "intent": "Read"} for n in range(40)
    ]
    return document


def test_an_api_import_over_a_project_keeps_it_restorable(
    api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    assert api.import_("Mail", bigger_project())["status"] == "succeeded"
    before = api.export("Mail")

    replaced = api.import_("Mail", small_project())

    assert replaced["status"] == "succeeded"  # Azure's behaviour: no question asked
    assert Utterance.objects.filter(project__name="Mail").count() == 2
    (snapshot,) = ReplacedProject.objects.all()
    assert snapshot.summary == "42 utterances in 2 intents"
    retention = snapshot.expires_at - snapshot.replaced_at
    assert retention == timedelta(days=7)
    assert (
        json.loads(default_storage.open(snapshot.file).read())["assets"]
        == (before["assets"])
    )

    user = get_user_model().objects.create_user("restorer")
    with django_capture_on_commit_callbacks(execute=True):
        job = replaced_project_restore_start(user=user, snapshot=snapshot)
    job.refresh_from_db()

    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert api.export("Mail")["assets"] == before["assets"]
    # The restore replaced the 2-utterance state: that one is kept in turn.
    assert list(
        ReplacedProject.objects.order_by("replaced_at").values_list(
            "summary", flat=True
        )
    ) == ["42 utterances in 2 intents", "2 utterances in 2 intents"]


def test_importing_a_new_project_or_over_an_empty_one_keeps_nothing(api: Api) -> None:
    api.create("Mail")
    api.import_("Mail", small_project())
    api.import_("Other", small_project("Other"))

    assert not ReplacedProject.objects.exists()


def test_retention_zero_keeps_no_snapshot(api: Api, settings: Any) -> None:
    settings.STUDIO_REPLACED_PROJECT_RETENTION_DAYS = 0
    api.import_("Mail", bigger_project())
    api.import_("Mail", small_project())

    assert not ReplacedProject.objects.exists()


def test_a_failed_replacement_keeps_no_snapshot_and_no_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from projects.services import projects as project_services

    services.project_import(name="Mail", document=bigger_project())

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(project_services, "utterances_insert", broken)
    saved: list[str] = []
    real_save = default_storage.save

    def remember(name: str, content: Any, **kwargs: Any) -> str:
        saved.append(real_save(name, content, **kwargs))
        return saved[-1]

    monkeypatch.setattr(default_storage, "save", remember)

    with pytest.raises(RuntimeError):
        services.project_import(name="Mail", document=small_project())

    assert len(saved) == 1 and not default_storage.exists(saved[0])
    assert not ReplacedProject.objects.exists()
    assert Utterance.objects.filter(project__name="Mail").count() == 42


def test_a_knowledge_base_import_keeps_the_replaced_pairs(
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = {
        "metadata": {"language": "en"},
        "assets": {
            "qnas": [{"id": 1, "answer": "In Lisbon.", "questions": ["Where?"]}],
            "synonyms": [],
        },
    }
    services.kb_import(name="Faq", document=document, file_format="json")
    services.kb_import(
        name="Faq", document={"assets": {"qnas": []}}, file_format="json"
    )

    (snapshot,) = ReplacedProject.objects.filter(project__name="Faq")
    assert snapshot.summary == "1 question-answer pair"
    kept = json.loads(default_storage.open(snapshot.file).read())
    assert kept["assets"]["qnas"][0]["answer"] == "In Lisbon."

    user = get_user_model().objects.create_user("restorer")
    with django_capture_on_commit_callbacks(execute=True):
        job = replaced_project_restore_start(user=user, snapshot=snapshot)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert list(
        QnaPair.objects.filter(project__name="Faq").values_list("answer", flat=True)
    ) == ["In Lisbon."]


def test_the_worker_sweep_purges_expired_snapshots_with_their_files(
    api: Api,
) -> None:
    api.import_("Mail", bigger_project())
    api.import_("Mail", small_project())
    api.import_("Mail", bigger_project())
    old, recent = ReplacedProject.objects.order_by("replaced_at")
    ReplacedProject.objects.filter(pk=old.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    make_monitor().sweep()

    assert list(ReplacedProject.objects.all()) == [recent]
    assert not default_storage.exists(old.file)
    assert default_storage.exists(recent.file)


def test_deleting_the_project_deletes_its_snapshots(api: Api) -> None:
    api.import_("Mail", bigger_project())
    api.import_("Mail", small_project())
    (snapshot,) = ReplacedProject.objects.all()

    api.follow(api.call("DELETE", f"{BASE}/projects/Mail"))

    assert not Project.objects.filter(name="Mail").exists()
    assert not ReplacedProject.objects.exists()
    assert not default_storage.exists(snapshot.file)
