"""How the studio behaves in a real browser when a request goes wrong: after a form
comes back with errors the cursor is on the first bad field (not lost on
``<body>``) and the fields that depend on a choice stay as that choice says; a
server error inside an htmx screen is said in plain words, in sight. Also the
projects list's search as you type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projects import services
from projects.models import ProjectMembership
from tests.browser.conftest import StudioPage
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_after_a_form_error_the_cursor_is_on_the_bad_field(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    browser_user("ada")
    page = browser_page.page
    browser_page.sign_in("ada")
    browser_page.goto("/projects/new")
    page.get_by_label("Conversation (intents and entities)").check()
    page.get_by_label("Name", exact=True).fill("bad name!")
    page.get_by_role("button", name="Create project").click()
    page.locator("#id_name_error").wait_for()

    focused = page.evaluate("document.activeElement && document.activeElement.id")
    assert focused == "id_name"
    # The swapped-in form still shows only the fields of the chosen kind.
    assert page.get_by_label("Confidence threshold").is_visible()
    assert not page.get_by_label("Default answer").is_visible()


def test_a_server_error_inside_an_htmx_screen_is_said(
    browser_page: StudioPage,
    browser_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = ProjectFactory.create(name="Travel")
    browser_user("ana", role="analyst", project=project)
    page = browser_page.page
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Travel/schema/")

    def broken(**_: Any) -> None:
        raise RuntimeError("a bug on the server")

    monkeypatch.setattr(services, "intent_create", broken)
    # A short window scrolled down, as on a long screen: the page's message area at
    # the top is out of sight, yet the error must be seen where the user is.
    page.set_viewport_size({"width": 1280, "height": 240})
    page.locator("#intent-add-name").fill("BookFlight")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.keyboard.press("Enter")
    alert = page.locator("[data-request-error]")
    alert.wait_for()
    assert "went wrong on the studio's side" in alert.inner_text()
    assert "error 500" in alert.inner_text()
    box = alert.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= 240, box
    assert page.evaluate("window.scrollY") > 0
    # It can be dismissed, and the next failure says it again.
    alert.get_by_role("button", name="Dismiss").click()
    assert alert.count() == 0


def test_projects_list_search_filters_as_you_type(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    user = browser_user("ada")
    for name in ("Travel", "Weather", "Billing"):
        project = ProjectFactory.create(name=name)
        ProjectMembership.objects.create(project=project, user=user, role="admin")
    page = browser_page.page
    browser_page.sign_in("ada")
    browser_page.goto("/")
    page.evaluate("window.__noReload = true")
    rows = page.locator("#project-table tbody tr")
    assert rows.count() == 3
    page.get_by_label("Search projects").fill("wea")
    page.locator("#project-table tbody tr", has_text="Travel").wait_for(
        state="detached"
    )
    assert rows.count() == 1
    assert "Weather" in rows.inner_text()
    assert page.evaluate("window.__noReload === true")
    assert "q=wea" in page.url
    page.get_by_role("link", name="Name").click()  # sort by name, descending
    page.wait_for_url("**sort=-name**")
    assert "Weather" in page.locator("#project-table tbody tr").first.inner_text()
