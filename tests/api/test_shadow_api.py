"""``/api/v1/projects/{p}/deployments/{d}/shadow``: set, read (with agreement) and
clear a deployment's shadow model; bad input in Azure's error shape, changing
nothing; roles; Azure's deployment documents unchanged; the review queue's
``reason=shadow`` filter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from projects.models import Project
from runtime import keys
from runtime.registry import runtime, runtime_reset
from runtime.shadow import shadow_drain, shadow_reset
from studio.models import AuditEvent
from studio.services import apikey_create
from tests.api.test_runtime_api import ANALYZE, analyze_body
from tests.factories import IntentFactory, ProjectFactory
from tests.training.model_helpers import deploy_trained_model, make_trained_model
from tests.training.runtime_helpers import EMAIL_EXAMPLES
from tests.ui.conftest import make_projects, make_users
from training.models import Deployment, TrainedModel

pytestmark = pytest.mark.django_db

URL = "/api/v1/projects/Email/deployments/production/shadow"
TEXTS = [text for texts in EMAIL_EXAMPLES.values() for text in texts]
LABELS = [label for label, texts in EMAIL_EXAMPLES.items() for _ in texts]
FLIPPED = [{"SendEmail": "ReadEmail", "ReadEmail": "SendEmail"}[x] for x in LABELS]


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime_reset()
    shadow_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()
    yield
    runtime_reset()
    shadow_reset()


@pytest.fixture
def key() -> str:
    return apikey_create(name="bot")[1]


@pytest.fixture
def email() -> Project:
    project = ProjectFactory.create(name="Email", language="en")
    for name in EMAIL_EXAMPLES:
        IntentFactory.create(project=project, name=name)
    live = make_trained_model(project, "live", TEXTS, LABELS)
    make_trained_model(project, "flipped", TEXTS, FLIPPED)
    deploy_trained_model(live)
    return project


def call(key: str, method: str, url: str, body: Any = None, **query: Any) -> Any:
    client = Client()
    headers = {"Ocp-Apim-Subscription-Key": key}
    if method in ("get", "delete"):
        return getattr(client, method)(url, query, headers=headers)
    return getattr(client, method)(
        url,
        body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def test_set_read_and_clear(key: str, email: Project) -> None:
    answer = call(key, "get", URL)
    assert answer.status_code == 200
    assert answer.json()["shadow"] is None
    assert answer.json()["liveModelLabel"] == "live"

    answer = call(key, "put", URL, {"trainedModelLabel": "flipped"})
    assert answer.status_code == 200, answer.content
    shadow = answer.json()["shadow"]
    flipped = TrainedModel.objects.get(label="flipped")
    assert shadow["trainedModelLabel"] == "flipped"
    assert shadow["modelId"] == flipped.model_id
    assert shadow["last24Hours"] == {
        "compared": 0,
        "agreed": 0,
        "agreementRate": None,
        "confidenceGaps": 0,
        "dropped": 0,
        "failed": 0,
    }
    assert AuditEvent.objects.filter(action="deployment.shadow_set").count() == 1

    answer = call(key, "delete", URL)
    assert answer.status_code == 204
    assert call(key, "get", URL).json()["shadow"] is None
    assert AuditEvent.objects.filter(action="deployment.shadow_clear").count() == 1


def test_agreement_over_recent_traffic(key: str, email: Project) -> None:
    call(key, "put", URL, {"trainedModelLabel": "flipped"})
    for text in ("send an email to bob", "read my new emails", "check my email"):
        body = analyze_body(text, projectName="Email", deploymentName="production")
        assert call(key, "post", ANALYZE, body).status_code == 200
    assert shadow_drain() == 3
    recent = call(key, "get", URL).json()["shadow"]["last24Hours"]
    assert recent["compared"] == 3
    assert recent["agreed"] == 0 and recent["agreementRate"] == 0.0


def test_the_review_queue_filters_shadow_disagreements(
    key: str, email: Project
) -> None:
    call(key, "put", URL, {"trainedModelLabel": "flipped"})
    body = analyze_body(
        "send an email to bob",
        projectName="Email",
        deploymentName="production",
        isLoggingEnabled=True,
    )
    call(key, "post", ANALYZE, body)
    shadow_drain()
    call(key, "delete", URL)
    runtime().directory.invalidate()  # not wait for the next version check
    body["analysisInput"]["conversationItem"]["text"] = "read my new emails"
    call(key, "post", ANALYZE, body)
    review = "/api/v1/projects/Email/review"
    everything = call(key, "get", review).json()["value"]
    assert len(everything) == 2
    only = call(key, "get", review, reason="shadow").json()["value"]
    assert [item["text"] for item in only] == ["send an email to bob"]
    assert only[0]["shadow"] == {
        "topIntent": "ReadEmail",
        "confidenceScore": only[0]["shadow"]["confidenceScore"],
        "disagrees": True,
    }
    assert "shadow disagrees: live SendEmail, shadow ReadEmail" in only[0]["reasons"]
    bad = call(key, "get", review, reason="gossip")
    assert bad.status_code == 400 and error(bad)["target"] == "reason"


@pytest.mark.parametrize(
    ("body", "status", "target"),
    [
        ({"trainedModelLabel": "live"}, 400, "trainedModelLabel"),
        ({"trainedModelLabel": "nope"}, 404, "trainedModelLabel"),
        ({"trainedModelLabel": ""}, 400, "trainedModelLabel"),
        ({"trainedModelLabel": 7}, 400, "trainedModelLabel"),
        ({}, 400, None),
        ("[1]", 400, None),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    key: str, email: Project, body: Any, status: int, target: str | None
) -> None:
    answer = call(key, "put", URL, body)
    assert answer.status_code == status, answer.content
    if target:
        assert error(answer)["target"] == target
    assert not Deployment.objects.get().has_shadow
    assert not AuditEvent.objects.filter(action="deployment.shadow_set").exists()


def test_a_model_of_another_project_is_not_found(key: str, email: Project) -> None:
    other = ProjectFactory.create(name="Other")
    make_trained_model(other, "theirs", TEXTS, LABELS)
    answer = call(key, "put", URL, {"trainedModelLabel": "theirs"})
    assert answer.status_code == 404
    assert error(answer)["code"] == "NotFound"
    assert not Deployment.objects.get().has_shadow


def test_unknown_project_and_deployment(key: str, email: Project) -> None:
    missing = call(key, "get", "/api/v1/projects/Nope/deployments/production/shadow")
    assert missing.status_code == 404
    assert error(missing)["code"] == "ProjectNotFound"
    answer = call(
        key,
        "put",
        "/api/v1/projects/Email/deployments/staging/shadow",
        {"trainedModelLabel": "flipped"},
    )
    assert answer.status_code == 404 and error(answer)["target"] == "deploymentName"


def test_roles_viewers_read_admins_change() -> None:
    projects = make_projects()
    users = make_users(projects)
    live = make_trained_model(projects.conv, "live", TEXTS, LABELS)
    make_trained_model(projects.conv, "other", TEXTS, FLIPPED)
    deploy_trained_model(live)
    url = "/api/v1/projects/conv/deployments/production/shadow"
    body = {"trainedModelLabel": "other"}

    def key_of(role: str) -> str:
        return apikey_create(name=role, created_by=users.get(role))[1]

    viewer, analyst, admin = key_of("viewer"), key_of("analyst"), key_of("admin")
    assert call(viewer, "get", url).status_code == 200
    assert call(viewer, "put", url, body).status_code == 403
    assert call(analyst, "put", url, body).status_code == 403
    assert call(analyst, "delete", url).status_code == 403
    outsider = key_of("outsider")
    assert call(outsider, "get", url).status_code == 404
    assert call(admin, "put", url, body).status_code == 200
    assert call(admin, "delete", url).status_code == 204


def test_azure_deployment_documents_are_unchanged(key: str, email: Project) -> None:
    call(key, "put", URL, {"trainedModelLabel": "flipped"})
    azure = Client().get(
        "/language/authoring/analyze-conversations/projects/Email/deployments/"
        "production?api-version=2023-04-01",
        headers={"Ocp-Apim-Subscription-Key": key},
    )
    assert azure.status_code == 200
    assert set(azure.json()) == {
        "deploymentName",
        "modelId",
        "lastTrainedDateTime",
        "lastDeployedDateTime",
        "deploymentExpirationDate",
        "modelTrainingConfigVersion",
    }
    assert azure.json()["modelId"] == Deployment.objects.get().model_id
