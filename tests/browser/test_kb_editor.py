"""The knowledge-base editor in a real browser: a failed add puts the focus (and
the view) on the field in error, the fixed pair gets a follow-up chosen by
searching questions, answers show as rendered Markdown with a preview, and axe
finds no serious or critical accessibility violation on the page (cards, table,
a form with errors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projects.models import QnaPair
from tests.browser.conftest import StudioPage, axe_violations
from tests.factories import KbProjectFactory, QnaPairFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Content-Security-Policy violations, recorded before the page's own scripts run.
RECORD_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

IN_VIEW = """(id) => {
  const r = document.getElementById(id).getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
}"""


def test_add_with_error_then_fix_then_follow_up_chosen_by_search(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    kb = KbProjectFactory.create(name="Faq")
    QnaPairFactory.create(
        project=kb,
        qna_id=1,
        questions=["What are the opening hours?"],
        answer="**9 to 5**, Monday to Friday.",
        source="faq.html",
        metadata={"area": "office"},
    )
    for i in range(2, 30):
        QnaPairFactory.create(project=kb, qna_id=i, source="bulk.tsv")
    browser_user("ana", role="analyst", project=kb)
    page = browser_page.page
    page.add_init_script(RECORD_CSP)
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Faq/kb/")
    assert page.locator("#qna-1 .answer strong", has_text="9 to 5").is_visible()

    # A pair without an answer: the error is next to the answer, which has the
    # focus and is on screen (not above it, with the focus lost on <body>).
    page.keyboard.press("n")
    page.keyboard.type("How do I reset my password?")
    page.get_by_role("button", name="Add QnA").click()
    page.locator("#qna-add-answer-error").wait_for()
    assert (
        "The answer must not be empty."
        in page.locator("#qna-add-answer-error").inner_text()
    )
    page.wait_for_function("document.activeElement.id === 'qna-add-answer'")
    assert page.evaluate(IN_VIEW, "qna-add-answer")
    assert "[0]" not in page.locator("#kb").inner_text()
    browser_page.screenshot("add-error")

    # Fixed, previewed, and a follow-up picked by searching questions.
    page.locator("#qna-add-answer").fill("Open **Settings** and choose *Reset*.")
    page.get_by_role("button", name="Preview the answer").click()
    page.locator("#qna-add-answer-preview strong", has_text="Settings").wait_for()
    page.locator("#qna-add-prompt-text-1").fill("Office hours")
    page.locator("#qna-add-prompt-target-1").fill("opening")
    choice = page.get_by_role("button", name="#1 What are the opening hours?")
    choice.click()
    assert (
        page.locator("#qna-add-prompt-target-1").input_value()
        == "#1 What are the opening hours?"
    )
    browser_page.screenshot("follow-up-picked")
    page.get_by_role("button", name="Add QnA").click()
    page.get_by_text("QnA 30 added.").wait_for()
    pair = QnaPair.objects.get(qna_id=30)
    assert pair.answer == "Open **Settings** and choose *Reset*."
    assert pair.prompts == [
        {"displayOrder": 0, "qnaId": 1, "displayText": "Office hours"}
    ]
    page.locator("#kb-count", has_text="30 QnA pairs").wait_for()

    # The compact table, filtered by source (no reload), is accessible too.
    page.locator("#kb-view").select_option("table")
    page.locator("tr#qna-1").wait_for()
    page.locator("#kb-source").select_option("faq.html")
    page.locator("tr#qna-2").wait_for(state="detached")
    assert page.locator("tr#qna-1").is_visible()
    assert "source=faq.html" in page.url
    browser_page.screenshot("table")
    # Errors, preview, picker and swaps ran without inline script or style.
    assert page.evaluate("window.__csp") == []

    # axe: the table, the cards, and the add form with an error.
    assert axe_violations(page) == []
    browser_page.goto("/projects/Faq/kb/?view=cards")
    assert axe_violations(page) == []
    page.keyboard.press("n")
    page.keyboard.type("Another question")
    page.get_by_role("button", name="Add QnA").click()
    page.locator("#qna-add-answer-error").wait_for()
    assert axe_violations(page) == []


def test_inline_edit_error_focus_delete_count_and_sources(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    kb = KbProjectFactory.create(name="Faq")
    for i in range(1, 4):
        QnaPairFactory.create(project=kb, qna_id=i, source=f"s{i % 2}.tsv")
    browser_user("ana", role="analyst", project=kb)
    page = browser_page.page
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Faq/kb/")

    # An inline edit that fails: the focus lands on the answer of that card.
    page.locator("#qna-3").get_by_role("link", name="Edit QnA 3").click()
    page.locator("#qna-3-answer").fill("")
    page.locator("#qna-3").get_by_role("button", name="Save").click()
    page.locator("#qna-3-answer-error").wait_for()
    page.wait_for_function("document.activeElement.id === 'qna-3-answer'")

    # A delete: the card goes and the count follows.
    page.locator("#qna-2").get_by_role("link", name="Delete QnA 2").click()
    page.get_by_role("button", name="Delete QnA 2").click()
    page.locator("#qna-2").wait_for(state="detached")
    page.locator("#kb-count", has_text="2 QnA pairs in the knowledge base").wait_for()

    # Sources: listed with counts; deleting one asks first.
    browser_page.goto("/projects/Faq/kb/sources/")
    assert axe_violations(page) == []
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete its 2 pairs").click()
    page.get_by_text("2 pairs of “s1.tsv” deleted.").wait_for()
    assert not QnaPair.objects.exists()
