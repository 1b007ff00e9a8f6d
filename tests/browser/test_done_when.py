"""Issue #12's "Done when", as one analyst's session in a real browser on a
generated project of real size (150 intents, 15,000 utterances, two evaluated
models; bulk-created, no training): label 20 rows through the palette by keyboard
only (0 wrong labels), filter then Esc then j, open the evaluation and fix a label
from the top-confusions list, edit a text, undo twice (the text, then the fix made
on the evaluation page: one history per user and project across screens)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench.labeling import seed_evaluation
from projects.models import Project, Utterance
from tests.browser.conftest import SCREENSHOTS, StudioPage
from tests.browser.test_csp import RECORD_VIOLATIONS
from training.models import EvaluationResult

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def intent_of(pk: int) -> str:
    return Utterance.objects.get(pk=pk).intent.name


def active_id(page: Any) -> str:
    value: str = page.evaluate("document.activeElement.id")
    return value


def test_an_analyst_session_on_a_150_intent_project(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    seeded = seed_evaluation(name="clinc", members=())
    project = Project.objects.get(name="clinc")
    assert project.intents.count() == 151
    assert project.utterances.count() == 15_000
    browser_user("ana", role="analyst", project=project)
    page = browser_page.page
    page.add_init_script(RECORD_VIOLATIONS)
    browser_page.sign_in("ana")
    browser_page.goto("/projects/clinc/data/")
    page.wait_for_function("() => window.Labeling !== undefined")

    # 1. Twenty rows labeled through the palette, keyboard only.
    rows = list(project.utterances.order_by("id")[:20])
    names = seeded.intent_names
    wanted = {u.pk: names[(names.index(u.intent.name) + 37) % len(names)] for u in rows}
    for n, u in enumerate(rows):
        page.keyboard.press("j")
        if n == 0:
            assert active_id(page) == f"utterance-{u.pk}"
        page.keyboard.press("l")
        assert active_id(page) == "intent-palette-input"
        page.keyboard.type(wanted[u.pk].replace("_", " "))
        page.keyboard.press("Enter")
    # Wait in the page, not by polling SQLite: a read from this thread while the
    # live server writes can make its write fail ("table is locked").
    for pk, name in wanted.items():
        page.wait_for_selector(f"#utterance-{pk} td.utt-intent[data-intent={name}]")
    wrong = [pk for pk, name in wanted.items() if intent_of(pk) != name]
    assert wrong == []

    # 2. Filter, Esc back to the table, j moves on.
    page.keyboard.press("/")
    assert active_id(page) == "filter-q"
    page.keyboard.type("intent_042")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#utterance-table tr.utt-row'))"
        ".every(r => r.textContent.includes('intent_042'))"
    )
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => document.activeElement.matches('#utterance-table tr.utt-row')"
    )
    before = active_id(page)
    page.keyboard.press("j")
    page.wait_for_function(
        f"() => document.activeElement.matches('tr.utt-row') && "
        f"document.activeElement.id !== {before!r}"
    )
    assert page.locator("#filter-q").input_value() == "intent_042"

    # 3. The evaluation: fix a label from the top-confusions list.
    browser_page.goto("/projects/clinc/models/m1/")
    page.evaluate("window.__noReload = true")
    top = page.locator("#top-confusions a").first
    expected = top.get_attribute("data-expected")
    predicted = top.get_attribute("data-predicted")
    assert expected and predicted
    top.click()
    page.locator("#cell-table").wait_for()
    result = EvaluationResult.objects.filter(
        model__project=project,
        model__label="m1",
        expected_intent=expected,
        predicted_intent=predicted,
    ).order_by("position")[0]
    fixed_pk = result.utterance_id or 0
    label_before_fix = intent_of(fixed_pk)
    row = page.locator(f"#cell-result-{result.position}")
    row.locator("select").select_option(predicted)
    row.get_by_role("button", name="Relabel").click()
    page.locator(f"#cell-result-{result.position} [role=status]").wait_for()
    assert intent_of(fixed_pk) == predicted
    assert page.evaluate("window.__noReload === true")

    # 4. Back on the Data page: edit a text (r, type, Enter).
    browser_page.goto("/projects/clinc/data/")
    page.wait_for_function("() => window.Labeling !== undefined")
    first = rows[0]
    page.keyboard.press("j")
    page.keyboard.press("r")
    box = page.locator(f"#edit-text-{first.pk}")
    box.wait_for()
    box.fill(first.text + " please")
    page.keyboard.press("Enter")
    page.locator(f"#utterance-{first.pk} .utt-text", has_text="please").wait_for()
    assert Utterance.objects.get(pk=first.pk).text == first.text + " please"
    page.wait_for_function(
        f"() => document.activeElement.id === 'utterance-{first.pk}'"
    )

    # 5. Undo twice: the text, then the fix made on the evaluation page.
    page.keyboard.press("u")
    page.keyboard.press("u")
    # The second undo's table (after the first one's).
    page.locator(
        "#utterance-table .message--success", has_text="Undone: assigned intent"
    ).wait_for()
    assert intent_of(fixed_pk) == label_before_fix
    assert Utterance.objects.get(pk=first.pk).text == first.text
    assert intent_of(first.pk) == wanted[first.pk]  # the palette labels stay
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "done-when-after-undo.png"))
    assert page.evaluate("window.__cspViolations") == []
