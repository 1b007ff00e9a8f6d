"""Fine-grained authoring: intents, entities, single and bulk utterances, and the
``last_modified_at`` bookkeeping of every write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projects import services
from projects import validators as v
from projects.models import Entity, EntitySpan, Intent, Project, Utterance
from studio.errors import InvalidArgument, InvalidRequest, PreconditionFailed
from tests.projects.helpers import clu_project, email_doc, fails

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    return services.project_import(name="EmailApp", document=email_doc())


# ---------------------------------------------------------------- intents


def test_intent_create_rename_and_delete(project: Project) -> None:
    intent = services.intent_create(project=project, data={"category": "Archive"})
    services.utterance_create(
        project=project, data={"text": "archive it", "intent": "Archive"}
    )
    services.intent_update(intent=intent, data={"category": "Store"})
    assert project.utterances.filter(intent__name="Store").count() == 1
    services.intent_delete(intent=intent)
    assert not project.intents.filter(name="Store").exists()
    assert not project.utterances.filter(text="archive it").exists()


@pytest.mark.parametrize("name", ["", "a" * 51, "What?", "a:b", "50%", " padded", 7])
def test_intent_name_rules(project: Project, name: Any) -> None:
    error = fails(services.intent_create, project=project, data={"category": name})
    assert error.target == "category"


def test_intent_names_may_use_other_punctuation(project: Project) -> None:
    intent = services.intent_create(
        project=project, data={"category": "Home.Turn-On_2 'x' ü"}
    )
    assert intent.name == "Home.Turn-On_2 'x' ü"


def test_duplicate_intent_is_refused(project: Project) -> None:
    error = fails(services.intent_create, project=project, data={"category": "Read"})
    assert "already exists" in error.message
    other = services.intent_create(project=project, data={"category": "Other"})
    fails(services.intent_update, intent=other, data={"category": "Read"})


def test_builtin_none_intent_cannot_be_renamed_or_deleted(project: Project) -> None:
    none = project.intents.get(name="None")
    fails(services.intent_update, intent=none, data={"category": "Nothing"})
    fails(services.intent_delete, intent=none)


def test_intent_limit(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v, "MAX_INTENTS_PER_PROJECT", 3)
    error = fails(services.intent_create, project=project, data={"category": "Fourth"})
    assert "limit" in error.message


def test_orchestration_links(project: Project) -> None:
    router = clu_project("Router", kind="Orchestration")
    link = {
        "targetProjectKind": "Conversation",
        "conversationOrchestration": {
            "projectName": "EmailApp",
            "deploymentName": "prod",
        },
    }
    intent = services.intent_create(
        project=router, data={"category": "Email", "orchestration": link}
    )
    assert (intent.target_kind, intent.target_deployment_name) == (
        "Conversation",
        "prod",
    )
    # A project that does not exist yet may be named.
    services.intent_update(
        intent=intent,
        data={
            "orchestration": {
                "targetProjectKind": "QuestionAnswering",
                "questionAnsweringOrchestration": {"projectName": "FutureKB"},
            }
        },
    )
    intent.refresh_from_db()
    assert (intent.target_kind, intent.target_deployment_name) == (
        "QuestionAnswering",
        "production",
    )
    services.intent_update(intent=intent, data={"orchestration": None})
    intent.refresh_from_db()
    assert intent.is_linked is False


@pytest.mark.parametrize(
    ("orchestration", "target"),
    [
        (
            {
                "targetProjectKind": "QuestionAnswering",
                "questionAnsweringOrchestration": {"projectName": "EmailApp"},
            },
            "orchestration",
        ),
        ({"targetProjectKind": "Teams"}, "orchestration.targetProjectKind"),
        (
            {
                "targetProjectKind": "Conversation",
                "conversationOrchestration": {"projectName": "x y"},
            },
            "orchestration.conversationOrchestration.projectName",
        ),
        (
            {
                "targetProjectKind": "Http",
                "httpOrchestration": {"url": "ftp://example.com"},
            },
            "orchestration.httpOrchestration.url",
        ),
        (
            {
                "targetProjectKind": "Http",
                "httpOrchestration": {"url": "https://ok.example", "headers": {"A": 1}},
            },
            "orchestration.httpOrchestration.headers",
        ),
        (
            {"targetProjectKind": "Luis", "luisOrchestration": {}},
            "orchestration.luisOrchestration.appId",
        ),
    ],
)
def test_bad_links_are_refused(
    project: Project, orchestration: dict[str, Any], target: str
) -> None:
    router = clu_project("Router", kind="Orchestration")
    error = fails(
        services.intent_create,
        project=router,
        data={"category": "X", "orchestration": orchestration},
    )
    assert target in [d.target for d in error.details]


def test_conversation_intents_cannot_link(project: Project) -> None:
    fails(
        services.intent_create,
        project=project,
        data={
            "category": "X",
            "orchestration": {
                "targetProjectKind": "Luis",
                "luisOrchestration": {"appId": "a"},
            },
        },
    )


# ---------------------------------------------------------------- entities


def test_entity_create_update_delete(project: Project) -> None:
    entity = services.entity_create(
        project=project,
        data={
            "category": "Colour",
            "list": {
                "sublists": [
                    {
                        "listKey": "red",
                        "synonyms": [{"language": "en", "values": ["red", "crimson"]}],
                    }
                ]
            },
        },
    )
    assert entity.synonym_count == 2
    services.entity_update(
        entity=entity, data={"category": "Color", "prebuilts": [{"category": "Number"}]}
    )
    entity.refresh_from_db()
    assert (entity.name, entity.prebuilts, entity.list_sublists[0]["listKey"]) == (
        "Color",
        ["Number"],
        "red",
    )
    services.entity_update(entity=entity, data={"list": None})
    entity.refresh_from_db()
    assert entity.list_sublists == []
    sender = project.entities.get(name="Sender")
    services.entity_delete(entity=sender)
    assert not EntitySpan.objects.filter(entity__name="Sender").exists()


@pytest.mark.parametrize(
    ("data", "target"),
    [
        ({"category": "Sender"}, "category"),
        ({"category": "A#B"}, "category"),
        (
            {"category": "E", "prebuilts": [{"category": "Teleportation"}]},
            "prebuilts[0].category",
        ),
        (
            {
                "category": "E",
                "regex": {
                    "expressions": [
                        {"regexKey": "k", "language": "en", "regexPattern": "[a-"}
                    ]
                },
            },
            "regex.expressions[0].regexPattern",
        ),
        ({"category": "E", "compositionSetting": "both"}, "compositionSetting"),
        (
            {"category": "E", "list": {"sublists": [{"listKey": "", "synonyms": []}]}},
            "list.sublists[0].listKey",
        ),
    ],
)
def test_bad_entities_are_refused(
    project: Project, data: dict[str, Any], target: str
) -> None:
    error = fails(services.entity_create, project=project, data=data)
    assert target in [d.target for d in error.details] or error.target == target


def test_entity_limits(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v, "MAX_ENTITIES_PER_PROJECT", 2)
    fails(services.entity_create, project=project, data={"category": "Third"})
    monkeypatch.setattr(v, "MAX_ENTITIES_PER_PROJECT", 350)
    monkeypatch.setattr(v, "MAX_REGEX_PER_PROJECT", 1)
    fails(
        services.entity_create,
        project=project,
        data={
            "category": "E",
            "regex": {
                "expressions": [
                    {"regexKey": "k", "language": "en", "regexPattern": "x"}
                ]
            },
        },
    )


def test_orchestration_projects_have_no_entities() -> None:
    router = clu_project("Router", kind="Orchestration")
    fails(services.entity_create, project=router, data={"category": "E"})


# ---------------------------------------------------------------- utterances


def test_utterance_create_with_spans_in_code_points(project: Project) -> None:
    utterance = services.utterance_create(
        project=project,
        data={
            "text": "mail 😀 Bo",
            "intent": "Read",
            "entities": [{"category": "Sender", "offset": 7, "length": 2}],
        },
    )
    span = utterance.spans.get()
    assert (span.offset, span.length) == (7, 2)
    assert utterance.effective_language == "en-us"


def test_a_600_character_utterance_is_refused(project: Project) -> None:
    error = fails(
        services.utterance_create,
        project=project,
        data={"text": "x" * 600, "intent": "Read"},
    )
    assert error.target == "[0].text"
    assert "500" in error.message


@pytest.mark.parametrize(
    ("data", "target"),
    [
        ({"text": "", "intent": "Read"}, "[0].text"),
        ({"text": " \n ", "intent": "Read"}, "[0].text"),
        ({"text": "hi", "intent": "Missing"}, "[0].intent"),
        ({"text": "hi", "intent": "Read", "dataset": "train"}, "[0].dataset"),
        ({"text": "hi", "intent": "Read", "language": "english"}, "[0].language"),
        (
            {
                "text": "hi",
                "intent": "Read",
                "entities": [{"category": "Sender", "offset": 1, "length": 2}],
            },
            "[0].entities[0].offset",
        ),
        (
            {
                "text": "hi",
                "intent": "Read",
                "entities": [{"category": "Nope", "offset": 0, "length": 1}],
            },
            "[0].entities[0].category",
        ),
    ],
)
def test_bad_utterances_are_refused(
    project: Project, data: dict[str, Any], target: str
) -> None:
    error = fails(services.utterance_create, project=project, data=data)
    assert target in [d.target for d in error.details]


def test_utterance_update_rechecks_spans_against_new_text(project: Project) -> None:
    utterance = project.utterances.get(text="Open Blake's email")
    fails(services.utterance_update, utterance=utterance, data={"text": "Open"})
    services.utterance_update(
        utterance=utterance, data={"text": "Open Blake's mail", "dataset": None}
    )
    utterance.refresh_from_db()
    assert (utterance.text, utterance.dataset, utterance.spans.count()) == (
        "Open Blake's mail",
        None,
        1,
    )
    services.utterance_update(utterance=utterance, data={"entities": []})
    assert utterance.spans.count() == 0


def test_utterance_update_writes_only_the_fields_it_names(project: Project) -> None:
    """A request loaded the row, another changed the intent, then the first saves
    a dataset change: the intent change stays (it used to be overwritten)."""
    loaded = project.utterances.get(text="Open Blake's email")
    delete = project.intents.get(name="Delete")
    Utterance.objects.filter(pk=loaded.pk).update(intent=delete, language="fr")
    services.utterance_update(utterance=loaded, data={"dataset": "Test"})
    stored = Utterance.objects.get(pk=loaded.pk)
    assert (stored.intent, stored.language, stored.dataset) == (delete, "fr", "Test")
    assert stored.spans.count() == 1


def test_utterance_writes_move_the_version_and_a_stale_one_is_refused(
    project: Project,
) -> None:
    utterance = project.utterances.get(text="Open Blake's email")
    seen = utterance.version
    services.utterance_update(
        utterance=utterance, data={"dataset": "Test"}, expected_versions={seen}
    )
    utterance.refresh_from_db()
    assert utterance.version == seen + 1
    before = list(Utterance.objects.values_list("pk", "intent_id", "dataset"))
    with pytest.raises(PreconditionFailed, match="changed by someone else"):
        services.utterance_update(
            utterance=utterance, data={"intent": "Delete"}, expected_versions={seen}
        )
    with pytest.raises(PreconditionFailed):
        services.utterance_delete(utterance=utterance, expected_versions={seen})
    assert list(Utterance.objects.values_list("pk", "intent_id", "dataset")) == before
    services.utterances_bulk_update(
        project=project, ids=[utterance.pk], changes={"dataset": None}
    )
    utterance.refresh_from_db()
    assert utterance.version == seen + 2


def test_intent_and_entity_updates_merge_onto_the_stored_row(
    project: Project,
) -> None:
    """A rename loaded before a concurrent link/component change keeps that change."""
    entity = project.entities.get(name="Sender")
    Entity.objects.filter(pk=entity.pk).update(prebuilts=["Email"])
    services.entity_update(entity=entity, data={"category": "From"})
    entity.refresh_from_db()
    assert (entity.name, entity.prebuilts) == ("From", ["Email"])
    intent = project.intents.get(name="Read")
    Intent.objects.filter(pk=intent.pk).update(name="Open")
    services.intent_update(intent=intent, data={})
    intent.refresh_from_db()
    assert intent.name == "Open"


def test_bulk_create_is_all_or_nothing(project: Project) -> None:
    fails(
        services.utterances_bulk_create,
        project=project,
        items=[{"text": "ok", "intent": "Read"}, {"text": "bad", "intent": "Ghost"}],
    )
    rows = services.utterances_bulk_create(
        project=project,
        items=[
            {"text": "one", "intent": "Read"},
            {"text": "two", "intent": "Delete", "dataset": "Test"},
        ],
    )
    assert [r.text for r in rows] == ["one", "two"]
    with pytest.raises(InvalidRequest):
        services.utterances_bulk_create(project=project, items=[])


def test_utterance_limit(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v, "MAX_UTTERANCES_PER_PROJECT", 3)
    error = fails(
        services.utterance_create,
        project=project,
        data={"text": "fourth", "intent": "Read"},
    )
    assert "limit" in error.message


def test_bulk_update_and_delete(project: Project) -> None:
    ids = list(project.utterances.values_list("pk", flat=True))
    assert (
        services.utterances_bulk_update(
            project=project, ids=ids, changes={"intent": "Delete", "dataset": None}
        )
        == 3
    )
    assert set(project.utterances.values_list("intent__name", "dataset")) == {
        ("Delete", None)
    }
    fails(
        services.utterances_bulk_update,
        project=project,
        ids=ids,
        changes={"dataset": "Dev"},
    )
    fails(
        services.utterances_bulk_update, project=project, ids=ids, changes={"text": "x"}
    )
    fails(
        services.utterances_bulk_update,
        project=project,
        ids=ids,
        changes={"intent": "Ghost"},
    )
    assert services.utterances_bulk_delete(project=project, ids=ids[:2]) == 2
    assert project.utterances.count() == 1


def test_bulk_operations_refuse_other_projects_utterances(project: Project) -> None:
    other = services.project_import(name="Other", document=email_doc())
    foreign = list(other.utterances.values_list("pk", flat=True))
    fails(services.utterances_bulk_delete, project=project, ids=foreign)
    fails(
        services.utterances_bulk_update,
        project=project,
        ids=foreign,
        changes={"dataset": "Test"},
    )


# ---------------------------------------------------------------- last_modified_at


def _kb() -> Project:
    return services.kb_import(
        name="kb",
        document={"assets": {"qnas": [{"id": 1, "answer": "a", "questions": ["q"]}]}},
        file_format="json",
    )


WRITES: list[tuple[str, Callable[[Project], Any]]] = [
    (
        "intent_create",
        lambda p: services.intent_create(project=p, data={"category": "New"}),
    ),
    (
        "intent_update",
        lambda p: services.intent_update(
            intent=p.intents.get(name="Read"), data={"category": "Open"}
        ),
    ),
    (
        "intent_delete",
        lambda p: services.intent_delete(intent=p.intents.get(name="Delete")),
    ),
    (
        "entity_create",
        lambda p: services.entity_create(project=p, data={"category": "New"}),
    ),
    (
        "entity_update",
        lambda p: services.entity_update(
            entity=p.entities.get(name="Sender"), data={"category": "From"}
        ),
    ),
    (
        "entity_delete",
        lambda p: services.entity_delete(entity=p.entities.get(name="Sender")),
    ),
    (
        "utterance_create",
        lambda p: services.utterance_create(
            project=p, data={"text": "hey", "intent": "Read"}
        ),
    ),
    (
        "utterance_update",
        lambda p: services.utterance_update(
            utterance=p.utterances.all()[0], data={"dataset": "Test"}
        ),
    ),
    (
        "utterance_delete",
        lambda p: services.utterance_delete(utterance=p.utterances.all()[0]),
    ),
    (
        "utterances_bulk_update",
        lambda p: services.utterances_bulk_update(
            project=p, ids=[p.utterances.all()[0].pk], changes={"dataset": "Test"}
        ),
    ),
    (
        "utterances_bulk_delete",
        lambda p: services.utterances_bulk_delete(
            project=p, ids=[p.utterances.all()[0].pk]
        ),
    ),
    (
        "utterances_import",
        lambda p: services.utterances_import(
            project=p, document=[{"text": "x", "intent": "Read"}]
        ),
    ),
    (
        "settings",
        lambda p: services.project_create_or_update(
            name=p.name, data={"settings": {"confidenceThreshold": 0.2}}
        ),
    ),
    ("import", lambda p: services.project_import(name=p.name, document=email_doc())),
]


@pytest.mark.parametrize(("label", "write"), WRITES, ids=[w[0] for w in WRITES])
def test_last_modified_moves_on_every_change(
    project: Project, label: str, write: Callable[[Project], Any]
) -> None:
    Project.objects.filter(pk=project.pk).update(
        last_modified_at=project.created_at.replace(year=2000)
    )
    write(project)
    project.refresh_from_db()
    assert project.last_modified_at.year > 2000, label


KB_WRITES: list[tuple[str, Callable[[Project], Any]]] = [
    (
        "qnas",
        lambda p: services.kb_qnas_update(
            project=p,
            operations=[{"op": "add", "value": {"answer": "b", "questions": ["r"]}}],
        ),
    ),
    (
        "synonyms",
        lambda p: services.kb_synonyms_update(project=p, synonyms=[["a", "b"]]),
    ),
    (
        "settings",
        lambda p: services.qna_project_create_or_update(
            name=p.name, data={"description": "d"}
        ),
    ),
    ("import", lambda p: _kb()),
]


@pytest.mark.parametrize(("label", "write"), KB_WRITES, ids=[w[0] for w in KB_WRITES])
def test_kb_last_modified_moves_on_every_change(
    label: str, write: Callable[[Project], Any]
) -> None:
    kb = _kb()
    Project.objects.filter(pk=kb.pk).update(
        last_modified_at=kb.created_at.replace(year=2000)
    )
    write(kb)
    kb.refresh_from_db()
    assert kb.last_modified_at.year > 2000, label


def test_failed_write_does_not_move_last_modified(project: Project) -> None:
    stamp = Project.objects.get(pk=project.pk).last_modified_at
    with pytest.raises(InvalidArgument):
        services.intent_create(project=project, data={"category": "Read"})
    assert Project.objects.get(pk=project.pk).last_modified_at == stamp
    assert Intent.objects.filter(project=project).count() == 3
    assert Entity.objects.filter(project=project).count() == 2
    assert Utterance.objects.filter(project=project).count() == 3
