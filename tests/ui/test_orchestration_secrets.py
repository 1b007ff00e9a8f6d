"""The studio's orchestration screens and HTTP target secrets: the form shows the
mask, blank or mask keeps the stored value, the download masks, and only project
admins create or change LUIS/HTTP targets."""

from __future__ import annotations

import pytest
from django.test import Client

from projects import services
from projects.models import Intent
from studio.crypto import secret_decrypt
from tests.ui.conftest import HTMX, UiProjects

pytestmark = pytest.mark.django_db

BASE = "/projects/orch/orchestration/"
KEY = "full-access-resource-key-0123456789"
TOKEN = "very-secret-token"


@pytest.fixture
def weather(ui_projects: UiProjects) -> Intent:
    return services.intent_create(
        project=ui_projects.orch,
        data={
            "category": "Weather",
            "orchestration": {
                "targetProjectKind": "Http",
                "httpOrchestration": {
                    "url": "https://bots.example.com/p",
                    "headers": {"X-Token": TOKEN},
                    "key": KEY,
                },
            },
        },
    )


def test_the_target_form_shows_masks_only(
    admin_client_ui: Client, weather: Intent
) -> None:
    for kwargs in ({}, HTMX):
        html = admin_client_ui.get(
            f"{BASE}intents/{weather.pk}/target", **kwargs
        ).content.decode()
        assert KEY not in html and TOKEN not in html
        assert "X-Token: ***" in html
        assert 'name="http_key" value="***"' in html


def test_saving_with_the_mask_or_a_blank_key_keeps_the_secrets(
    admin_client_ui: Client, weather: Intent
) -> None:
    url = f"{BASE}intents/{weather.pk}/target"
    for key in ("***", ""):
        response = admin_client_ui.post(
            url,
            {
                "target_kind": "Http",
                "http_url": "https://bots.example.com/other-path",
                "http_headers": "X-Token: ***\nX-Team: support",
                "http_key": key,
            },
        )
        assert response.status_code == 302, response.content.decode()
        weather.refresh_from_db()
        assert secret_decrypt(weather.http_key) == KEY
        assert secret_decrypt(weather.http_headers["X-Token"]) == TOKEN
        assert secret_decrypt(weather.http_headers["X-Team"]) == "support"
    response = admin_client_ui.post(
        url,
        {
            "target_kind": "Http",
            "http_url": "https://bots.example.com/p",
            "http_headers": "",
            "http_key": "",
            "http_key_clear": "on",
        },
    )
    assert response.status_code == 302
    weather.refresh_from_db()
    assert (weather.http_key, weather.http_headers) == ("", {})


def test_a_failed_save_does_not_echo_the_typed_key(
    admin_client_ui: Client, weather: Intent
) -> None:
    response = admin_client_ui.post(
        f"{BASE}intents/{weather.pk}/target",
        {"target_kind": "Http", "http_url": "not a url", "http_key": "typed-key-42"},
        **HTMX,
    )
    assert response.status_code == 422
    assert "typed-key-42" not in response.content.decode()


def test_the_studio_download_masks_the_secrets(
    viewer_client: Client, weather: Intent
) -> None:
    response = viewer_client.get("/projects/orch/export")
    assert response.status_code == 200
    body = response.content.decode()
    assert KEY not in body and TOKEN not in body
    assert '"key": "***"' in body


def test_an_analyst_cannot_add_or_change_external_targets(
    analyst_client: Client, weather: Intent, ui_projects: UiProjects
) -> None:
    page = analyst_client.get(BASE).content.decode()
    assert 'value="Http"' not in page and 'name="http_key"' not in page
    assert "Only project admins" in page
    response = analyst_client.post(
        BASE + "intents/add",
        {"category": "Steal", "target_kind": "Http", "http_url": "https://e.test/x"},
        **HTMX,
    )
    assert response.status_code == 422
    assert "Only project admins" in response.content.decode()
    assert not ui_projects.orch.intents.filter(name="Steal").exists()
    for data in (
        {"target_kind": "Http", "http_url": "https://evil.example.net/collect"},
        {"target_kind": ""},
    ):
        response = analyst_client.post(
            f"{BASE}intents/{weather.pk}/target", data, **HTMX
        )
        assert response.status_code == 422, data
    response = analyst_client.post(f"{BASE}intents/{weather.pk}/unlink", **HTMX)
    assert response.status_code == 403
    weather.refresh_from_db()
    assert weather.http_url == "https://bots.example.com/p"
    assert secret_decrypt(weather.http_key) == KEY
    # A routing intent stays the analyst's to add.
    response = analyst_client.post(
        BASE + "intents/add", {"category": "Chitchat", "target_kind": ""}, **HTMX
    )
    assert response.status_code == 200


def test_an_admin_adds_an_external_target(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    response = admin_client_ui.post(
        BASE + "intents/add",
        {
            "category": "Bot",
            "target_kind": "Http",
            "http_url": "https://bots.example.com/q",
            "http_headers": "X-Api: 1",
            "http_key": "k",
        },
    )
    assert response.status_code == 302
    bot = ui_projects.orch.intents.get(name="Bot")
    assert secret_decrypt(bot.http_key) == "k"
    response = admin_client_ui.post(
        BASE + "intents/add",
        {"category": "Local", "target_kind": "Http", "http_url": "http://127.1/"},
        **HTMX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="orch-add-url-error"' in html and "private address" in html
