"""API building blocks: key auth, api-version, Azure error bodies, paging, limits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from studio.models import ApiKey
from studio.services import apikey_authenticate, apikey_create, apikey_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.probe_urls")]

V = "api-version=2023-04-01"


@pytest.fixture
def key() -> str:
    return apikey_create(name="tests")[1]


def post(
    client: Client, key: str | None, body: bytes | str, path: str = "/language/echo"
) -> Any:
    headers = {} if key is None else {"Ocp-Apim-Subscription-Key": key}
    return client.post(
        f"{path}?{V}", body, content_type="application/json", headers=headers
    )


def test_missing_key_gets_azure_401(client: Client) -> None:
    response = post(client, None, "{}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"
    assert "missing subscription key" in response.json()["error"]["message"]


def test_wrong_and_revoked_keys_get_invalid_key_401(client: Client) -> None:
    assert (
        post(client, "osk_nope", "{}")
        .json()["error"]["message"]
        .startswith("Access denied due to invalid subscription key")
    )
    api_key, raw = apikey_create(name="old")
    assert post(client, raw, '{"a": 1}').status_code == 200
    apikey_revoke(api_key=api_key)
    assert post(client, raw, '{"a": 1}').status_code == 401


def test_valid_key_round_trips_json_and_stamps_request_id(
    client: Client, key: str
) -> None:
    response = post(client, key, '{"a": 1}')
    assert response.status_code == 200
    assert response.json() == {"echo": {"a": 1}}
    assert response["apim-request-id"]


def test_missing_and_unknown_api_versions_name_the_supported_ones(
    client: Client, key: str
) -> None:
    headers = {"Ocp-Apim-Subscription-Key": key}
    missing = client.get("/language/echo", headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "InvalidArgument"
    assert "2023-04-01" in missing.json()["error"]["message"]
    unknown = client.get("/language/echo?api-version=1999-01-01", headers=headers)
    assert unknown.status_code == 400
    assert "1999-01-01" in unknown.json()["error"]["message"]
    # Question answering has its own list: 2021-10-01 is valid there only.
    assert (
        client.get(
            "/language/qna-echo?api-version=2021-10-01", headers=headers
        ).status_code
        == 200
    )
    assert (
        client.get("/language/echo?api-version=2021-10-01", headers=headers).status_code
        == 400
    )


def test_malformed_and_empty_json_get_invalid_request(client: Client, key: str) -> None:
    bad = post(client, key, "{not json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidRequest"
    assert bad.json()["error"]["innererror"]["code"] == "InvalidRequestBodyFormat"
    empty = post(client, key, "")
    assert empty.status_code == 400
    assert empty.json()["error"]["innererror"]["code"] == "EmptyRequest"
    not_object = post(client, key, "[1, 2]")
    assert not_object.status_code == 400


def test_service_errors_keep_their_status_and_code(client: Client, key: str) -> None:
    response = client.delete(
        f"/language/echo?{V}", headers={"Ocp-Apim-Subscription-Key": key}
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "Conflict", "message": "Busy.", "target": "project"}
    }
    assert response["x-ms-error-code"] == "Conflict"


def test_oversized_body_is_refused_before_it_is_read(client: Client, key: str) -> None:
    body = json.dumps({"blob": "x" * (10 * 1024 * 1024)})
    response = post(client, key, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "InvalidRequest"


def test_paging_follows_next_links_to_every_item(client: Client, key: str) -> None:
    headers = {"Ocp-Apim-Subscription-Key": key}
    seen: list[int] = []
    url: str | None = f"/language/echo?{V}"
    while url:
        body = client.get(url, headers=headers).json()
        seen += [item["n"] for item in body["value"]]
        url = body.get("nextLink")
        if url:
            assert url.startswith("http://testserver/language/echo?")
            assert "api-version=2023-04-01" in url
    assert seen == list(range(7))


def test_top_and_skip_bound_the_items(client: Client, key: str) -> None:
    headers = {"Ocp-Apim-Subscription-Key": key}
    body = client.get(f"/language/echo?{V}&top=2&skip=1", headers=headers).json()
    # The last page has no nextLink at all: Azure's spec types it as a string.
    assert body == {"value": [{"n": 1}, {"n": 2}]}
    bad = client.get(f"/language/echo?{V}&top=-1", headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["target"] == "top"


def test_keys_are_stored_hashed_and_last_use_is_recorded() -> None:
    api_key, raw = apikey_create(name="bot")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw not in (stored.digest, stored.prefix)
    assert raw.startswith(stored.prefix)
    assert stored.last_used_at is None
    assert apikey_authenticate(raw_key=raw) == stored
    stored.refresh_from_db()
    assert stored.last_used_at is not None
    assert timezone.now() - stored.last_used_at < timedelta(seconds=5)


def test_createapikey_prints_only_the_key_on_its_last_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command("createapikey", "ci")
    lines = capsys.readouterr().out.strip().splitlines()
    assert apikey_authenticate(raw_key=lines[-1]) is not None
    assert ApiKey.objects.get().name == "ci"


def test_last_page_omits_next_link_instead_of_sending_null(
    client: Client, key: str
) -> None:
    headers = {"Ocp-Apim-Subscription-Key": key}
    first = client.get(f"/language/echo?{V}", headers=headers).json()
    assert isinstance(first["nextLink"], str)
    last = client.get(f"/language/echo?{V}&skip=6", headers=headers).json()
    assert last == {"value": [{"n": 6}]}
    assert "nextLink" not in last
