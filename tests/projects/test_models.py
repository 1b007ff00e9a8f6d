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


def test_the_stored_text_key_follows_every_way_the_text_is_written() -> None:
    from django.db.models import Value
    from django.db.models.functions import Concat

    from projects.validators import text_key_digest

    intent = IntentFactory.create()
    row = UtteranceFactory.create(project=intent.project, intent=intent, text="Hi")
    assert row.text_key == text_key_digest("hi")

    def stored() -> str:
        return Utterance.objects.values_list("text_key", flat=True).get(pk=row.pk)

    row.text = "ＨＥＬＬＯ  there"
    row.save(update_fields=["text"])
    assert stored() == text_key_digest("hello there")
    Utterance.objects.filter(pk=row.pk).update(text="Straße")
    assert stored() == text_key_digest("STRASSE")
    row.text = "bulk  Edit"
    Utterance.objects.bulk_update([row], ["text"])
    assert stored() == text_key_digest("BULK EDIT")
    (created,) = Utterance.objects.bulk_create(
        [Utterance(project=intent.project, intent=intent, text="New ONE")]
    )
    assert Utterance.objects.get(pk=created.pk).text_key == text_key_digest("new one")
    # An expression cannot be normalized in Python: refused, nothing written.
    with pytest.raises(TypeError):
        Utterance.objects.filter(pk=row.pk).update(text=Concat("text", Value("!")))
    assert Utterance.objects.get(pk=row.pk).text == "bulk  Edit"


def test_the_migration_fills_the_text_key_of_existing_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    from django.apps import apps

    from projects.validators import text_key_digest

    migration = importlib.import_module("projects.migrations.0014_utterance_text_key")
    intent = IntentFactory.create()
    texts = [f"Row  {n} ＡＢ" for n in range(5)]
    for text in texts:
        UtteranceFactory.create(project=intent.project, intent=intent, text=text)
    Utterance.objects.update(text_key="")
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches
    migration.fill_text_keys(apps, None)
    assert sorted(Utterance.objects.values_list("text_key", flat=True)) == sorted(
        text_key_digest(t) for t in texts
    )
