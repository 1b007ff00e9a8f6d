"""The official ``azure-ai-language-conversations==1.1.0`` authoring client, unchanged,
against a live studio (gunicorn + Celery worker + PostgreSQL + Redis).

Only the endpoint and the key differ from how a bot would call Azure. Pollers rely on
the server's ``Retry-After: 1``; no ``polling_interval`` is passed.
"""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from azure.ai.language.conversations.authoring import ConversationAuthoringClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest

from tests.conftest import LiveStudio

pytestmark = pytest.mark.integration

POLL_TIMEOUT = 120


@pytest.fixture(scope="module")
def client(live_studio: LiveStudio) -> ConversationAuthoringClient:
    return ConversationAuthoringClient(
        live_studio.url, AzureKeyCredential(live_studio.api_key)
    )


@pytest.fixture(scope="module")
def email_app(shared_data: Path) -> dict[str, Any]:
    path = shared_data / "azure-language-samples" / "CLU" / "EmailAppDemo.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def test_create_list_get_and_update_a_project(
    client: ConversationAuthoringClient,
) -> None:
    name = unique("Sdk")
    created = client.create_project(
        name,
        {
            "projectName": name,
            "projectKind": "Conversation",
            "language": "en-us",
            "description": "from the SDK",
            "multilingual": False,
            "settings": {"confidenceThreshold": 0.6},
        },
    )
    assert created["projectName"] == name
    assert created["settings"] == {"confidenceThreshold": 0.6}
    updated = client.create_project(name, {"projectName": name, "description": "v2"})
    assert updated["description"] == "v2"
    assert updated["createdDateTime"] == created["createdDateTime"]
    assert client.get_project(name)["description"] == "v2"
    # The pager follows nextLink pages of two.
    listed = [p["projectName"] for p in client.list_projects(top=1000)]
    assert name in listed
    assert len(listed) == len(set(listed))


def test_list_projects_follows_next_links_across_pages(
    client: ConversationAuthoringClient,
) -> None:
    prefix = unique("Page")
    names = [f"{prefix}-{i:02d}" for i in range(55)]  # more than one default page
    for name in names:
        client.create_project(
            name,
            {"projectName": name, "projectKind": "Orchestration", "language": "en"},
        )
    listed = [p["projectName"] for p in client.list_projects()]
    assert len(listed) == len(set(listed))
    assert set(names) <= set(listed)
    skipped = [p["projectName"] for p in client.list_projects(skip=1, top=2)]
    assert skipped == sorted(listed)[1:3]


def test_import_poll_export_download_and_delete(
    client: ConversationAuthoringClient,
    email_app: dict[str, Any],
    live_studio: LiveStudio,
) -> None:
    name = unique("EmailApp")
    poller = client.begin_import_project(name, email_app)
    state = poller.result(timeout=POLL_TIMEOUT)
    assert state["status"] == "succeeded", state
    project = client.get_project(name)
    assert project["multilingual"] is True
    assert project["settings"] == {"confidenceThreshold": 0.7}
    status = client.get_import_project_job_status(name, state["jobId"])
    assert status["status"] == "succeeded"

    export = client.begin_export_project(
        name, string_index_type="Utf16CodeUnit", exported_project_format="Conversation"
    ).result(timeout=POLL_TIMEOUT)
    assert export["status"] == "succeeded"
    assert export["resultUrl"].startswith(f"{live_studio.url}/language/")
    response = client.send_request(HttpRequest("GET", export["resultUrl"]))
    response.raise_for_status()
    exported = response.json()
    assert exported["metadata"]["projectName"] == name
    assert len(exported["assets"]["utterances"]) == len(
        email_app["assets"]["utterances"]
    )
    assert exported["assets"]["utterances"] == email_app["assets"]["utterances"]

    deleted = client.begin_delete_project(name).result(timeout=POLL_TIMEOUT)
    assert deleted["status"] == "succeeded"
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_project(name)
    assert "ProjectNotFound" in str(missing.value)


def test_global_lists(client: ConversationAuthoringClient) -> None:
    languages = list(client.list_supported_languages(project_kind="Conversation"))
    assert {"languageName": "English", "languageCode": "en"} in languages
    prebuilts = list(
        client.list_supported_prebuilt_entities(language="en", multilingual=False)
    )
    assert prebuilts and all(p["category"] for p in prebuilts)
    versions = list(client.list_training_config_versions(project_kind="Conversation"))
    assert versions[0]["trainingConfigVersion"] == "2022-05-01"


def test_a_bad_key_raises_client_authentication_error(live_studio: LiveStudio) -> None:
    wrong = ConversationAuthoringClient(
        live_studio.url, AzureKeyCredential("osk_not-a-real-key")
    )
    with pytest.raises(ClientAuthenticationError):
        wrong.get_project("anything")
    with pytest.raises(ClientAuthenticationError):
        list(wrong.list_projects())


def test_unknown_project_raises_resource_not_found(
    client: ConversationAuthoringClient,
) -> None:
    with pytest.raises(ResourceNotFoundError) as exc:
        client.get_project("NoSuchProject")
    assert "NoSuchProject" in str(exc.value)
    with pytest.raises(ResourceNotFoundError):
        client.begin_delete_project("NoSuchProject")
    with pytest.raises(ResourceNotFoundError):
        client.get_import_project_job_status("NoSuchProject", "nope_1")


def test_a_bad_import_fails_naming_the_problem_and_keeps_the_project(
    client: ConversationAuthoringClient, email_app: dict[str, Any]
) -> None:
    name = unique("Keep")
    client.begin_import_project(name, email_app).result(timeout=POLL_TIMEOUT)
    before = client.get_project(name)
    bad = copy.deepcopy(email_app)
    bad["assets"]["utterances"][3]["text"] = "y" * 600
    with pytest.raises(HttpResponseError) as failed:
        client.begin_import_project(name, bad).result(timeout=POLL_TIMEOUT)
    # The poller ends on the failed job, whose errors name the offending utterance.
    assert failed.value.response is not None
    job = json.loads(failed.value.response.text())
    assert job["status"] == "failed"
    assert "utterances[3]" in json.dumps(job["errors"])
    assert "500" in json.dumps(job["errors"])
    status = client.get_import_project_job_status(name, job["jobId"])
    assert status["errors"] == job["errors"]
    assert (
        client.get_project(name)["lastModifiedDateTime"]
        == (before["lastModifiedDateTime"])
    )
    with pytest.raises(HttpResponseError) as refused:
        client.begin_import_project(name, {"assets": {"projectKind": "Nope"}})
    assert "projectKind" in str(refused.value)
    client.begin_delete_project(name).result(timeout=POLL_TIMEOUT)


def test_import_without_string_index_type_defaults_to_utf16(
    client: ConversationAuthoringClient, email_app: dict[str, Any]
) -> None:
    """Issue #13: Azure imports a document without ``stringIndexType`` (reading
    its offsets as ``Utf16CodeUnit``); the studio used to fail the job."""
    name = unique("NoIndexType")
    document = copy.deepcopy(email_app)
    document.pop("stringIndexType", None)
    document["metadata"]["projectName"] = name
    state = client.begin_import_project(name, document).result(timeout=POLL_TIMEOUT)
    assert state["status"] == "succeeded", state
    export = client.begin_export_project(
        name, string_index_type="Utf16CodeUnit", exported_project_format="Conversation"
    ).result(timeout=POLL_TIMEOUT)
    exported = client.send_request(HttpRequest("GET", export["resultUrl"])).json()
    assert exported["assets"]["utterances"] == email_app["assets"]["utterances"]
    client.begin_delete_project(name).result(timeout=POLL_TIMEOUT)
