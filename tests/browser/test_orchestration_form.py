"""The orchestration screen's target forms in a real browser: only the fields of
the chosen target kind show, and a linked project's deployment is picked from that
project's deployments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from projects.models import Intent, ProjectMembership
from tests.browser.conftest import StudioPage
from tests.factories import (
    KbProjectFactory,
    OrchestrationProjectFactory,
    ProjectFactory,
)
from training.models import Deployment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_target_fields_follow_the_kind_and_deployments_the_project(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    orch = OrchestrationProjectFactory.create(name="Router")
    conv = ProjectFactory.create(name="Travel")
    kb = KbProjectFactory.create(name="Faq")
    user = browser_user("ada")
    for project in (orch, conv, kb):
        ProjectMembership.objects.create(project=project, user=user, role="admin")
    now = timezone.now()
    for name in ("prod", "beta"):
        Deployment.objects.create(
            project=conv,
            name=name,
            model_id="m1",
            artifact_name="a",
            model_trained_at=now,
            deployed_at=now,
            expires_on=dt.date(2099, 1, 1),
        )
    chitchat = Intent.objects.create(project=orch, name="Chitchat")
    page = browser_page.page
    browser_page.sign_in("ada")
    browser_page.goto("/projects/Router/orchestration/")

    add = page.locator("#orch-intent-add")
    http = add.get_by_role("group", name="External HTTP endpoint")
    luis = add.get_by_role("group", name="LUIS app")
    assert not http.is_visible() and not luis.is_visible()  # not linked
    add.get_by_label("Target").select_option("Http")
    assert http.is_visible() and not luis.is_visible()
    add.get_by_label("Target").select_option("Luis")
    assert luis.is_visible() and not http.is_visible()

    # Link Chitchat to Travel: its deployments are offered, not a free text box.
    page.get_by_role("link", name="Link… Chitchat").click()
    row = page.locator(f"#orch-intent-{chitchat.pk}")
    row.get_by_role("button", name="Save target").wait_for()
    row.get_by_label("Target").select_option("Conversation")
    row.get_by_label("Project").select_option("Travel")
    deployment = row.get_by_role("combobox", name="Deployment")
    assert deployment.count() == 1
    assert deployment.locator("option").all_inner_texts() == ["beta", "prod"]
    deployment.select_option("prod")
    assert not row.get_by_role("group", name="External HTTP endpoint").is_visible()
    # Faq has no deployment yet: free text.
    row.get_by_label("Target").select_option("QuestionAnswering")
    row.get_by_label("Project").select_option("Faq")
    assert row.get_by_role("textbox", name="Deployment").is_visible()
    row.get_by_label("Project").select_option("Travel")
    row.get_by_label("Target").select_option("Conversation")
    row.get_by_role("combobox", name="Deployment").select_option("beta")
    row.get_by_role("button", name="Save target").click()
    # Saved: the row is shown again (its edit form, with "beta" in a select, gone).
    row.get_by_role("button", name="Save target").wait_for(state="detached")
    assert "beta" in row.inner_text()
    chitchat.refresh_from_db()
    assert (chitchat.target_project_name, chitchat.target_deployment_name) == (
        "Travel",
        "beta",
    )
