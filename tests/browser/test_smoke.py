"""Smoke journey in a real browser: sign in, create a project, see it listed, change
a setting with htmx, sign out. Screenshots of each screen go to
var/test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projects.models import Project, ProjectMembership
from tests.browser.conftest import StudioPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_create_a_project_and_see_it_listed(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    user = browser_user("ada")
    page = browser_page.page

    browser_page.goto("/")
    assert "/accounts/login/" in page.url  # signed out: the sign-in page
    browser_page.screenshot("sign-in")
    browser_page.sign_in("ada")
    assert page.get_by_text("You are not a member of any project yet").is_visible()
    browser_page.screenshot("empty-list")

    page.get_by_role("link", name="New project").click()
    page.get_by_label("Question answering (knowledge base)").check()
    assert page.get_by_label("Default answer").is_visible()
    assert not page.get_by_label("Confidence threshold").is_visible()
    page.get_by_label("Conversation (intents and entities)").check()
    assert page.get_by_label("Confidence threshold").is_visible()
    assert not page.get_by_label("Default answer").is_visible()
    page.get_by_label("Name", exact=True).fill("bad name!")
    page.get_by_label("Description").fill("Flights and hotels")
    page.get_by_role("button", name="Create project").click()
    error = page.locator("#id_name_error")
    error.wait_for()
    assert "name" in error.inner_text().lower()
    # htmx swapped the form in place: what was typed is still there.
    assert page.get_by_label("Description").input_value() == "Flights and hotels"
    browser_page.screenshot("create-error")

    page.get_by_label("Name", exact=True).fill("Travel")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/projects/Travel/")
    assert page.get_by_role("heading", name="Travel").is_visible()
    browser_page.screenshot("overview")

    page.get_by_role("link", name="Orchestration Studio").click()
    page.wait_for_url(browser_page.base_url + "/")
    row = page.locator("#project-table tbody tr")
    assert row.count() == 1
    assert "Travel" in row.inner_text()
    assert "Conversation" in row.inner_text()
    browser_page.screenshot("list")
    assert ProjectMembership.objects.get(project__name="Travel").user_id == user.pk

    browser_page.goto("/projects/Travel/settings/")
    page.get_by_label("Confidence threshold").fill("0.6")
    page.get_by_role("button", name="Save settings").click()
    page.locator("#settings-general").get_by_text("Settings saved.").wait_for()
    assert Project.objects.get(name="Travel").confidence_threshold == 0.6
    browser_page.screenshot("settings")

    page.keyboard.press("?")
    assert page.locator("#shortcut-help").is_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


@pytest.mark.integration
def test_the_production_style_studio_serves_the_ui(
    new_browser_page: Callable[[str], StudioPage],
    live_studio: Any,
    live_studio_user: Callable[..., str],
) -> None:
    """gunicorn + whitenoise + PostgreSQL, DEBUG off: the stylesheet, htmx and the
    studio's script are served, and an htmx form round-trip works."""
    username = live_studio_user("grace")
    browser_page = new_browser_page(live_studio.url)
    page = browser_page.page
    failed: list[str] = []
    page.on(
        "response",
        lambda r: failed.append(r.url) if r.status >= 400 else None,
    )

    browser_page.sign_in(username)
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name", exact=True).fill("bad name!")
    page.get_by_role("button", name="Create project").click()
    page.locator("#id_name_error").wait_for()
    page.get_by_label("Name", exact=True).fill("Prod-check")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/projects/Prod-check/")
    browser_page.screenshot("overview")

    assert failed == [
        f"{live_studio.url}/projects/new"  # the 422 answer with the form's errors
    ]
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("typeof Studio") == "object"
    color = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert color == "rgb(255, 255, 255)"  # studio.css applied


def test_import_a_file_follow_the_job_then_delete_the_project(
    browser_page: StudioPage, browser_user: Callable[..., Any], tmp_path: Any
) -> None:
    browser_user("ida")
    tsv = tmp_path / "faq.tsv"
    tsv.write_text(
        "Question\tAnswer\tSource\tMetadata\nWhere is the office?\tIn Lisbon.\tfaq\t\n",
        encoding="utf-8",
    )
    page = browser_page.page
    browser_page.sign_in("ida")

    page.get_by_role("link", name="Import").click()
    page.get_by_label("Knowledge base (QnA Maker TSV)").check()
    page.get_by_role("button", name="Import").click()  # no file, no name
    page.locator("#id_file_error").wait_for()
    page.get_by_label("Project name").fill("OfficeFaq")
    page.get_by_label("File", exact=True).set_input_files(str(tsv))
    page.get_by_role("button", name="Import").click()
    page.get_by_role("link", name="Open OfficeFaq").wait_for()
    assert page.locator("progress").get_attribute("value") == "100"
    browser_page.screenshot("import-done")

    page.get_by_role("link", name="Open OfficeFaq").click()
    page.wait_for_url("**/projects/OfficeFaq/")
    assert page.get_by_role("link", name="Knowledge base").is_visible()
    assert Project.objects.get(name="OfficeFaq").qnas.count() == 1

    page.get_by_role("link", name="Delete…").click()
    page.get_by_label("Type the project's name to confirm").fill("OfficeFaq")
    browser_page.screenshot("delete-confirm")
    page.get_by_role("button", name="Delete project").click()
    page.get_by_text("The project was deleted.").wait_for()
    assert not Project.objects.filter(name="OfficeFaq").exists()
