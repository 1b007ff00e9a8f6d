"""Settings screen: the sentence encoder of advanced training (Conversation and
Orchestration projects), offered by the project's language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from projects.models import Project
from tests.training.onnx_encoder import tiny_encoder_registered
from tests.ui.conftest import HTMX, UiProjects
from training.engine.embeddings import DEFAULT_ENCODER

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Path]:
    with tiny_encoder_registered(tmp_path / "tiny") as directory:
        yield directory


SETTINGS = "/projects/conv/settings/"


def test_studio_settings_offer_the_encoders_of_the_projects_language(
    admin_client_ui: Client, ui_projects: UiProjects, tiny: Path
) -> None:
    html = admin_client_ui.get(SETTINGS).content.decode()
    assert 'name="encoder"' in html
    assert "Default for the project&#x27;s language (tiny)" in html
    assert f'value="{DEFAULT_ENCODER}"' in html and 'value="tiny"' in html
    response = admin_client_ui.post(
        SETTINGS + "general", {"language": "en-us", "encoder": DEFAULT_ENCODER}
    )
    assert response.status_code == 302
    assert Project.objects.get(name="conv").encoder == DEFAULT_ENCODER
    # A German project is not offered the English-only encoder...
    html = admin_client_ui.post(
        SETTINGS + "general", {"language": "de", "encoder": "tiny"}, **HTMX
    ).content.decode()
    assert 'id="id_encoder_error"' in html
    assert Project.objects.get(name="conv").language == "en-us"
    # ...and the train page says which encoder advanced training uses.
    train_html = admin_client_ui.get("/projects/conv/train/").content.decode()
    assert f"Advanced (sentence embeddings: {DEFAULT_ENCODER})" in train_html


def test_kb_settings_have_no_encoder(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    html = admin_client_ui.get("/projects/kb/settings/").content.decode()
    assert 'name="encoder"' not in html
