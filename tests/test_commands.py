from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from studio.management.commands.loaddemo import DEMO_DIR, DEMO_PROJECTS, demo_document
from studio.management.commands.runstudio import Command as RunStudio
from studio.models import ApiKey

User = get_user_model()
FORBIDDEN_NAME_CHARACTERS = set(":$&%*()+~#/?")


def run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def admin_env(monkeypatch: Any) -> Any:
    monkeypatch.delenv("STUDIO_ADMIN_USER", raising=False)
    monkeypatch.delenv("STUDIO_ADMIN_PASSWORD", raising=False)
    return monkeypatch


# --- ensureadmin ---


@pytest.mark.django_db
def test_ensureadmin_creates_admin_with_a_generated_password_shown_once(
    admin_env: Any,
) -> None:
    first = run("ensureadmin")

    user = User.objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.is_active
    password = first.split("with password '", 1)[1].split("'", 1)[0]
    assert len(password) >= 12
    assert user.check_password(password)

    second = run("ensureadmin")

    assert password not in second
    assert "already exists" in second
    assert User.objects.count() == 1
    user.refresh_from_db()
    assert user.check_password(password)


@pytest.mark.django_db
def test_ensureadmin_uses_credentials_from_the_environment_without_printing_them(
    admin_env: Any,
) -> None:
    admin_env.setenv("STUDIO_ADMIN_USER", "root-of-trust")
    admin_env.setenv("STUDIO_ADMIN_PASSWORD", "Correct-Horse-Battery-9")

    output = run("ensureadmin")

    assert "Correct-Horse-Battery-9" not in output
    user = User.objects.get(username="root-of-trust")
    assert user.is_superuser
    assert user.check_password("Correct-Horse-Battery-9")


@pytest.mark.django_db
def test_ensureadmin_applies_a_changed_environment_password(admin_env: Any) -> None:
    admin_env.setenv("STUDIO_ADMIN_PASSWORD", "First-Long-Password-1")
    run("ensureadmin")
    admin_env.setenv("STUDIO_ADMIN_PASSWORD", "Second-Long-Password-2")

    output = run("ensureadmin")

    assert "password updated" in output
    assert User.objects.get(username="admin").check_password("Second-Long-Password-2")
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_ensureadmin_refuses_a_weak_password_and_changes_nothing(
    admin_env: Any,
) -> None:
    admin_env.setenv("STUDIO_ADMIN_PASSWORD", "123")

    with pytest.raises(CommandError, match="STUDIO_ADMIN_PASSWORD is refused"):
        run("ensureadmin")

    assert not User.objects.exists()


@pytest.mark.django_db
def test_ensureadmin_leaves_an_existing_superuser_alone_when_no_name_is_given(
    admin_env: Any,
) -> None:
    User.objects.create_superuser(username="owner", email="", password="x" * 20)

    output = run("ensureadmin")

    assert "an administrator already exists" in output
    assert list(User.objects.values_list("username", flat=True)) == ["owner"]


# --- runstudio's first API key ---


@pytest.mark.django_db
def test_the_first_api_key_is_created_once_and_printed() -> None:
    command = RunStudio(stdout=io.StringIO(), stderr=io.StringIO())

    command.ensure_first_api_key()
    command.ensure_first_api_key()

    assert ApiKey.objects.count() == 1
    printed = command.stdout._out.getvalue()  # type: ignore[attr-defined]
    assert printed.count("Created API key 'default'") == 1


@pytest.mark.django_db
def test_no_api_key_is_created_when_keys_exist_even_if_all_are_revoked() -> None:
    run("createapikey", "old")
    key = ApiKey.objects.get()
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=key.created_at)
    command = RunStudio(stdout=io.StringIO(), stderr=io.StringIO())

    command.ensure_first_api_key()

    assert ApiKey.objects.count() == 1


# --- the demo files ---


def test_demo_files_are_well_formed_azure_documents_with_consistent_labels() -> None:
    assert sorted(p.name for p in DEMO_DIR.glob("*.json")) == sorted(
        d.file_name for d in DEMO_PROJECTS
    )
    for demo in DEMO_PROJECTS:
        document = demo_document(demo)
        if demo.importer == "kb":
            qnas = document["assets"]["qnas"]
            ids = {qna["id"] for qna in qnas}
            assert len(ids) == len(qnas) >= 10
            assert all(qna["questions"] and qna["answer"] for qna in qnas)
            prompts = [p for qna in qnas for p in qna["dialog"]["prompts"]]
            assert prompts and all(p["qnaId"] in ids for p in prompts)
            continue
        assets = document["assets"]
        assert document["metadata"]["projectName"] == demo.name
        assert assets["projectKind"] == demo.format
        intents = {intent["category"] for intent in assets["intents"]}
        entities = {entity["category"] for entity in assets.get("entities", [])}
        assert "None" in intents
        assert all(not FORBIDDEN_NAME_CHARACTERS & set(name) for name in intents)
        for utterance in assets["utterances"]:
            assert utterance["intent"] in intents
            assert 1 <= len(utterance["text"]) <= 500
            for span in utterance.get("entities", []):
                assert span["category"] in entities
                piece = utterance["text"][
                    span["offset"] : span["offset"] + span["length"]
                ]
                assert piece and piece == piece.strip()


def test_the_demo_conversation_project_has_a_list_and_a_prebuilt_entity() -> None:
    conversation = next(d for d in DEMO_PROJECTS if d.format == "Conversation")
    assets = demo_document(conversation)["assets"]
    counts: dict[str, int] = {}
    for utterance in assets["utterances"]:
        counts[utterance["intent"]] = counts.get(utterance["intent"], 0) + 1

    assert len([n for n in counts.values() if n >= 10]) >= 5
    assert any("list" in entity for entity in assets["entities"])
    assert any(entity.get("prebuilts") for entity in assets["entities"])


def test_the_demo_router_links_both_demo_projects_and_has_a_non_linked_intent() -> None:
    router = next(d for d in DEMO_PROJECTS if d.format == "Orchestration")
    intents = demo_document(router)["assets"]["intents"]
    links = {intent["category"]: intent.get("orchestration", {}) for intent in intents}

    assert links["HomeOffice"]["conversationOrchestration"]["projectName"] == (
        "HomeOffice"
    )
    assert links["OfficeFAQ"]["questionAnsweringOrchestration"]["projectName"] == (
        "OfficeFAQ"
    )
    assert links["Chitchat"] == {}
    # Targets load before the router that links to them.
    names = [d.name for d in DEMO_PROJECTS]
    assert names.index("OfficeRouter") > names.index("HomeOffice")
    assert names.index("OfficeRouter") > names.index("OfficeFAQ")
    json.dumps(intents)


# --- loaddemo ---


@pytest.mark.django_db
def test_loaddemo_loads_three_linked_projects_and_is_idempotent() -> None:
    from projects.models import Intent, Project

    first = run("loaddemo")
    snapshot = {p.name: (p.kind, p.last_modified_at) for p in Project.objects.all()}
    second = run("loaddemo")

    assert "Demo projects loaded: HomeOffice, OfficeFAQ, OfficeRouter." in first
    assert "already present: HomeOffice, OfficeFAQ, OfficeRouter." in second
    assert snapshot == {
        p.name: (p.kind, p.last_modified_at) for p in Project.objects.all()
    }
    assert {name: kind for name, (kind, _) in snapshot.items()} == {
        "HomeOffice": Project.Kind.CONVERSATION,
        "OfficeFAQ": Project.Kind.QUESTION_ANSWERING,
        "OfficeRouter": Project.Kind.ORCHESTRATION,
    }
    router_links = {
        intent.name: (intent.target_kind, intent.target_project_name)
        for intent in Intent.objects.filter(project__name="OfficeRouter")
    }
    assert router_links["HomeOffice"] == ("Conversation", "HomeOffice")
    assert router_links["OfficeFAQ"] == ("QuestionAnswering", "OfficeFAQ")
    assert router_links["Chitchat"][1] == ""


@pytest.mark.django_db
def test_loaddemo_keeps_an_existing_project_of_the_same_name_untouched() -> None:
    from projects.models import Project

    run("loaddemo")
    Project.objects.filter(name="HomeOffice").update(description="mine")

    output = run("loaddemo")

    assert "already present" in output
    assert Project.objects.get(name="HomeOffice").description == "mine"


@pytest.mark.django_db(transaction=True)
def test_loaddemo_trains_and_deploys_the_demo_so_the_readme_examples_answer() -> None:
    from django.test import Client

    from studio.services import apikey_create
    from training.models import Deployment

    out = io.StringIO()
    call_command("loaddemo", stdout=out)
    assert "trained and deployed" in out.getvalue()
    assert set(
        Deployment.objects.filter(name="production").values_list(
            "project__name", flat=True
        )
    ) == {"HomeOffice", "OfficeFAQ", "OfficeRouter"}
    _, raw_key = apikey_create(name="demo")
    client = Client(HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw_key)
    response = client.post(
        "/language/:analyze-conversations?api-version=2023-04-01",
        {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {
                    "id": "1",
                    "participantId": "user",
                    "text": "turn off the lights",
                }
            },
            "parameters": {
                "projectName": "OfficeRouter",
                "deploymentName": "production",
            },
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    prediction = response.json()["result"]["prediction"]
    assert prediction["projectKind"] == "Orchestration"
    routed = prediction["intents"][prediction["topIntent"]]
    assert routed["targetProjectKind"] == "Conversation"
    assert routed["result"]["prediction"]["projectKind"] == "Conversation"

    # A second run changes nothing: everything is there already.
    again = io.StringIO()
    call_command("loaddemo", stdout=again)
    assert "trained and deployed" not in again.getvalue()
