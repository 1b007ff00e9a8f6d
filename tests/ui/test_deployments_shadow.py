"""Deployments screen, shadow models: set (errors next to the field), the agreement
over recent traffic, a link to the disagreements in Review, promote (an ordinary
deploy) and remove; admins only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from projects.models import Project
from tests.training.model_helpers import make_trained_model
from tests.ui.conftest import HTMX, UiProjects
from tests.ui.training_helpers import TRAVEL, WEATHER, run_jobs
from training.models import Deployment, ShadowTally

pytestmark = pytest.mark.django_db

BASE = "/projects/conv/deployments/"
LABELS = ["Travel"] * len(TRAVEL) + ["Weather"] * len(WEATHER)


@pytest.fixture
def deployed(
    ui_projects: UiProjects,
    admin_client_ui: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Project:
    make_trained_model(ui_projects.conv, "m1", TRAVEL + WEATHER, LABELS)
    make_trained_model(ui_projects.conv, "m2", TRAVEL + WEATHER, LABELS)
    with run_jobs(django_capture_on_commit_callbacks):
        admin_client_ui.post(
            BASE + "deploy", {"deployment_name": "production", "model_label": "m1"}
        )
    return ui_projects.conv


def production(project: Project) -> Deployment:
    return Deployment.objects.get(project=project, name="production")


def test_admin_sets_sees_agreement_and_removes_a_shadow(
    admin_client_ui: Client, deployed: Project
) -> None:
    page = admin_client_ui.get(BASE).content.decode()
    assert 'id="shadow-form"' in page
    response = admin_client_ui.post(
        BASE + "shadow",
        {"shadow_deployment": "production", "shadow_model": "m2"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "m2 now shadows production" in html
    assert "No traffic compared in the last 24 hours" in html
    deployment = production(deployed)
    assert deployment.shadow_model_label == "m2"

    now = timezone.now()
    ShadowTally.objects.create(
        project=deployed,
        deployment_name="production",
        live_model_id=deployment.model_id,
        shadow_model_id=deployment.shadow_model_id,
        hour=now.replace(minute=0, second=0, microsecond=0),
        compared=40,
        agreed=37,
        confidence_gaps=2,
        dropped=1,
    )
    # Another pair (an earlier live model) does not count.
    ShadowTally.objects.create(
        project=deployed,
        deployment_name="production",
        live_model_id="old",
        shadow_model_id=deployment.shadow_model_id,
        hour=now - timedelta(hours=1),
        compared=100,
    )
    page = admin_client_ui.get(BASE).content.decode()
    cell = page.split('id="shadow-production"')[1].split("</td>")[0]
    assert "<strong>92.5%</strong> agree over the last 24 hours (40 queries)" in cell
    assert "2 same intent, very different confidence" in cell
    assert "1 not compared (busy)" in cell
    assert "?deployment=production&amp;reason=shadow" in cell
    assert "Promote" in cell

    removed = admin_client_ui.post(BASE + "production/shadow/clear", **HTMX)
    assert removed.status_code == 200
    assert "m2 no longer shadows production" in removed.content.decode()
    assert not production(deployed).has_shadow


def test_promote_is_an_ordinary_deploy_and_clears_the_shadow(
    admin_client_ui: Client,
    deployed: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    admin_client_ui.post(
        BASE + "shadow", {"shadow_deployment": "production", "shadow_model": "m2"}
    )
    page = admin_client_ui.get(BASE).content.decode()
    cell = page.split('id="shadow-production"')[1].split("</td>")[0]
    assert 'name="model_label" value="m2"' in cell
    with run_jobs(django_capture_on_commit_callbacks):
        admin_client_ui.post(
            BASE + "deploy",
            {"deployment_name": "production", "model_label": "m2"},
            **HTMX,
        )
    deployment = production(deployed)
    assert deployment.model_label == "m2" and not deployment.has_shadow


@pytest.mark.parametrize(
    ("data", "error_id", "message"),
    [
        (
            {"shadow_deployment": "production", "shadow_model": "m1"},
            "shadow-model-error",
            "already serves",
        ),
        (
            {"shadow_deployment": "production", "shadow_model": ""},
            "shadow-model-error",
            "Choose the trained model",
        ),
        (
            {"shadow_deployment": "production", "shadow_model": "nope"},
            "shadow-model-error",
            "was not found",
        ),
        (
            {"shadow_deployment": "staging", "shadow_model": "m2"},
            "shadow-deployment-error",
            "was not found",
        ),
    ],
)
def test_bad_input_is_shown_next_to_the_field(
    admin_client_ui: Client,
    deployed: Project,
    data: dict[str, str],
    error_id: str,
    message: str,
) -> None:
    response = admin_client_ui.post(BASE + "shadow", data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="{error_id}"' in html
    assert message in html.split(f'id="{error_id}"')[1].split("</p>")[0]
    assert 'aria-invalid="true"' in html
    assert not production(deployed).has_shadow


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_change_shadows(
    client_for: Callable[[str], Client], deployed: Project, role: str
) -> None:
    client = client_for(role)
    page = client.get(BASE).content.decode()
    assert 'id="shadow-form"' not in page
    data = {"shadow_deployment": "production", "shadow_model": "m2"}
    assert client.post(BASE + "shadow", data).status_code == 403
    assert client.post(BASE + "production/shadow/clear").status_code == 403
    assert not production(deployed).has_shadow


def test_the_review_page_filters_by_shadow_disagreement(
    admin_client_ui: Client, deployed: Project
) -> None:
    page = admin_client_ui.get("/projects/conv/review/?reason=shadow")
    assert page.status_code == 200
    assert 'value="shadow" selected' in page.content.decode()
    bad = admin_client_ui.get("/projects/conv/review/?reason=gossip")
    assert bad.status_code == 400
    assert "Choose a reason from the list." in bad.content.decode()
