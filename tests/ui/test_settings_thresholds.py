"""Settings screen: the per-intent thresholds option (Conversation and
Orchestration projects), off by default, audited like any setting."""

from __future__ import annotations

import pytest
from django.test import Client

from projects.models import Project
from studio.models import AuditEvent
from tests.ui.conftest import HTMX, UiProjects

pytestmark = pytest.mark.django_db

SETTINGS = "/projects/conv/settings/"


def test_the_per_intent_thresholds_option_is_off_until_an_admin_turns_it_on(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    html = admin_client_ui.get(SETTINGS).content.decode()
    field = html.split('data-field="per_intent_thresholds"')[1].split("<button")[0]
    assert 'type="checkbox"' in field and "checked" not in field
    assert "intents the model is always sure of get a stricter one" in html
    response = admin_client_ui.post(
        SETTINGS + "general",
        {
            "language": "en-us",
            "confidence_threshold": "0.5",
            "per_intent_thresholds": "on",
        },
    )
    assert response.status_code == 302
    assert Project.objects.get(name="conv").per_intent_thresholds is True
    event = AuditEvent.objects.get(action="project.settings")
    assert event.after is not None
    assert event.after["perIntentThresholds"] is True
    html = admin_client_ui.get(SETTINGS).content.decode()
    field = html.split('data-field="per_intent_thresholds"')[1].split("<button")[0]
    assert "checked" in field
    # Unticked, it goes off again (an htmx save redraws the section).
    html = admin_client_ui.post(
        SETTINGS + "general", {"language": "en-us"}, **HTMX
    ).content.decode()
    assert "Settings saved." in html
    assert Project.objects.get(name="conv").per_intent_thresholds is False


def test_viewers_see_the_option_and_knowledge_bases_have_none(
    viewer_client: Client, admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    html = viewer_client.get(SETTINGS).content.decode()
    assert "Per-intent thresholds</dt><dd>Off: one threshold for all intents" in html
    kb = admin_client_ui.get("/projects/kb/settings/").content.decode()
    assert "per_intent_thresholds" not in kb
