"""Data page pre-labels in a real browser: turn Pre-label on, accept the deployed
model's intent of an unlabeled row with y (then another by its button), undo with
u; axe over the page with pre-labels shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError

from projects.models import Intent, Project, Utterance
from tests.browser.conftest import StudioPage, axe_violations, htmx_settled
from tests.factories import ProjectFactory, UtteranceFactory
from tests.training.model_helpers import deploy_trained_model, make_trained_model
from tests.ui.training_helpers import TRAVEL, WEATHER

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def travel(browser_user: Callable[..., Any]) -> Project:
    project = ProjectFactory.create(name="Travel")
    Intent.objects.create(project=project, name="Book")
    Intent.objects.create(project=project, name="Weather")
    none = project.intents.get(name="None")
    UtteranceFactory.create(project=project, intent=none, text="book a flight to oslo")
    UtteranceFactory.create(project=project, intent=none, text="will it rain in oslo")
    model = make_trained_model(
        project,
        "m1",
        TRAVEL + WEATHER,
        ["Book"] * len(TRAVEL) + ["Weather"] * len(WEATHER),
    )
    deploy_trained_model(model)
    browser_user("ana", role="analyst", project=project)
    return project


def intent_of(text: str) -> str | None:
    try:
        return Utterance.objects.get(text=text).intent.name
    except OperationalError:  # the live server holds the write lock: retry
        return None


def wait_for(page: Any, predicate: Callable[[], bool]) -> None:
    for _ in range(150):
        htmx_settled(page)
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError("the change did not reach the database")


def test_accept_a_pre_label_by_keyboard(
    browser_page: StudioPage, travel: Project
) -> None:
    page = browser_page.page
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Travel/data/")
    page.wait_for_function("() => window.Labeling !== undefined")
    assert page.locator("button.prelabel").count() == 0
    page.get_by_label("Pre-label").check()  # the filter form refreshes the table
    page.locator("button.prelabel").first.wait_for()
    assert page.locator("button.prelabel").count() == 2
    assert not violations(page)
    browser_page.screenshot("prelabels")

    page.locator("body").focus()
    page.keyboard.press("j")  # the first row: "book a flight to oslo"
    first = page.locator("tr.utt-row.is-current")
    assert "book a flight to oslo" in first.inner_text()
    assert first.locator("button.prelabel").get_attribute("data-prelabel") == "Book"
    # Each step waits on the page before it reads the database: a read from this
    # thread while the live server writes the shared in-memory database can make
    # that write fail at once ("database table is locked"), losing the change.
    page.keyboard.press("y")
    page.wait_for_selector("td.utt-intent[data-intent=Book]")
    wait_for(page, lambda: intent_of("book a flight to oslo") == "Book")
    # The other one by its button.
    page.locator("button.prelabel").click()
    page.wait_for_selector("td.utt-intent[data-intent=Weather]")
    wait_for(page, lambda: intent_of("will it rain in oslo") == "Weather")
    # u undoes the last acceptance like any label change.
    page.keyboard.press("u")
    page.wait_for_selector("td.utt-intent[data-intent=Weather]", state="detached")
    wait_for(page, lambda: intent_of("will it rain in oslo") == "None")
    page.keyboard.press("?")
    assert "Accept the pre-label" in page.locator("#shortcut-help").inner_text()


def violations(page: Any) -> list[str]:
    return axe_violations(
        page,
        always=frozenset({"heading-order", "label-content-name-mismatch"}),
        options={
            "resultTypes": ["violations"],
            "rules": {"label-content-name-mismatch": {"enabled": True}},
        },
    )
