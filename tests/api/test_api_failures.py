"""Server-side failures answer in Azure's error shape, never Django's HTML page."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from projects.selectors import authoring as selectors
from studio.services import apikey_create

pytestmark = pytest.mark.django_db

URL = (
    "/language/authoring/analyze-conversations/projects/Anything?api-version=2023-04-01"
)


def get_with_failing_selector(
    client: Client, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> Any:
    """GET a project while the project selector raises ``error``."""

    def failing(**kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(selectors, "project_get", failing)
    key = apikey_create(name="tests")[1]
    return client.get(URL, headers={"Ocp-Apim-Subscription-Key": key})


def test_a_database_failure_is_a_json_503_with_retry_after(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = get_with_failing_selector(
        client,
        monkeypatch,
        OperationalError("server closed the connection unexpectedly"),
    )
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "ServiceUnavailable"


def test_an_unexpected_exception_is_a_json_500_and_is_logged(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    response = get_with_failing_selector(client, monkeypatch, RuntimeError("a bug"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = response.json()["error"]
    assert body["code"] == "InternalServerError"
    assert "a bug" not in body["message"]  # internals stay in the log
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)
