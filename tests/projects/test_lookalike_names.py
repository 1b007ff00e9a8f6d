"""Look-alike names are one name: ``Book``, ``book``, fullwidth ``Ｂｏｏｋ`` and
``Bo\u200bok`` cannot coexist in a project, ``homeoffice`` cannot join
``HomeOffice``, invisible characters and dot-only names are refused — in the
services (API and studio alike), in imports and in the database."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from projects import services
from projects import validators as v
from projects.models import Entity, Intent, Project
from studio.errors import Conflict
from studio.services import apikey_create
from tests.projects.helpers import clu_project, email_doc, fails, targets

pytestmark = pytest.mark.django_db

V = "api-version=2023-04-01"
CLU = "/language/authoring/analyze-conversations/projects"
QNA = "/language/authoring/query-knowledgebases/projects"
V1 = "/api/v1/projects"

LOOKALIKES_OF_BOOK = ["book", "BOOK", "\uff22\uff4f\uff4f\uff4b", "Book\ufe0f"]


@pytest.mark.parametrize("name", ["Book", *LOOKALIKES_OF_BOOK, "Bo\u200bok"])
def test_lookalikes_share_one_key(name: str) -> None:
    assert v.name_key(name) == "book"


def test_different_names_keep_different_keys() -> None:
    keys = {v.name_key(n) for n in ["Book", "Books", "Boek", "Bóok", "Book it"]}
    assert len(keys) == 5


@pytest.mark.parametrize(
    "name",
    [
        "Bo\u200bok",  # zero-width space
        "Book\u200d",  # zero-width joiner
        "\u202eBook",  # right-to-left override
        "Bo\u00adok",  # soft hyphen
        "Bo\x07ok",  # a control character
        "Bo\u2028ok",  # line separator
        "Book\ufe0f",  # variation selector
        "Bo\u3164ok",  # Hangul filler
    ],
)
def test_invisible_characters_are_refused_in_label_names(name: str) -> None:
    message = v.label_name_error(name, what="Intent")
    assert message is not None and "invisible character" in message


@pytest.mark.parametrize("name", [".", "..", "...", "." * 50])
def test_dot_only_project_names_are_refused(name: str) -> None:
    message = v.project_name_error(name)
    assert message is not None and "dots only" in message


@pytest.mark.parametrize("name", ["a.b", ".hidden", "v1.0", "x."])
def test_names_with_dots_and_more_are_fine(name: str) -> None:
    assert v.project_name_error(name) is None


# ---------------------------------------------------------------- services


@pytest.mark.parametrize("name", LOOKALIKES_OF_BOOK[:3])
def test_an_intent_lookalike_is_refused(name: str) -> None:
    project = clu_project("p")
    services.intent_create(project=project, data={"category": "Book"})
    error = fails(services.intent_create, project=project, data={"category": name})
    assert "too much like intent 'Book'" in error.message
    assert error.target == "category"


def test_an_entity_lookalike_is_refused() -> None:
    project = clu_project("p")
    services.entity_create(project=project, data={"category": "City"})
    error = fails(
        services.entity_create, project=project, data={"category": "\uff23ity"}
    )
    assert "too much like entity 'City'" in error.message


def test_renaming_to_another_case_of_itself_is_allowed_but_not_onto_another() -> None:
    project = clu_project("p")
    book = services.intent_create(project=project, data={"category": "Book"})
    services.intent_create(project=project, data={"category": "Cancel"})
    assert services.intent_update(intent=book, data={"category": "BOOK"}).name == "BOOK"
    error = fails(services.intent_update, intent=book, data={"category": "cancel"})
    assert "too much like" in error.message


def test_an_import_with_lookalike_intents_names_the_second() -> None:
    document = email_doc()
    document["assets"]["intents"].append({"category": "DELETE"})
    error = fails(services.project_import, name="Email", document=document)
    assert "too much like" in str(error.details[0].message)
    assert (
        targets(error)[0]
        == f"assets.intents[{len(document['assets']['intents']) - 1}].category"
    )


def test_an_utterance_file_cannot_create_a_lookalike_intent() -> None:
    project = clu_project("p")
    services.intent_create(project=project, data={"category": "Book"})
    error = fails(
        services.utterances_import,
        project=project,
        document=[{"text": "book a table", "intent": "book", "entities": []}],
    )
    assert "too much like intent 'Book'" in error.details[0].message


def test_creating_a_project_whose_name_differs_only_in_case_is_409() -> None:
    body = {
        "projectName": "HomeOffice",
        "projectKind": "Conversation",
        "language": "en",
    }
    services.project_create_or_update(name="HomeOffice", data=body)
    with pytest.raises(Conflict):
        services.project_create_or_update(
            name="homeoffice", data={**body, "projectName": "homeoffice"}
        )
    with pytest.raises(Conflict):
        services.qna_project_create_or_update(name="HOMEOFFICE", data={})
    with pytest.raises(Conflict):
        services.project_import(name="homeOffice", document=email_doc())
    assert list(Project.objects.values_list("name", flat=True)) == ["HomeOffice"]


# ---------------------------------------------------------------- the database


def test_the_database_refuses_lookalike_intents_and_entities() -> None:
    project = clu_project("p")
    Intent.objects.create(project=project, name="Book")
    Entity.objects.create(project=project, name="City")
    with pytest.raises(IntegrityError), transaction.atomic():
        Intent.objects.create(project=project, name="\uff42ook")
    with pytest.raises(IntegrityError), transaction.atomic():
        Intent.objects.bulk_create([Intent(project=project, name="BOOK")])
    with pytest.raises(IntegrityError), transaction.atomic():
        Entity.objects.create(project=project, name="CITY")
    # Another project may use the name.
    Intent.objects.create(project=clu_project("q"), name="book")


def test_the_database_refuses_projects_differing_only_in_case() -> None:
    clu_project("HomeOffice")
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(name="homeoffice", kind="Conversation", language="en")


def test_a_rename_through_save_moves_the_key() -> None:
    project = clu_project("p")
    intent = Intent.objects.create(project=project, name="Book")
    intent.name = "Reserve"
    intent.save()
    assert Intent.objects.get(pk=intent.pk).name_key == "reserve"
    Intent.objects.create(project=project, name="book")  # the old key is free


# ---------------------------------------------------------------- the API


@pytest.fixture
def api(client: Client) -> Any:
    key = apikey_create(name="names")[1]

    def send(method: str, path: str, body: Any = None) -> Any:
        sep = "&" if "?" in path else "?"
        return client.generic(
            method,
            f"{path}{sep}{V}",
            json.dumps(body) if body is not None else b"",
            content_type="application/json",
            headers={"Ocp-Apim-Subscription-Key": key},
        )

    return send


def create(api: Any, name: str) -> Any:
    body = {"projectName": name, "projectKind": "Conversation", "language": "en-us"}
    return api("PATCH", f"{CLU}/{name}", body)


def test_api_refuses_a_project_name_differing_only_in_case(api: Any) -> None:
    assert create(api, "HomeOffice").status_code == 201
    response = create(api, "homeoffice")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["target"] == "projectName"
    qna = api("PATCH", f"{QNA}/HOMEOFFICE", {"language": "en"})
    assert qna.status_code == 409
    assert create(api, "HomeOffice").status_code == 200  # the same name updates
    assert Project.objects.count() == 1


@pytest.mark.parametrize("name", ["...", ".."])
def test_api_refuses_dot_only_project_names(api: Any, name: str) -> None:
    response = api(
        "PATCH",
        f"{CLU}/{name}",
        {"projectName": name, "projectKind": "Conversation", "language": "en-us"},
    )
    assert response.status_code in (400, 404)
    assert not Project.objects.exists()


def test_api_refuses_dot_only_deployment_and_model_names(api: Any) -> None:
    assert create(api, "p").status_code == 201
    deploy = api("PUT", f"{CLU}/p/deployments/...", {"trainedModelLabel": "m"})
    assert deploy.status_code == 400, deploy.content
    assert deploy.json()["error"]["target"] == "deploymentName"
    train = api(
        "POST",
        f"{CLU}/p/:train",
        {"modelLabel": "...", "trainingMode": "standard"},
    )
    assert train.status_code == 400, train.content
    assert train.json()["error"]["target"] == "modelLabel"


@pytest.mark.parametrize(
    "name", ["book", "\uff22\uff4f\uff4f\uff4b", "Bo\u200bok", "BOOK"]
)
def test_api_refuses_lookalike_and_invisible_intent_names(api: Any, name: str) -> None:
    assert create(api, "p").status_code == 201
    assert api("POST", f"{V1}/p/intents", {"category": "Book"}).status_code == 201
    response = api("POST", f"{V1}/p/intents", {"category": name})
    assert response.status_code == 400, response.content
    message = response.json()["error"]["message"]
    assert "too much like" in message or "invisible character" in message
    assert Intent.objects.filter(project__name="p").count() == 2  # None and Book


# ---------------------------------------------------------------- the migration


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_existing_lookalikes_instead_of_failing() -> None:
    """Data written before the rule (look-alikes side by side) migrates: the oldest
    of each group keeps its name, later ones get ``-2``, ``-3``..."""
    executor = MigrationExecutor(connection)
    before = [("projects", "0004_target_secrets")]
    after = [("projects", "0005_lookalike_names")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldProject = old.get_model("projects", "Project")
    OldIntent = old.get_model("projects", "Intent")
    OldEntity = old.get_model("projects", "Entity")
    first = OldProject.objects.create(
        name="HomeOffice", kind="Conversation", language="en"
    )
    OldProject.objects.create(name="homeoffice", kind="Conversation", language="en")
    OldProject.objects.create(name="homeoffice-2", kind="Conversation", language="en")
    for name in ["Book", "book", "\uff22\uff4f\uff4f\uff4b", "Bo\u200bok", "Other"]:
        OldIntent.objects.create(project=first, name=name)
    OldEntity.objects.create(project=first, name="City")
    OldEntity.objects.create(project=first, name="CITY")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    names = set(
        new.get_model("projects", "Project").objects.values_list("name", flat=True)
    )
    assert names == {"HomeOffice", "homeoffice-3", "homeoffice-2"}
    intents = list(
        new.get_model("projects", "Intent")
        .objects.filter(project_id=first.pk)
        .order_by("id")
        .values_list("name", "name_key")
    )
    assert intents == [
        ("Book", "book"),
        ("book-2", "book-2"),
        ("\uff22\uff4f\uff4f\uff4b-3", "book-3"),
        ("Bo\u200bok-4", "book-4"),
        ("Other", "other"),
    ]
    entities = new.get_model("projects", "Entity").objects.order_by("id")
    assert list(entities.values_list("name", flat=True)) == ["City", "CITY-2"]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_api_import_under_a_case_variant_name_is_409_before_any_job(api: Any) -> None:
    from jobs.models import Job

    assert create(api, "HomeOffice").status_code == 201
    response = api("POST", f"{CLU}/homeoffice/:import", email_doc())
    assert response.status_code == 409, response.content
    kb = api("POST", f"{QNA}/HOMEOFFICE/:import?format=json", {"assets": {"qnas": []}})
    assert kb.status_code == 409, kb.content
    assert not Job.objects.filter(kind="import").exists()
    assert list(Project.objects.values_list("name", flat=True)) == ["HomeOffice"]
