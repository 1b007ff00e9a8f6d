"""Content htmx swaps in works at once: a control used straight after a swap (a
fast analyst, or a slow machine that paints before its timers run) does what it
does on a fresh page, not a plain full-page submit or nothing at all.

htmx wires the hx-* attributes of swapped-in nodes when it "settles" them, and by
default that waits 20 ms after the nodes are already on screen. The studio sets
the settle delay to 0, so the wiring happens in the same task as the swap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import StudioPage
from tests.factories import KbProjectFactory, QnaPairFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# After the next swap, in the first task after it (before any 20 ms timer), switch
# the view the way a user's change of the select would.
CHANGE_RIGHT_AFTER_SWAP = """() => {
  window.__samePage = true;
  document.body.addEventListener("htmx:afterSwap", () => {
    setTimeout(() => {
      const view = document.getElementById("kb-view");
      view.value = "table";
      view.dispatchEvent(new Event("change", {bubbles: true}));
    }, 0);
  }, {once: true});
}"""


def test_control_used_right_after_a_swap_is_already_wired(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    kb = KbProjectFactory.create(name="Faq")
    QnaPairFactory.create(project=kb, qna_id=1, questions=["Opening hours?"])
    browser_user("ana", role="analyst", project=kb)
    page = browser_page.page
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Faq/kb/")

    page.evaluate(CHANGE_RIGHT_AFTER_SWAP)
    page.keyboard.press("n")
    page.keyboard.type("How do I reset my password?")
    page.locator("#qna-add-answer").fill("From Settings.")
    page.get_by_role("button", name="Add QnA").click()
    page.get_by_text("QnA 2 added.").wait_for()

    # The change reached the freshly swapped filter form: the table came in by htmx.
    page.locator("tr#qna-1").wait_for()
    assert "view=table" in page.url
    assert page.evaluate("window.__samePage") is True
