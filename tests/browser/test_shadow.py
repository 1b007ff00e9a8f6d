"""The Deployments screen's shadow models in a real browser: an admin sets one with
the form, sees it in the deployment's row (agreement, Review link, Promote and
Remove), axe finds no serious violation, and removes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projects.models import Project
from tests.browser.conftest import StudioPage
from tests.browser.test_prelabel import violations
from tests.factories import ProjectFactory
from tests.training.model_helpers import make_trained_model
from tests.ui.training_helpers import TRAVEL, WEATHER
from training.models import Deployment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def travel(browser_user: Callable[..., Any]) -> Project:
    project = ProjectFactory.create(name="Travel")
    labels = ["Book"] * len(TRAVEL) + ["Weather"] * len(WEATHER)
    live = make_trained_model(project, "m1", TRAVEL + WEATHER, labels)
    make_trained_model(project, "m2", TRAVEL + WEATHER, labels)
    Deployment.objects.create(
        project=project,
        name="production",
        model_label=live.label,
        model_id=live.model_id,
        artifact_name=live.artifact_name,
        manifest=live.manifest,
        model_trained_at=live.trained_at,
        deployed_at=live.trained_at,
        expires_on=live.expires_on,
    )
    browser_user("ada", role="admin", project=project)
    return project


def test_set_see_and_remove_a_shadow(browser_page: StudioPage, travel: Project) -> None:
    page = browser_page.page
    browser_page.sign_in("ada")
    browser_page.goto("/projects/Travel/deployments/")
    page.get_by_label("Shadow model").select_option("m2")
    page.get_by_role("button", name="Set shadow").click()
    cell = page.locator("#shadow-production")
    cell.get_by_text("m2 ").first.wait_for()
    assert "No traffic compared in the last 24 hours" in cell.inner_text()
    assert cell.get_by_role("link", name="Review disagreements").is_visible()
    assert not violations(page)
    browser_page.screenshot("shadow")
    assert Deployment.objects.get().shadow_model_label == "m2"
    cell.get_by_role("button", name="Remove shadow of production").click()
    page.get_by_text("m2 no longer shadows production.").wait_for()
    assert not Deployment.objects.get().has_shadow
