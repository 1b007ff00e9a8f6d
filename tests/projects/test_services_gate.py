"""The deploy gate's data (projects/services/gate.py, projects/selectors/gate.py):
the pinned copy of the Test set, golden utterances, the gate set and the threshold."""

from __future__ import annotations

import pytest

from projects.models import Intent, PinnedEvaluationSet, Project, Utterance
from projects.selectors.gate import gate_set, gate_set_empty
from projects.services.gate import (
    evaluation_set_pin,
    project_gate_update,
    utterance_golden_set,
)
from studio.errors import InvalidArgument, PreconditionFailed
from studio.models import AuditEvent
from tests.factories import IntentFactory, KbProjectFactory, ProjectFactory
from tests.training.test_gate import GOOD, TEXTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    project = ProjectFactory.create(name="Travel")
    intents = {
        name: IntentFactory.create(project=project, name=name)
        for name in ("Travel", "Weather")
    }
    for text, label in zip(TEXTS, GOOD, strict=True):
        Utterance.objects.create(
            project=project, text=text, intent=intents[label], dataset="Test"
        )
    return project


def test_pin_copies_the_test_set_as_it_is_now(project: Project) -> None:
    pinned = evaluation_set_pin(project=project)
    assert pinned.count == 6
    assert pinned.items[0] == {"text": TEXTS[0], "intent": "Travel"}
    # Later edits do not move the pinned copy.
    Utterance.objects.filter(project=project).update(dataset="Train")
    assert len(gate_set(project=project)) == 6
    event = AuditEvent.objects.get(action="gate.pin")
    assert event.after == {"utteranceCount": 6}
    # Pinning again replaces it, and the trail says what it replaced.
    again = evaluation_set_pin(project=project)
    assert again.count == 0
    assert PinnedEvaluationSet.objects.filter(project=project).count() == 1
    last = AuditEvent.objects.filter(action="gate.pin").order_by("-id").first()
    assert last is not None and (last.before or {})["utteranceCount"] == 6


def test_gate_set_is_pinned_union_golden_with_the_golden_label_winning(
    project: Project,
) -> None:
    evaluation_set_pin(project=project)
    train = Utterance.objects.create(
        project=project,
        text="a golden train utterance",
        intent=Intent.objects.get(project=project, name="Travel"),
        dataset="Train",
    )
    utterance_golden_set(project=project, pk=train.pk, golden=True)
    # A pinned text relabeled and marked golden since: its current label counts.
    first = Utterance.objects.get(project=project, text=TEXTS[0])
    first.intent = Intent.objects.get(project=project, name="Weather")
    first.save()
    utterance_golden_set(project=project, pk=first.pk, golden=True)
    items = {item.text: item.intent for item in gate_set(project=project)}
    assert len(items) == 7
    assert items["a golden train utterance"] == "Travel"
    assert items[TEXTS[0]] == "Weather"
    events = AuditEvent.objects.filter(action="utterance.golden")
    assert events.count() == 2
    assert events.order_by("id").first().after == {  # type: ignore[union-attr]
        "text": "a golden train utterance",
        "golden": True,
    }


def test_golden_toggle_checks_the_version_and_records_only_changes(
    project: Project,
) -> None:
    row = Utterance.objects.filter(project=project).first()
    assert row is not None
    marked = utterance_golden_set(
        project=project, pk=row.pk, golden=True, version=row.version
    )
    assert marked.golden and marked.version == row.version + 1
    with pytest.raises(PreconditionFailed):
        utterance_golden_set(
            project=project, pk=row.pk, golden=False, version=row.version
        )
    utterance_golden_set(project=project, pk=row.pk, golden=True)  # no change
    assert AuditEvent.objects.filter(action="utterance.golden").count() == 1


def test_gate_setting_validates_and_is_audited(project: Project) -> None:
    for bad in (-1, 100.5, "5", True):
        with pytest.raises(InvalidArgument):
            project_gate_update(project=project, max_drop=bad)
    project.refresh_from_db()
    assert project.gate_max_drop is None
    project_gate_update(project=project, max_drop=5)
    project.refresh_from_db()
    assert project.gate_max_drop == 5.0
    event = AuditEvent.objects.get(action="project.settings")
    assert event.before == {"gateMaxAccuracyDrop": None}
    assert event.after == {"gateMaxAccuracyDrop": 5.0}


def test_knowledge_bases_have_no_gate() -> None:
    kb = KbProjectFactory.create(name="Faq")
    with pytest.raises(InvalidArgument):
        evaluation_set_pin(project=kb)


def test_gate_set_empty_without_reading_it(project: Project) -> None:
    assert gate_set_empty(project=project)
    PinnedEvaluationSet.objects.create(project=project, items=[])
    assert gate_set_empty(project=project)
    evaluation_set_pin(project=project)
    assert not gate_set_empty(project=project)
    PinnedEvaluationSet.objects.filter(project=project).update(items=[])
    row = Utterance.objects.filter(project=project).first()
    assert row is not None
    assert gate_set_empty(project=project)
    utterance_golden_set(project=project, pk=row.pk, golden=True)
    assert not gate_set_empty(project=project)
