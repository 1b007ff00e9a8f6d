"""Training, trained models, evaluation and snapshots through the official
``azure-ai-language-conversations==1.1.0`` authoring client, unchanged, against a live
studio (gunicorn + Celery worker + PostgreSQL + Redis)."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from azure.ai.language.conversations.authoring import ConversationAuthoringClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest

from tests.conftest import LiveStudio

pytestmark = pytest.mark.integration

POLL_TIMEOUT = 180
TRAIN = {"modelLabel": "m1", "trainingMode": "standard"}


@pytest.fixture(scope="module")
def client(live_studio: LiveStudio) -> ConversationAuthoringClient:
    return ConversationAuthoringClient(
        live_studio.url, AzureKeyCredential(live_studio.api_key)
    )


@pytest.fixture(scope="module")
def email_app(
    client: ConversationAuthoringClient, shared_data: Path
) -> tuple[str, dict[str, Any]]:
    """EmailAppDemo imported and trained as ``m1`` once for the module."""
    path = shared_data / "azure-language-samples" / "CLU" / "EmailAppDemo.json"
    document = dict(json.loads(path.read_text(encoding="utf-8")))
    name = f"EmailApp-{secrets.token_hex(4)}"
    state = client.begin_import_project(name, document).result(timeout=POLL_TIMEOUT)
    assert state["status"] == "succeeded", state
    job = client.begin_train(name, TRAIN).result(timeout=POLL_TIMEOUT)
    assert job["status"] == "succeeded", job
    return name, document


def test_train_result_models_and_jobs(
    client: ConversationAuthoringClient, email_app: tuple[str, dict[str, Any]]
) -> None:
    name, _ = email_app
    jobs = list(client.list_training_jobs(name))
    assert jobs[0]["result"]["modelLabel"] == "m1"
    assert jobs[0]["result"]["trainingStatus"]["status"] == "succeeded"
    status = client.get_training_job_status(name, jobs[0]["jobId"])
    assert status["result"]["evaluationStatus"]["percentComplete"] == 100
    models = list(client.list_trained_models(name))
    assert [m["label"] for m in models] == ["m1"]
    model = client.get_trained_model(name, "m1")
    assert model == models[0]
    assert model["hasSnapshot"] is True
    assert client.get_project(name)["lastTrainedDateTime"]


def test_evaluation_results_page_through_the_sdk(
    client: ConversationAuthoringClient, email_app: tuple[str, dict[str, Any]]
) -> None:
    name, document = email_app
    results = list(
        client.list_model_evaluation_results(
            name, "m1", string_index_type="Utf16CodeUnit"
        )
    )
    # More than one page (50 per page): the SDK followed nextLink.
    assert len(results) > 50
    texts = {u["text"]: u for u in document["assets"]["utterances"]}
    for result in results:
        source = texts[result["text"]]
        assert result["intentsResult"]["expectedIntent"] == source["intent"]
        assert result["entitiesResult"]["expectedEntities"] == [
            {k: e[k] for k in ("category", "offset", "length")}
            for e in source["entities"]
        ]
    summary = client.get_model_evaluation_summary(name, "m1")
    assert summary["evaluationOptions"]["kind"] == "percentage"
    assert summary["intentsEvaluation"]["microF1"] > 0.5
    assert summary["entitiesEvaluation"]["entities"]


def test_second_train_conflicts_and_cancel_is_fire_and_check(
    client: ConversationAuthoringClient, email_app: tuple[str, dict[str, Any]]
) -> None:
    name, _ = email_app
    client.begin_train(name, {**TRAIN, "modelLabel": "m2"}, polling=False)
    with pytest.raises(ResourceExistsError):
        client.begin_train(name, {**TRAIN, "modelLabel": "m3"}, polling=False)
    job_id = next(iter(client.list_training_jobs(name)))["jobId"]
    # If it finished first, cancelling a finished job is a 409.
    with contextlib.suppress(ResourceExistsError):
        client.begin_cancel_training_job(name, job_id, polling=False)
    deadline = time.monotonic() + POLL_TIMEOUT
    while True:
        status = client.get_training_job_status(name, job_id)["status"]
        if status in ("cancelled", "succeeded"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    models = {m["label"] for m in client.list_trained_models(name)}
    assert ("m2" in models) == (status == "succeeded")


def test_load_snapshot_export_by_label_and_delete(
    client: ConversationAuthoringClient,
    email_app: tuple[str, dict[str, Any]],
    live_studio: LiveStudio,
) -> None:
    name, document = email_app
    export = client.begin_export_project(
        name,
        string_index_type="Utf16CodeUnit",
        exported_project_format="Conversation",
        trained_model_label="m1",
    ).result(timeout=POLL_TIMEOUT)
    response = client.send_request(HttpRequest("GET", export["resultUrl"]))
    response.raise_for_status()
    snapshot = response.json()
    assert snapshot["assets"]["utterances"] == document["assets"]["utterances"]

    loaded = client.begin_load_snapshot(name, "m1").result(timeout=POLL_TIMEOUT)
    assert loaded["status"] == "succeeded", loaded

    assert client.delete_trained_model(name, "m1") is None
    with pytest.raises(ResourceNotFoundError):
        client.get_trained_model(name, "m1")
    with pytest.raises(HttpResponseError):
        next(
            iter(
                client.list_model_evaluation_results(
                    name, "m1", string_index_type="Utf16CodeUnit"
                )
            )
        )
