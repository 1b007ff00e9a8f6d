"""The labeling screen in a real browser (Playwright + Debian's chromium, headless):
the keyboard flow (j/k, 1-9, t, x, /, e with arrow/shift selection, ?) and entity
labeling by mouse selection, with emoji in the text so that the UTF-16 -> code point
conversion in labeling.js is exercised. Screenshots go to
var/test-artifacts/screenshots/."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.test import Client

from projects.models import EntitySpan, Project, ProjectMembership, Utterance
from tests.browser.conftest import htmx_settled
from tests.conftest import skip_or_fail
from tests.factories import EntityFactory, IntentFactory, ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "screenshots"
TIMEOUT_MS = 45_000
TEXT = "fly to \U0001f600 Paris today"


@pytest.fixture
def labeling_page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A signed-in analyst's browser page on a project with three intents, two
    entities and two utterances."""
    # Playwright's sync API runs an event loop in this thread; the test's own ORM
    # reads are still synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
    project = ProjectFactory.create(name="shop")
    IntentFactory.create(project=project, name="Book")
    IntentFactory.create(project=project, name="Cancel")
    EntityFactory.create(project=project, name="City")
    EntityFactory.create(project=project, name="When")
    none = project.intents.get(name="None")
    Utterance.objects.create(project=project, intent=none, text=TEXT)
    Utterance.objects.create(project=project, intent=none, text="cancel it")
    user = get_user_model().objects.create_user(username="ana", password="pw-ana-1")
    ProjectMembership.objects.create(project=project, user=user, role="analyst")
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{live_server.url}/projects/shop/data/")
        page.wait_for_function("() => window.Labeling !== undefined")
        try:
            yield page
        finally:
            browser.close()


def row_of(text: str) -> Utterance:
    return Utterance.objects.get(project__name="shop", text=text)


def wait_for(page: Any, predicate: Any) -> None:
    """Poll the database (the page updates it through htmx) until ``predicate``.
    The live server shares the in-memory SQLite database: a read that meets its
    write lock is simply retried."""
    for _ in range(150):
        htmx_settled(page)
        try:
            if predicate():
                return
        except OperationalError:
            pass
        page.wait_for_timeout(100)
    raise AssertionError("the change did not reach the database")


def wait_for_row(page: Any, pk: int, *, intent: str = "", dataset: str = "") -> None:
    """Wait until the page shows row ``pk`` swapped in with ``intent`` / ``dataset``.

    Watching the page, not the database, while requests are in flight: the live
    server shares the in-memory SQLite database in shared-cache mode, where a read
    from the test thread can make the server's write fail at once ("database
    table is locked"; no busy timeout there) and lose the edit under test."""
    page.wait_for_function(
        """([id, intent, dataset]) => {
            const row = document.getElementById("utterance-" + id);
            if (!row) return false;
            const cell = row.querySelector("td.utt-intent");
            const select = row.querySelector("select.row-dataset");
            return (!intent || (cell && cell.dataset.intent === intent))
                && (!dataset || (select && select.value === dataset));
        }""",
        arg=[pk, intent, dataset],
    )


def test_keyboard_flow(labeling_page: Any) -> None:
    page = labeling_page
    first = row_of(TEXT)
    second = row_of("cancel it")
    # j focuses the first row, j again the second, k back to the first.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    current = page.locator("tr.utt-row.is-current")
    assert current.get_attribute("id") == f"utterance-{first.pk}"
    # 2 assigns the second intent (None, Book, Cancel): Book.
    page.keyboard.press("2")
    wait_for_row(page, first.pk, intent="Book")
    # t moves it to Test (unassigned -> Test), t again to Train.
    page.keyboard.press("t")
    wait_for_row(page, first.pk, intent="Book", dataset="Test")
    page.keyboard.press("t")
    wait_for_row(page, first.pk, intent="Book", dataset="Train")
    # The swapped row stays current, so j still moves on from it.
    page.keyboard.press("j")
    # Two edits of one row in quick succession both land (edits are queued).
    page.keyboard.press("3")
    page.keyboard.press("t")
    wait_for_row(page, second.pk, intent="Cancel", dataset="Test")
    # Nothing is in flight now: the database holds what the page shows.
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.intent.name, first.dataset) == ("Book", "Train")
    assert (second.intent.name, second.dataset) == ("Cancel", "Test")
    # x selects the current row for a bulk action.
    page.keyboard.press("x")
    assert page.locator(f"#utterance-{second.pk} .row-select").is_checked()
    assert page.locator("#bulk-count").inner_text() == "1 selected"
    page.screenshot(path=str(SCREENSHOTS / "labeling-keyboard.png"), full_page=True)
    # / focuses the search box; typing filters the table.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "filter-q"
    page.keyboard.type("cancel")
    page.wait_for_function(
        "() => document.querySelectorAll('#utterance-table tr.utt-row').length === 1"
    )
    # ? opens the shortcut help, which lists the screen's shortcuts.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("?")
    dialog = page.locator("#shortcut-help")
    assert dialog.is_visible()
    assert "Toggle Train / Test" in dialog.inner_text()
    assert "Label an entity" in dialog.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "labeling-shortcuts.png"))


def test_entity_labeling_by_keyboard_counts_code_points(labeling_page: Any) -> None:
    page = labeling_page
    first = row_of(TEXT)
    page.keyboard.press("j")
    # e selects the first word; three words to the right is "Paris" (the emoji
    # is a word of its own).
    page.keyboard.press("e")
    picker = page.locator("#entity-picker")
    assert picker.is_visible()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert picker.locator("[data-picker-text]").inner_text() == "Paris"
    page.keyboard.press("1")  # City
    wait_for(page, lambda: EntitySpan.objects.filter(utterance=first).exists())
    span = EntitySpan.objects.get(utterance=first)
    # Code points: "fly to " (7) + the emoji (1) + " " = 9; UTF-16 would say 10.
    assert (span.entity.name, span.offset, span.length) == ("City", 9, 5)
    # Overlapping span of another entity: "Paris today" with Shift+ArrowRight.
    page.wait_for_selector(f"#utterance-{first.pk} .chip")
    page.locator(f"#utterance-{first.pk}").focus()
    page.keyboard.press("e")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert picker.locator("[data-picker-text]").inner_text() == "Paris today"
    page.keyboard.press("2")  # When
    wait_for(page, lambda: EntitySpan.objects.filter(utterance=first).count() == 2)
    when = EntitySpan.objects.get(utterance=first, entity__name="When")
    assert (when.offset, when.length) == (9, 11)
    page.wait_for_selector(f"#utterance-{first.pk} mark[title='City, When']")
    page.screenshot(path=str(SCREENSHOTS / "labeling-entities.png"), full_page=True)
    # Esc leaves labeling without a change.
    page.keyboard.press("e")
    page.keyboard.press("Escape")
    assert not picker.is_visible()
    assert EntitySpan.objects.filter(utterance=first).count() == 2


def test_entity_labeling_by_mouse_selection_and_removal(labeling_page: Any) -> None:
    page = labeling_page
    first = row_of(TEXT)
    text = page.locator(f"#utterance-{first.pk} .utt-text")
    # Select the emoji and "Paris" with the mouse (a DOM range, then mouseup).
    page.evaluate(
        """(el) => {
            const node = el.firstChild;
            const start = node.data.indexOf("\\u{1F600}");
            const end = node.data.indexOf("Paris") + 5;
            window.getSelection().setBaseAndExtent(node, start, node, end);
        }""",
        text.element_handle(),
    )
    text.dispatch_event("mouseup")
    picker = page.locator("#entity-picker")
    picker.wait_for(state="visible")
    assert picker.locator("[data-picker-text]").inner_text() == "\U0001f600 Paris"
    picker.locator("[data-entity=City]").click()
    wait_for(page, lambda: EntitySpan.objects.filter(utterance=first).exists())
    span = EntitySpan.objects.get(utterance=first)
    assert (span.offset, span.length) == (7, 7)
    assert TEXT[span.offset : span.offset + span.length] == "\U0001f600 Paris"
    # Remove it with the chip's button.
    page.locator(f"#utterance-{first.pk} .chip__remove").click()
    wait_for(page, lambda: not EntitySpan.objects.filter(utterance=first).exists())
    assert Project.objects.get(name="shop").utterances.count() == 2


def test_add_lines_and_upload_refresh_the_table_without_a_reload(
    labeling_page: Any, tmp_path: Path
) -> None:
    page = labeling_page
    page.evaluate("window.__noReload = true")
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.name") == "text"
    # A bad line comes back as a 422 fragment that htmx swaps in: the error is
    # shown next to the field and the typed text is still there.
    page.fill("#add-lines textarea", "fine\n" + "x" * 501)
    page.locator("#add-lines button[type=submit]").click()
    page.wait_for_selector("#add-lines .errorlist")
    assert "Line 2:" in page.locator("#add-lines .errorlist").inner_text()
    assert page.locator("#add-lines textarea").input_value().startswith("fine\n")
    assert page.evaluate("document.activeElement.name") == "text"  # studio.js
    page.fill("#add-lines textarea", "")
    page.select_option("#add-lines select[name=intent]", "Cancel")
    page.keyboard.type("stop the order\nforget it")
    page.locator("#add-lines button[type=submit]").click()
    page.wait_for_selector("#add-lines .message--success")
    page.wait_for_function(
        "() => document.querySelectorAll('#utterance-table tr.utt-row').length === 4"
    )
    # The fresh form has the focus back for the next batch.
    assert page.evaluate("document.activeElement.name") == "text"
    assert "Cancel" in page.locator("#distribution").inner_text()
    document = [
        {
            "text": "\U0001f600 fly to Oslo",
            "intent": "Book",
            "entities": [{"category": "City", "offset": 10, "length": 4}],
        }
    ]
    upload = tmp_path / "utterances.json"
    upload.write_text(json.dumps(document), encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(upload))
    page.locator("#upload button[type=submit]").click()
    page.wait_for_selector("#upload-result")
    assert "Added 1 utterance." in page.locator("#upload-result").inner_text()
    page.wait_for_function(
        "() => document.querySelectorAll('#utterance-table tr.utt-row').length === 5"
    )
    assert page.evaluate("window.__noReload") is True
    span = EntitySpan.objects.get(utterance__text="\U0001f600 fly to Oslo")
    assert (span.offset, span.length) == (9, 4)
    page.screenshot(path=str(SCREENSHOTS / "labeling-upload.png"), full_page=True)


def test_an_edit_of_a_row_someone_else_changed_shows_their_change_and_a_message(
    labeling_page: Any,
) -> None:
    """The row was rendered, then another user moved it to Cancel: pressing 2 (Book)
    overwrites nothing; the row shows Cancel with the message and keeps the focus,
    and the next keystroke (now against the fresh version) works."""
    page = labeling_page
    first = row_of(TEXT)
    page.keyboard.press("j")
    cancel = first.project.intents.get(name="Cancel")
    Utterance.objects.filter(pk=first.pk).update(
        intent=cancel, version=first.version + 1
    )
    page.keyboard.press("2")
    message = page.locator(f"#utterance-{first.pk} .errorlist")
    message.wait_for()
    assert "changed by someone else" in message.inner_text()
    page.wait_for_selector(f"#utterance-{first.pk} td.utt-intent[data-intent=Cancel]")
    assert row_of(TEXT).intent.name == "Cancel"
    assert page.evaluate("document.activeElement.id") == f"utterance-{first.pk}"
    # The message is the row's own, not the page's "request failed" banner.
    assert page.locator("[data-request-error]").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "labeling-stale-row.png"))
    page.keyboard.press("t")
    # The page first (see wait_for_row), then the database once.
    wait_for_row(page, first.pk, intent="Cancel", dataset="Test")
    wait_for(page, lambda: row_of(TEXT).dataset == "Test")
    assert row_of(TEXT).intent.name == "Cancel"


def test_golden_star_by_click_and_by_m_and_the_dataset_select_by_mouse(
    labeling_page: Any,
) -> None:
    """The row's star and dataset select are handled by labeling.js (they belong to
    one plain form, the no-JS fallback): each posts with the row's version and
    swaps the row; the star keeps the focus it had, m works on the current row."""
    page = labeling_page
    first = row_of(TEXT)
    star = f"#utterance-{first.pk} [data-golden]"
    assert page.locator(star).get_attribute("aria-pressed") == "false"
    # The accessible name is "Golden"; pressed or not is its state.
    page.get_by_role("button", name="Golden", pressed=False).first.wait_for()
    page.locator(star).click()
    page.wait_for_selector(f"{star}[aria-pressed=true]")
    wait_for(page, lambda: row_of(TEXT).golden)
    assert page.locator(star).inner_text() == "★"
    # A click is a submit button's click: the page did not navigate to golden/.
    assert page.url.endswith("/projects/shop/data/")
    # The clicked row is the current one; m toggles it back.
    current = page.locator("tr.utt-row.is-current")
    assert current.get_attribute("id") == f"utterance-{first.pk}"
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("m")
    page.wait_for_selector(f"{star}[aria-pressed=false]")
    wait_for(page, lambda: not row_of(TEXT).golden)
    # By keyboard on the star itself: Space toggles, and the focus stays on it.
    page.locator(star).focus()
    page.keyboard.press("Space")
    page.wait_for_selector(f"{star}[aria-pressed=true]")
    page.wait_for_function(
        f"() => document.activeElement === document.querySelector('{star}')"
    )
    wait_for(page, lambda: row_of(TEXT).golden)
    # The dataset select: choosing with the mouse saves it, the star stays set.
    page.locator(f"#utterance-{first.pk} select.row-dataset").select_option("Test")
    wait_for(page, lambda: row_of(TEXT).dataset == "Test")
    # The row was swapped for the saved one (its version is the database's).
    page.wait_for_selector(
        f"#utterance-{first.pk}[data-version='{row_of(TEXT).version}']"
    )
    assert page.locator(f"#utterance-{first.pk} select.row-dataset").input_value() == (
        "Test"
    )
    assert row_of(TEXT).golden
    assert page.locator("[data-request-error]").count() == 0
    # Hovering the star says what it means (CSS, not a title in every row).
    page.locator(star).hover()
    tip = page.evaluate(
        f"getComputedStyle(document.querySelector('{star}'), '::after').content"
    )
    assert "every deploy is checked on it" in tip
    page.screenshot(path=str(SCREENSHOTS / "labeling-golden.png"))
