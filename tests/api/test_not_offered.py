"""Azure operations the studio does not offer answer 404 in Azure's error shape
naming the feature, after authentication; never a misleading neighbour's answer.
(Deployment resources are offered: tests/api/test_deployment_resources.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from studio.services import apikey_create

pytestmark = pytest.mark.django_db

A = "/language/authoring/analyze-conversations"
V = "?api-version=2025-11-15-preview"

CONVERSATION_JOBS = [
    ("post", "/language/analyze-conversations/jobs"),
    ("get", "/language/analyze-conversations/jobs/42"),
    ("post", "/language/analyze-conversations/jobs/42:cancel"),
]


@pytest.fixture
def client(db: None) -> Client:
    _key, raw = apikey_create(name="resource key", created_by=None)
    return Client(headers={"Ocp-Apim-Subscription-Key": raw})


def call(client: Client, method: str, path: str) -> Any:
    if method == "post":
        return client.post(path + V, data="{}", content_type="application/json")
    return client.get(path + V)


@pytest.mark.parametrize(("method", "path"), CONVERSATION_JOBS)
def test_conversation_pii_and_summarization_jobs_are_named_as_not_offered(
    client: Client, method: str, path: str
) -> None:
    response = call(client, method, path)

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NotFound"
    assert "PII redaction and summarization jobs" in error["message"]
    assert "not offered" in error["message"]


@pytest.mark.parametrize(("method", "path"), CONVERSATION_JOBS[:1])
def test_not_offered_routes_still_authenticate_first(method: str, path: str) -> None:
    response = call(Client(), method, path)

    assert response.status_code == 401


def test_a_project_named_global_is_still_refused_so_the_route_shadows_nothing(
    client: Client,
) -> None:
    response = client.patch(
        f"{A}/projects/global{V}",
        data='{"projectName": "global", "projectKind": "Conversation", '
        '"language": "en-us"}',
        content_type="application/merge-patch+json",
    )

    assert response.status_code == 400
