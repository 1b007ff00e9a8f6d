"""Deployment resources between two live studios (gunicorn + Celery + PostgreSQL +
Redis each): studio A copies a deployment to studio B through B's REST API, and B
then serves the same model; a wrong key and a B that is down fail clearly and leave
A's deployment serving."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveStudio, live_studio_running, stop_process_group

pytestmark = pytest.mark.integration

API = "/language/authoring/analyze-conversations"
NAME = "ResourcesLive"
TRAVEL = [
    "book a flight to paris",
    "fly me to london tomorrow",
    "i need a plane ticket to rome",
    "find flights to berlin",
    "reserve a seat on the next plane",
    "get me a ticket to madrid",
]
WEATHER = [
    "what's the weather like",
    "will it rain today",
    "is it sunny outside",
    "how cold is it tonight",
    "weather forecast for tomorrow",
    "do i need an umbrella",
]
DOCUMENT = {
    "projectFileVersion": "2023-04-01",
    "stringIndexType": "Utf16CodeUnit",
    "metadata": {
        "projectKind": "Conversation",
        "projectName": NAME,
        "language": "en-us",
        "settings": {"confidenceThreshold": 0},
    },
    "assets": {
        "projectKind": "Conversation",
        "intents": [{"category": "Travel"}, {"category": "Weather"}],
        "entities": [],
        "utterances": [
            {"text": t, "intent": "Travel", "language": "en-us"} for t in TRAVEL
        ]
        + [{"text": t, "intent": "Weather", "language": "en-us"} for t in WEATHER],
    },
}
TRAIN = {
    "modelLabel": "m1",
    "trainingMode": "standard",
    "evaluationOptions": {
        "kind": "percentage",
        "trainingSplitPercentage": 80,
        "testingSplitPercentage": 20,
    },
}


def call(
    studio: LiveStudio,
    method: str,
    path: str,
    body: Any = None,
    *,
    version: str = "2025-11-01",
) -> tuple[int, dict[str, str], Any]:
    sep = "&" if "?" in path else "?"
    url = (
        path
        if path.startswith("http")
        else f"{studio.url}{path}{sep}api-version={version}"
    )
    request = urllib.request.Request(  # noqa: S310 - the live studio's URL
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Ocp-Apim-Subscription-Key": studio.api_key,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def job(studio: LiveStudio, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """Start an operation and poll its job to the end."""
    status, headers, answer = call(studio, method, API + path, body)
    assert status == 202, answer
    location = headers["Operation-Location"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        _status, _headers, state = call(studio, "GET", location)
        if state["status"] in ("succeeded", "failed", "cancelled"):
            return dict(state)
        time.sleep(0.5)
    raise AssertionError(f"{path}: the job did not finish\n{studio.describe_logs()}")


def register(studio: LiveStudio, resource_id: str, url: str, key: str) -> None:
    done = studio.manage(
        "shell",
        "-c",
        "from training.services.resources import resource_create\n"
        f"resource_create(azure_resource_id={resource_id!r}, region='westeurope', "
        f"endpoint={url!r}, key={key!r})\n",
    )
    assert done.returncode == 0, done.stderr


def resource_state(studio: LiveStudio, resource_id: str) -> dict[str, Any]:
    status, _headers, answer = call(studio, "GET", f"{API}/projects/{NAME}/resources")
    assert status == 200, answer
    return next(r for r in answer["value"] if r["azureResourceId"] == resource_id)


def settled(studio: LiveStudio, resource_id: str) -> dict[str, Any]:
    """The resource's state once no copy runs."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = resource_state(studio, resource_id)
        if state["syncState"] != "syncing":
            return state
        time.sleep(1)
    raise AssertionError(f"the copy did not end\n{studio.describe_logs()}")


def predict(studio: LiveStudio, text: str) -> dict[str, Any]:
    status, _headers, answer = call(
        studio,
        "POST",
        "/language/:analyze-conversations",
        {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {"id": "1", "participantId": "u", "text": text}
            },
            "parameters": {"projectName": NAME, "deploymentName": "production"},
        },
        version="2023-04-01",
    )
    assert status == 200, answer
    return dict(answer["result"]["prediction"])


@pytest.fixture(scope="module")
def studio_b(live_studio: LiveStudio) -> Iterator[LiveStudio]:
    with live_studio_running("studio_it_b") as second:
        yield second


def test_a_deployment_is_copied_to_a_second_studio_and_serves_the_same_model(
    live_studio: LiveStudio, studio_b: LiveStudio
) -> None:
    a, b = live_studio, studio_b
    assert (
        job(a, "POST", f"/projects/{NAME}/:import", DOCUMENT)["status"] == "succeeded"
    )
    assert job(a, "POST", f"/projects/{NAME}/:train", TRAIN)["status"] == "succeeded"
    register(a, "studio-b", b.url, b.api_key)
    register(a, "studio-b-wrong-key", b.url, "not-the-key")

    refused = job(
        a,
        "POST",
        f"/projects/{NAME}/resources/:assign",
        {"projectResources": [{"azureResourceId": "studio-b-wrong-key"}]},
    )
    assert refused["status"] == "failed"
    assert "refused the key (HTTP 401)" in refused["errors"][0]["message"]

    assigned = job(
        a,
        "POST",
        f"/projects/{NAME}/resources/:assign",
        {"projectResources": [{"azureResourceId": "studio-b", "region": "westeurope"}]},
    )
    assert assigned["status"] == "succeeded", assigned
    deployed = job(
        a,
        "PUT",
        f"/projects/{NAME}/deployments/production",
        {"trainedModelLabel": "m1", "azureResourceIds": ["studio-b"]},
    )
    assert deployed["status"] == "succeeded", deployed

    state = settled(a, "studio-b")
    assert state["syncState"] == "inSync", state
    status, _h, there = call(b, "GET", f"{API}/projects/{NAME}/deployments/production")
    assert status == 200, there
    for text in ("fly me to paris", "is it going to rain", "hello there"):
        here, remote = predict(a, text), predict(b, text)
        assert remote["topIntent"] == here["topIntent"]
        assert remote["intents"][0]["confidenceScore"] == pytest.approx(
            here["intents"][0]["confidenceScore"], abs=1e-6
        )
    _s, _h, local = call(a, "GET", f"{API}/projects/{NAME}/deployments/production")
    assert local["assignedResources"] == [
        {"azureResourceId": "studio-b", "region": "westeurope"}
    ]

    # B goes down: a copy fails clearly, A keeps serving, nothing half-applied here.
    assert b.web is not None
    stop_process_group(b.web, timeout=20)
    try:
        job(
            a,
            "PUT",
            f"/projects/{NAME}/deployments/production",
            {"trainedModelLabel": "m1", "azureResourceIds": ["studio-b"]},
        )
        state = settled(a, "studio-b")
        assert state["syncState"] == "failed"
        assert "could not be reached" in state["syncMessage"]
        assert predict(a, "fly me to paris")["topIntent"] == "Travel"
    finally:
        b.start_web()
        b.wait_until_healthy()

    removed = job(
        a,
        "POST",
        f"/projects/{NAME}/deployments/production/:delete-from-resources",
        {"assignedResourceIds": ["studio-b"]},
    )
    assert removed["status"] == "succeeded", removed
    status, _h, _gone = call(b, "GET", f"{API}/projects/{NAME}/deployments/production")
    assert status == 404
    assert predict(a, "fly me to paris")["topIntent"] == "Travel"
