"""Data hygiene in a real browser (issue #12): a mouse selection that cuts a word
labels the whole word (unless "Character precision" is on), r edits a row's text
(Enter saves with the labels kept, Esc cancels), and u undoes single edits one
step at a time, newest first."""

from __future__ import annotations

from typing import Any

import pytest

from projects.models import EntitySpan, Utterance
from tests.browser.test_labeling import (  # noqa: F401 - the fixture
    TEXT,
    labeling_page,
    row_of,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def select_inside(page: Any, pk: int, needle: str) -> None:
    """Select ``needle`` in the row's text with a DOM range and release the mouse."""
    text = page.locator(f"#utterance-{pk} .utt-text")
    page.evaluate(
        """([el, needle]) => {
            const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode()) && node.data.indexOf(needle) < 0) {}
            const start = node.data.indexOf(needle);
            window.getSelection().setBaseAndExtent(
                node, start, node, start + needle.length);
        }""",
        [text.element_handle(), needle],
    )
    text.dispatch_event("mouseup")


def test_a_mouse_selection_snaps_to_whole_words_unless_character_precision(
    labeling_page: Any,  # noqa: F811
) -> None:
    page = labeling_page
    first = row_of(TEXT)
    picker = page.locator("#entity-picker")
    select_inside(page, first.pk, "ari")
    picker.wait_for(state="visible")
    assert picker.locator("[data-picker-text]").inner_text() == "Paris"
    picker.locator("[data-entity=City]").click()
    wait_for(page, lambda: EntitySpan.objects.filter(utterance=first).exists())
    span = EntitySpan.objects.get(utterance=first)
    assert (span.offset, span.length) == (9, 5)  # code points: the emoji is one

    page.wait_for_selector(f"#utterance-{first.pk} .chip")
    page.locator("#char-mode").check()
    select_inside(page, first.pk, "oda")
    picker.wait_for(state="visible")
    assert picker.locator("[data-picker-text]").inner_text() == "oda"
    picker.locator("[data-entity=When]").click()
    wait_for(page, lambda: EntitySpan.objects.filter(utterance=first).count() == 2)
    when = EntitySpan.objects.get(utterance=first, entity__name="When")
    assert TEXT[when.offset : when.offset + when.length] == "oda"
    # The switch is remembered for the next visit.
    page.reload()
    page.wait_for_function("() => window.Labeling !== undefined")
    assert page.locator("#char-mode").is_checked()


def test_edit_a_text_keeps_its_labels_and_undo_twice_goes_back_step_by_step(
    labeling_page: Any,  # noqa: F811
) -> None:
    page = labeling_page
    first = row_of(TEXT)
    city = first.project.entities.get(name="City")
    EntitySpan.objects.create(utterance=first, entity=city, offset=9, length=5)
    page.reload()
    page.wait_for_function("() => window.Labeling !== undefined")
    page.keyboard.press("j")
    page.keyboard.press("2")  # Book
    wait_for(page, lambda: row_of(TEXT).intent.name == "Book")
    page.wait_for_selector(f"#utterance-{first.pk} td.utt-intent[data-intent=Book]")

    # r opens the edit box on the current row, with the cursor in it.
    page.keyboard.press("r")
    box = page.locator(f"#edit-text-{first.pk}")
    box.wait_for()
    assert page.evaluate("document.activeElement.id") == f"edit-text-{first.pk}"
    # Esc cancels: the row is back, unchanged, and current.
    page.keyboard.press("Escape")
    page.wait_for_selector(f"#utterance-{first.pk} .utt-text")
    page.wait_for_function(
        f"() => document.activeElement.id === 'utterance-{first.pk}'"
    )
    assert row_of(TEXT).text == TEXT

    page.keyboard.press("r")
    box.wait_for()
    edited = "please fly to \U0001f600 Paris tomorrow"
    box.fill(edited)
    page.keyboard.press("Enter")
    wait_for(page, lambda: Utterance.objects.filter(text=edited).exists())
    span = EntitySpan.objects.get(utterance=first)
    assert edited[span.offset : span.offset + span.length] == "Paris"
    page.wait_for_function(
        f"() => document.activeElement.id === 'utterance-{first.pk}'"
    )
    assert "tomorrow" in page.locator(f"#utterance-{first.pk} .utt-text").inner_text()

    # u twice: first the text, then the intent.
    page.keyboard.press("u")
    page.keyboard.press("u")
    # By pk: until the first undo lands, no row has the old text.
    wait_for(
        page,
        lambda: Utterance.objects.filter(
            pk=first.pk, intent__name="None", text=TEXT
        ).exists(),
    )
    restored = row_of(TEXT)
    assert EntitySpan.objects.get(utterance=restored).offset == 9
    # The second undo's table replaces the first's (the database may be ahead).
    page.locator(
        "#utterance-table .message--success", has_text="Undone: assigned intent Book"
    ).wait_for()
    page.wait_for_selector(f"#utterance-{first.pk} td.utt-intent[data-intent=None]")
    # j still moves on from the row after the table came back.
    page.keyboard.press("j")
    second = row_of("cancel it")
    page.wait_for_function(
        f"() => document.activeElement.id === 'utterance-{second.pk}'"
    )


def test_the_palette_labels_entities_by_name(
    labeling_page: Any,  # noqa: F811
) -> None:
    """e selects a word; Enter opens the palette over the entities (type to filter,
    Enter assigns); Esc in it cancels the labeling."""
    page = labeling_page
    first = row_of(TEXT)
    page.keyboard.press("j")
    page.keyboard.press("e")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    palette = page.locator("#intent-palette")
    palette.wait_for(state="visible")
    assert "Entity for" in page.locator("#intent-palette-title").inner_text()
    assert page.locator("[data-palette-for]").inner_text() == "Paris"
    names = page.locator("#intent-palette-list [data-choice]").all_inner_texts()
    assert [n.strip() for n in names] == ["City", "When"]
    page.keyboard.type("wh")
    assert page.locator("#intent-palette-list [data-choice]").count() == 1
    page.keyboard.press("Enter")
    wait_for(page, lambda: EntitySpan.objects.filter(utterance=first).exists())
    span = EntitySpan.objects.get(utterance=first)
    assert (span.entity.name, span.offset, span.length) == ("When", 9, 5)
    assert palette.is_hidden()
    # Esc in the entity palette cancels: nothing is labeled, the row is current.
    page.wait_for_selector(f"#utterance-{first.pk} .chip")
    page.locator(f"#utterance-{first.pk}").focus()
    page.keyboard.press("e")
    page.keyboard.press("Enter")
    palette.wait_for(state="visible")
    page.keyboard.press("Escape")
    assert palette.is_hidden()
    assert page.locator("#entity-picker").is_hidden()
    page.wait_for_function(
        f"() => document.activeElement.id === 'utterance-{first.pk}'"
    )
    assert EntitySpan.objects.filter(utterance=first).count() == 1
    # The intent palette is itself again on l.
    page.keyboard.press("l")
    palette.wait_for(state="visible")
    assert "Intent for" in page.locator("#intent-palette-title").inner_text()
    page.keyboard.press("Escape")


def test_focus_mode_shows_one_utterance_and_moves_on_after_labeling(
    labeling_page: Any,  # noqa: F811
) -> None:
    page = labeling_page
    first, second = row_of(TEXT), row_of("cancel it")
    page.keyboard.press("f")
    assert page.locator("#focus-toggle").get_attribute("aria-pressed") == "true"
    visible = page.locator("#utterance-table tr.utt-row:visible")
    assert visible.count() == 1
    assert visible.get_attribute("id") == f"utterance-{first.pk}"
    size = page.locator(f"#utterance-{first.pk} .utt-text").evaluate(
        "el => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert size >= 28
    assert page.locator("#distribution").is_hidden()
    assert "Utterance 1 of 2" in page.locator("#focus-where").inner_text()
    # A number key labels it and moves on to the next utterance.
    page.keyboard.press("2")  # Book
    wait_for(page, lambda: row_of(TEXT).intent.name == "Book")
    page.wait_for_function(
        f"() => document.activeElement.id === 'utterance-{second.pk}'"
    )
    assert visible.count() == 1
    assert "Utterance 2 of 2" in page.locator("#focus-where").inner_text()
    # The palette works the same way.
    page.keyboard.press("l")
    page.keyboard.type("canc")
    page.keyboard.press("Enter")
    wait_for(page, lambda: row_of("cancel it").intent.name == "Cancel")
    page.screenshot(path="var/test-artifacts/screenshots/focus-mode.png")
    # Esc (on the row) leaves focus mode: every row is back.
    page.locator(f"#utterance-{second.pk}").focus()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => document.querySelectorAll('#utterance-table tr.utt-row:not([hidden])')"
        ".length === 2 && !document.getElementById('labeling').classList"
        ".contains('is-focus')"
    )
    assert visible.count() == 2
    assert page.locator("#focus-bar").is_hidden()
