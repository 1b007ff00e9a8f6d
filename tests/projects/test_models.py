"""Database constraints: the last line of defence behind the services' validation."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, transaction

from projects.models import EntitySpan, Intent, Project, QnaPair, Utterance
from tests.factories import (
    EntityFactory,
    IntentFactory,
    KbProjectFactory,
    ProjectFactory,
    QnaPairFactory,
    UtteranceFactory,
)

pytestmark = pytest.mark.django_db

# PostgreSQL reports a too-long varchar as DataError, SQLite's CHECK as IntegrityError.
REFUSED = (IntegrityError, DataError)


def refused(**kwargs: object) -> None:
    with pytest.raises(REFUSED), transaction.atomic():
        Project.objects.create(
            **{"name": "p", "kind": "Conversation", "language": "en", **kwargs}
        )


@pytest.mark.parametrize("name", ["has space", "a" * 51, "", "global", "Global", "ü"])
def test_project_name_constraint(name: str) -> None:
    refused(name=name)


def test_project_kind_threshold_and_language_constraints() -> None:
    refused(kind="Workflow")
    refused(confidence_threshold=1.01)
    refused(confidence_threshold=-0.1)
    refused(language="not a language")


def test_project_names_are_unique_across_kinds() -> None:
    ProjectFactory.create(name="same")
    with pytest.raises(REFUSED), transaction.atomic():
        KbProjectFactory.create(name="same")


def test_factory_project_has_none_intent_but_kb_has_none() -> None:
    assert list(ProjectFactory.create().intents.values_list("name", flat=True)) == [
        "None"
    ]
    assert KbProjectFactory.create().intents.count() == 0


def test_intent_name_constraints() -> None:
    project = ProjectFactory.create()
    for name in ("a/b", "", "x" * 51):
        with pytest.raises(REFUSED), transaction.atomic():
            Intent.objects.create(project=project, name=name)
    IntentFactory.create(project=project, name="Twice")
    with pytest.raises(REFUSED), transaction.atomic():
        IntentFactory.create(project=project, name="Twice")
    with pytest.raises(REFUSED), transaction.atomic():
        Intent.objects.create(project=project, name="Linked", target_kind="Teams")


def test_entity_names_unique_per_project_only() -> None:
    entity = EntityFactory.create(name="Place")
    EntityFactory.create(name="Place")  # another project
    with pytest.raises(REFUSED), transaction.atomic():
        EntityFactory.create(project=entity.project, name="Place")


def test_utterance_text_and_dataset_constraints() -> None:
    utterance = UtteranceFactory.create()
    for fields in ({"text": ""}, {"text": "x" * 501}, {"dataset": "Dev"}):
        with pytest.raises(REFUSED), transaction.atomic():
            Utterance.objects.create(
                project=utterance.project,
                intent=utterance.intent,
                **{"text": "ok", **fields},
            )


def test_span_length_must_be_positive() -> None:
    utterance = UtteranceFactory.create()
    entity = EntityFactory.create(project=utterance.project)
    with pytest.raises(REFUSED), transaction.atomic():
        EntitySpan.objects.create(
            utterance=utterance, entity=entity, offset=0, length=0
        )


def test_qna_id_unique_per_kb_and_positive() -> None:
    qna = QnaPairFactory.create(qna_id=5)
    QnaPairFactory.create(qna_id=5)  # another KB
    with pytest.raises(REFUSED), transaction.atomic():
        QnaPairFactory.create(project=qna.project, qna_id=5)
    with pytest.raises(REFUSED), transaction.atomic():
        QnaPair.objects.create(
            project=qna.project, qna_id=0, questions=["q"], answer="a"
        )


def test_deleting_a_project_cascades() -> None:
    utterance = UtteranceFactory.create()
    EntitySpan.objects.create(
        utterance=utterance,
        entity=EntityFactory.create(project=utterance.project),
        offset=0,
        length=1,
    )
    utterance.project.delete()
    assert (
        Utterance.objects.count(),
        EntitySpan.objects.count(),
        Intent.objects.count(),
    ) == (0, 0, 0)
