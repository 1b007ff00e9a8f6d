"""The evaluation page of a CLINC150-sized project (150 intents, 15,000 utterances;
the model's evaluation built directly, not trained) in a real browser: axe finds no
serious or critical violation and the Content-Security-Policy none either, the
confusion matrix is one tab stop whose non-zero cells the arrow keys move between,
and a label is fixed from the top-confusions list without a page reload.
Screenshots go to var/test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError

from bench.labeling import seed_evaluation
from projects.models import Project, Utterance
from projects.services import utterance_intent_set
from tests.browser.conftest import (
    SCREENSHOTS,
    StudioPage,
    axe_violations,
    htmx_settled,
)
from tests.browser.test_csp import RECORD_VIOLATIONS
from training.models import EvaluationResult

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE = "/projects/clinc/models/m1/"


def wait_for(page: Any, predicate: Callable[[], bool]) -> None:
    """Poll the database (the live server shares it) until ``predicate``."""
    for _ in range(150):
        htmx_settled(page)
        try:
            if predicate():
                return
        except OperationalError:
            pass
        page.wait_for_timeout(100)
    raise AssertionError("the change did not reach the database")


def active(page: Any, attribute: str) -> str | None:
    value: str | None = page.evaluate(
        f"document.activeElement.getAttribute({attribute!r})"
    )
    return value


def test_evaluation_at_150_intents_keyboard_axe_and_fix_from_top_confusions(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    seed_evaluation(name="clinc", members=())
    browser_user("ana", role="analyst", project=Project.objects.get(name="clinc"))
    page = browser_page.page
    page.add_init_script(RECORD_VIOLATIONS)
    browser_page.sign_in("ana")
    browser_page.goto(PAGE)
    # Heat shades arrive through the CSSOM (the CSP forbids style attributes).
    shade = page.locator("#confusion-matrix td.heatmap__cell").first
    assert shade.evaluate("el => el.style.getPropertyValue('--heat')") != ""
    page.evaluate("window.__noReload = true")
    assert page.locator("#confusion-matrix th.heatmap__col").count() == 150
    assert axe_violations(page) == []

    # The grid is one tab stop: Tab from the last matrix toggle enters it on its
    # one focusable cell; Tab again leaves it.
    grid_links = page.locator("#confusion-matrix a[data-col]")
    nonzero = int(page.locator("#confusion-matrix").get_attribute("data-nonzero") or 0)
    assert grid_links.count() == nonzero
    page.locator('[aria-label="Order of the intents"] a').last.focus()
    page.keyboard.press("Tab")
    assert active(page, "data-row") == "0"
    first_col = active(page, "data-col")
    page.keyboard.press("Tab")
    assert active(page, "data-row") is None
    page.keyboard.press("Shift+Tab")
    assert (active(page, "data-row"), active(page, "data-col")) == ("0", first_col)
    # Arrow keys move between non-zero cells only, and the tab stop follows.
    page.keyboard.press("ArrowRight")
    moved = active(page, "data-col")
    assert moved is not None and first_col is not None
    assert int(moved) > int(first_col) and active(page, "data-row") == "0"
    page.keyboard.press("ArrowDown")
    assert active(page, "data-row") == "1"
    assert page.locator('#confusion-matrix a[tabindex="0"]').count() == 1
    assert active(page, "tabindex") == "0"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#matrix-section").screenshot(
        path=str(SCREENSHOTS / "evaluation-150-matrix.png")
    )

    # Collapse to the intents with errors (htmx, no reload).
    page.locator("#matrix-only-errors").click()
    page.locator('#matrix-only-errors[aria-current="true"]').wait_for()
    assert page.locator("#confusion-matrix th.heatmap__col").count() < 150

    # Fix a label from the top confusions: open the first pair, relabel its first
    # utterance as the intent the model predicted.
    top = page.locator("#top-confusions a").first
    expected = top.get_attribute("data-expected")
    predicted = top.get_attribute("data-predicted")
    top.click()
    page.locator("#cell-table").wait_for()
    result = EvaluationResult.objects.filter(
        model__project__name="clinc",
        model__label="m1",
        expected_intent=expected,
        predicted_intent=predicted,
    ).order_by("position")[0]
    row = page.locator(f"#cell-result-{result.position}")
    assert result.text in row.inner_text()
    row.locator("select").select_option(predicted)
    row.get_by_role("button", name="Relabel").click()
    page.locator(f"#cell-result-{result.position} .label-now", has_text=predicted)
    page.locator(f"#cell-result-{result.position} [role=status]").wait_for()
    wait_for(
        page,
        lambda: (
            Utterance.objects.get(pk=result.utterance_id or 0).intent.name == predicted
        ),
    )
    assert page.evaluate("window.__noReload === true")

    # The next row of the list, changed by someone else meanwhile (the Data page's
    # version rule): the fix is refused and the row shows their change in place.
    other = EvaluationResult.objects.filter(
        model__project__name="clinc",
        model__label="m1",
        expected_intent=expected,
        predicted_intent=predicted,
    ).order_by("position")[1]
    utterance_intent_set(
        project=Project.objects.get(name="clinc"),
        pk=other.utterance_id or 0,
        intent="intent_149",
    )
    stale = page.locator(f"#cell-result-{other.position}")
    stale.get_by_role("button", name="Relabel").click()
    page.locator(f"#cell-result-{other.position} [role=alert]").wait_for()
    assert "changed by someone else" in stale.inner_text()
    assert stale.locator(".label-now").inner_text() == "intent_149"
    assert Utterance.objects.get(pk=other.utterance_id or 0).intent.name == (
        "intent_149"
    )
    assert page.evaluate("window.__noReload === true")
    assert axe_violations(page) == []
    assert page.evaluate("window.__cspViolations") == []
    page.locator("#cell-utterances").screenshot(
        path=str(SCREENSHOTS / "evaluation-150-fixed.png")
    )
