"""Data hygiene on the Data screen: multi-level undo of single edits and bulk
actions (per user, per project), editing an utterance's text with its entity
labels kept or re-anchored, and duplicate / conflicting-label detection (a filter
and a warning when lines are added or a file is uploaded)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jobs.models import Job
from projects.models import EntitySpan, LabelingUndo, Project, Utterance
from projects.selectors import labeling as sl
from projects.selectors.labeling import normalized_text
from projects.services import labeling
from tests.factories import (
    EntityFactory,
    EntitySpanFactory,
    IntentFactory,
    UtteranceFactory,
)
from tests.ui.conftest import HTMX, UiProjects, UiUsers

TABLE = {**HTMX, "HTTP_HX_TARGET": "utterance-table"}


def url(project: Project, suffix: str = "") -> str:
    return f"/projects/{project.name}/data/{suffix}"


def ids_in(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr id="utterance-(\d+)"', html)]


@pytest.fixture
def conv(ui_projects: UiProjects) -> Project:
    return ui_projects.conv


@pytest.fixture
def data(conv: Project) -> dict[str, Any]:
    none = conv.intents.get(name="None")
    book = IntentFactory.create(project=conv, name="Book")
    cancel = IntentFactory.create(project=conv, name="Cancel")
    city = EntityFactory.create(project=conv, name="City")
    rows = [
        UtteranceFactory.create(
            project=conv, intent=book, text="book a flight to Paris", dataset="Train"
        ),
        UtteranceFactory.create(
            project=conv, intent=book, text="fly me to Rome", dataset="Test"
        ),
        UtteranceFactory.create(project=conv, intent=cancel, text="cancel my trip"),
    ]
    EntitySpanFactory.create(utterance=rows[0], entity=city, offset=17, length=5)
    return {"none": none, "book": book, "cancel": cancel, "city": city, "rows": rows}


def intent_of(pk: int) -> str:
    return Utterance.objects.get(pk=pk).intent.name


def spans_of(pk: int) -> list[tuple[str, int, int]]:
    return list(
        EntitySpan.objects.filter(utterance_id=pk)
        .order_by("offset")
        .values_list("entity__name", "offset", "length")
    )


# ---------------------------------------------------------------- multi-level undo


def test_single_edits_are_undone_one_by_one_newest_first(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][1]
    assert (
        analyst_client.post(
            url(conv, f"{row.pk}/intent/"), {"intent": "Cancel"}, **HTMX
        ).status_code
        == 200
    )
    analyst_client.post(url(conv, f"{row.pk}/dataset/"), {"toggle": "1"}, **HTMX)
    analyst_client.post(
        url(conv, f"{row.pk}/spans/"),
        {"entity": "City", "offset": 10, "length": 4},
        **HTMX,
    )
    row.refresh_from_db()
    assert (row.intent.name, row.dataset) == ("Cancel", "Train")
    assert spans_of(row.pk) == [("City", 10, 4)]
    assert LabelingUndo.objects.count() == 3

    first = analyst_client.post(url(conv, "undo/"), **HTMX).content.decode()
    assert "Undone: labeled City" in first
    assert spans_of(row.pk) == []
    second = analyst_client.post(url(conv, "undo/"), **HTMX).content.decode()
    assert "Undone: moved" in second
    row.refresh_from_db()
    assert (row.intent.name, row.dataset) == ("Cancel", "Test")
    analyst_client.post(url(conv, "undo/"), **HTMX)
    row.refresh_from_db()
    assert (row.intent.name, row.dataset) == ("Book", "Test")
    nothing = analyst_client.post(url(conv, "undo/"), **HTMX)
    assert nothing.status_code == 422
    assert "Nothing to undo" in nothing.content.decode()


def test_bulk_actions_and_single_edits_share_one_history(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    rows = data["rows"]
    analyst_client.post(
        url(conv, "bulk/"),
        {"action": "intent", "intent": "None", "ids": [r.pk for r in rows]},
        **HTMX,
    )
    analyst_client.post(url(conv, f"{rows[0].pk}/intent/"), {"intent": "Cancel"})
    analyst_client.post(url(conv, "bulk/"), {"action": "delete", "ids": [rows[2].pk]})
    assert conv.utterances.count() == 2
    for _ in range(2):
        analyst_client.post(url(conv, "undo/"), **HTMX)
    assert conv.utterances.count() == 3
    assert intent_of(rows[0].pk) == "None"
    analyst_client.post(url(conv, "undo/"), **HTMX)
    assert [intent_of(r.pk) for r in rows] == ["Book", "Book", "Cancel"]
    assert spans_of(rows[0].pk) == [("City", 17, 5)]


def test_removing_a_label_is_undone_with_the_label_back(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]
    span = EntitySpan.objects.get(utterance=row)
    analyst_client.post(url(conv, f"{row.pk}/spans/{span.pk}/delete/"), **HTMX)
    assert spans_of(row.pk) == []
    html = analyst_client.post(url(conv, "undo/"), **HTMX).content.decode()
    assert "Undone: removed label City" in html
    assert spans_of(row.pk) == [("City", 17, 5)]


def test_undo_history_is_per_user_and_per_project_and_capped(
    client_for: Callable[[str], Client],
    conv: Project,
    ui_projects: UiProjects,
    data: dict[str, Any],
) -> None:
    analyst, admin = client_for("analyst"), client_for("admin")
    row = data["rows"][2]
    for n in range(labeling.UNDO_LEVELS + 5):
        intent = "Book" if n % 2 == 0 else "Cancel"
        analyst.post(url(conv, f"{row.pk}/intent/"), {"intent": intent})
    history = LabelingUndo.objects.filter(project=conv)
    assert history.count() == labeling.UNDO_LEVELS
    assert admin.post(url(conv, "undo/"), **HTMX).status_code == 422
    other = ui_projects.orch
    assert analyst.post(url(other, "undo/"), **HTMX).status_code == 422
    assert analyst.post(url(conv, "undo/"), **HTMX).status_code == 200
    assert intent_of(row.pk) == "Cancel"


def test_the_history_keeps_only_a_few_large_steps(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bulk step over many rows stores every row: only the newest few stay."""
    monkeypatch.setattr(labeling, "LARGE_STEP_ROWS", 1)
    monkeypatch.setattr(labeling, "LARGE_STEPS_KEPT", 2)
    rows = data["rows"]
    pair = [rows[0].pk, rows[1].pk]
    for dataset in ("Train", "Test", "Train", "Test"):
        analyst_client.post(
            url(conv, "bulk/"), {"action": "dataset", "dataset": dataset, "ids": pair}
        )
    analyst_client.post(url(conv, f"{rows[2].pk}/intent/"), {"intent": "Book"})
    steps = list(LabelingUndo.objects.order_by("id").values_list("rows", "summary"))
    assert steps == [
        (2, "Moved 2 utterances to Train"),
        (2, "Moved 2 utterances to Test"),
        (1, "Assigned intent Book to “cancel my trip”"),
    ]


def test_the_undo_bar_names_the_last_change_and_how_many_steps_remain(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    rows = data["rows"]
    analyst_client.post(url(conv, f"{rows[0].pk}/intent/"), {"intent": "Cancel"})
    analyst_client.post(url(conv, f"{rows[1].pk}/dataset/"), {"dataset": "Train"})
    html = analyst_client.get(url(conv), **TABLE).content.decode()
    assert 'id="undo-button"' in html
    assert "Last change: moved “fly me to Rome” to Train" in html
    assert "2 steps to undo" in html


def test_a_failed_edit_records_no_undo_step(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]
    response = analyst_client.post(
        url(conv, f"{row.pk}/intent/"), {"intent": "Nope"}, **HTMX
    )
    assert response.status_code == 422
    stale = analyst_client.post(
        url(conv, f"{row.pk}/dataset/"), {"dataset": "Test", "version": "99"}, **HTMX
    )
    assert stale.status_code == 409
    assert not LabelingUndo.objects.exists()


# ---------------------------------------------------------------- edit text


def test_editing_the_text_keeps_labels_whose_words_are_still_there(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]  # "book a flight to Paris", City = "Paris"
    response = analyst_client.post(
        url(conv, f"{row.pk}/text/"),
        {"text": "please book two flights to Paris", "version": str(row.version)},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "please book two flights to Paris" in html
    assert "could not be kept" not in html
    assert spans_of(row.pk) == [("City", 27, 5)]
    analyst_client.post(url(conv, "undo/"), **HTMX)
    row.refresh_from_db()
    assert row.text == "book a flight to Paris"
    assert spans_of(row.pk) == [("City", 17, 5)]


def test_editing_away_a_labeled_word_warns_and_drops_only_that_label(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]
    date = EntityFactory.create(project=conv, name="Date")
    EntitySpanFactory.create(utterance=row, entity=date, offset=0, length=4)  # book
    response = analyst_client.post(
        url(conv, f"{row.pk}/text/"), {"text": "book a flight to Rome"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 entity label could not be kept: City “Paris”" in html
    assert spans_of(row.pk) == [("Date", 0, 4)]


def test_a_label_moves_with_its_word_when_text_is_inserted_before_it(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]
    analyst_client.post(
        url(conv, f"{row.pk}/text/"),
        {"text": "Paris: book a flight to Paris"},
        **HTMX,
    )
    # The diff keeps the original "Paris" (the last one), not the new first one.
    assert spans_of(row.pk) == [("City", 24, 5)]


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "Type the utterance"), ("x" * 501, "500")],
)
def test_bad_text_is_refused_next_to_the_field_and_nothing_changes(
    analyst_client: Client, conv: Project, data: dict[str, Any], text: str, message: str
) -> None:
    row = data["rows"][0]
    response = analyst_client.post(url(conv, f"{row.pk}/text/"), {"text": text}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert 'name="text"' in html  # the edit form stays open with the error
    assert "[0]" not in html
    row.refresh_from_db()
    assert row.text == "book a flight to Paris"
    assert not LabelingUndo.objects.exists()


def test_the_edit_form_is_a_row_fragment_and_viewers_cannot_edit(
    analyst_client: Client,
    viewer_client: Client,
    conv: Project,
    data: dict[str, Any],
) -> None:
    row = data["rows"][0]
    form = analyst_client.get(url(conv, f"{row.pk}/text/"), **HTMX)
    assert form.status_code == 200
    html = form.content.decode()
    assert html.lstrip().startswith(f'<tr id="utterance-{row.pk}"')
    assert 'value="book a flight to Paris"' in html
    assert viewer_client.get(url(conv, f"{row.pk}/text/"), **HTMX).status_code == 403
    refused = viewer_client.post(url(conv, f"{row.pk}/text/"), {"text": "x"})
    assert refused.status_code == 403


def test_a_plain_post_edits_and_goes_back_to_the_table(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][1]
    response = analyst_client.post(
        url(conv, f"{row.pk}/text/"), {"text": "fly me to Oslo", "next": "?q=fly"}
    )
    assert response.status_code == 302
    assert response["Location"] == url(conv) + "?q=fly"
    row.refresh_from_db()
    assert row.text == "fly me to Oslo"


# ---------------------------------------------------------------- duplicates


def test_normalized_text_ignores_case_spacing_and_width() -> None:
    assert normalized_text("  Book  a FLIGHT\tto Paris ") == "book a flight to paris"
    assert normalized_text("ＢＯＯＫ") == "book"
    assert normalized_text("Straße") == normalized_text("STRASSE")


def test_filters_show_duplicates_and_conflicting_labels(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    book, cancel = data["book"], data["cancel"]
    same = UtteranceFactory.create(
        project=conv, intent=book, text="Fly me to  ROME", dataset="Train"
    )
    clash_a = UtteranceFactory.create(project=conv, intent=book, text="cancel it")
    clash_b = UtteranceFactory.create(project=conv, intent=cancel, text="Cancel it")
    dupes = analyst_client.get(url(conv) + "?duplicates=all", **TABLE)
    assert dupes.status_code == 200
    assert sorted(ids_in(dupes.content.decode())) == sorted(
        [data["rows"][1].pk, same.pk, clash_a.pk, clash_b.pk]
    )
    conflicts = analyst_client.get(url(conv) + "?duplicates=conflicts", **TABLE)
    html = conflicts.content.decode()
    assert sorted(ids_in(html)) == [clash_a.pk, clash_b.pk]
    assert "matching the filter" in html
    page = analyst_client.get(url(conv)).content.decode()
    assert 'name="duplicates"' in page
    bad = analyst_client.get(url(conv) + "?duplicates=maybe", **TABLE)
    assert bad.status_code == 400


def _same_text_reference(project: Project) -> tuple[set[int], set[int]]:
    """The "same text" sets as they were computed before ``text_key`` existed:
    every text normalized in Python and grouped."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for pk, text, intent in project.utterances.values_list("pk", "text", "intent"):
        groups.setdefault(normalized_text(text), []).append((pk, intent))
    every: set[int] = set()
    clashing: set[int] = set()
    for rows in groups.values():
        if len(rows) > 1:
            every.update(pk for pk, _ in rows)
            if len({intent for _, intent in rows}) > 1:
                clashing.update(pk for pk, _ in rows)
    return every, clashing


def test_same_text_filters_match_python_grouping_after_every_kind_of_write(
    analyst_client: Client, conv: Project, data: dict[str, Any], users: UiUsers
) -> None:
    book, cancel = data["book"], data["cancel"]
    analyst = users.analyst

    def shown(which: str) -> set[int]:
        query = f"?duplicates={which}&size=200"
        response = analyst_client.get(url(conv) + query, **TABLE)
        assert response.status_code == 200
        return set(ids_in(response.content.decode()))

    def check() -> None:
        every, clashing = _same_text_reference(conv)
        assert shown("all") == every
        assert shown("conflicts") == clashing
        dupes = sl.duplicate_ids(project=conv)
        assert (set(dupes.all), set(dupes.conflicts)) == (every, clashing)

    # Created one by one (save), in bulk (lines added), full-width, ß, spacing.
    UtteranceFactory.create(project=conv, intent=cancel, text="ＦＬＹ me to rome")
    UtteranceFactory.create(project=conv, intent=book, text="Straße  north")
    labeling.utterances_add_lines(
        project=conv, intent="Cancel", text="STRASSE north\nsomething else"
    )
    check()
    # A text edit makes a new pair; undo takes it back (QuerySet.update(text=)).
    lone = conv.utterances.get(text="something else")
    labeling.utterance_text_edit(
        project=conv, pk=lone.pk, text="Cancel  MY trip", user=analyst
    )
    check()
    assert lone.pk in shown("all")
    labeling.labeling_undo(project=conv, user=analyst)
    check()
    assert lone.pk not in shown("all")
    # Relabeling resolves a conflict (intents counted per text).
    labeling.utterances_bulk_apply(
        project=conv,
        user=analyst,
        ids=sorted(shown("conflicts")),
        action="intent",
        value="Book",
    )
    check()
    assert shown("conflicts") == set()


def test_same_text_filter_pages_in_sql(
    conv: Project, data: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        UtteranceFactory.create(project=conv, intent=data["book"], text=f"Row {n}")
        UtteranceFactory.create(project=conv, intent=data["cancel"], text=f"row {n}")
    filters = sl.UtteranceFilter(duplicates="conflicts")
    with django_assert_max_num_queries(3) as queries:
        page = sl.utterance_page(project=conv, filters=filters, per_page=25)
    assert page.total == 60
    assert len(page.rows) == 25
    # Grouped by the stored key, not every text read back into Python.
    assert all("GROUP BY" in q["sql"] for q in queries.captured_queries[:1])


def test_bulk_assign_to_every_conflicting_row_resolves_the_conflict(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    UtteranceFactory.create(project=conv, intent=data["book"], text="CANCEL MY TRIP")
    analyst_client.post(
        url(conv, "bulk/"),
        {
            "action": "intent",
            "intent": "Cancel",
            "all_matching": "1",
            "next": "?duplicates=conflicts",
        },
        **HTMX,
    )
    after = analyst_client.get(url(conv) + "?duplicates=conflicts", **TABLE)
    assert ids_in(after.content.decode()) == []


def test_adding_lines_warns_about_conflicts_and_duplicates(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    response = analyst_client.post(
        url(conv, "add/"),
        {"intent": "Book", "text": "Cancel my trip\nfly me to rome\nbrand new line"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Added 3 utterances to Book." in html
    assert (
        "1 line is already labeled with another intent: “Cancel my trip” (Cancel)"
        in html
    )
    assert "1 line was already there with the same intent" in html
    assert "?duplicates=conflicts" in html


def test_an_upload_warns_about_conflicting_labels(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = json.dumps(
        [
            {"text": "CANCEL my trip", "intent": "Book"},
            {"text": "a new one", "intent": "Book"},
            {"text": "a NEW one", "intent": "Cancel"},
            {"text": "fly me to rome", "intent": "Book"},
            {"text": "unique", "intent": "Book"},
        ]
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post(
            url(conv, "upload/"),
            {"file": SimpleUploadedFile("u.json", body, "application/json")},
            **HTMX,
        )
    assert response.status_code == 200
    assert conv.utterances.count() == 8
    job = Job.objects.get(kind="utterances_upload")
    panel = analyst_client.get(f"/jobs/{job.job_id}/?in=data", **HTMX)
    html = panel.content.decode()
    assert "3 added utterances have the same text as others with a different" in html
    assert "1 added utterance duplicates a text already labeled the same way" in html
    assert "?duplicates=conflicts" in html


def test_the_palette_data_lists_the_entities_too(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    html = analyst_client.get(url(conv)).content.decode()
    block = re.search(
        r'<script id="intent-palette-data" type="application/json">(.*?)</script>',
        html,
        re.S,
    )
    assert block is not None
    palette = json.loads(block.group(1))
    assert palette["entities"] == ["City"]
    assert "Cancel" in palette["intents"]


@pytest.mark.parametrize(
    ("old", "new", "spans", "kept"),
    [
        # Text inserted before: the label moves with its word.
        ("fly to Paris", "please fly to Paris", [("City", 7, 5)], [("City", 14, 5)]),
        # The labeled word changed: gone.
        ("fly to Paris", "fly to Rome", [("City", 7, 5)], []),
        # The word grew: the label would now cut "Parisian" — dropped.
        ("fly to Paris", "fly to Parisian", [("City", 7, 5)], []),
        # Moved elsewhere in the sentence: found again by its text.
        (
            "Paris flights today",
            "today, flights to Paris",
            [("City", 0, 5)],
            [("City", 18, 5)],
        ),
        # A label that cut a word on purpose (character precision) may stay cut.
        ("fly to Paris", "fly to Paris now", [("X", 8, 3)], [("X", 8, 3)]),
    ],
)
def test_spans_reanchor(
    old: str,
    new: str,
    spans: list[tuple[str, int, int]],
    kept: list[tuple[str, int, int]],
) -> None:
    got, lost = labeling.spans_reanchor(old=old, new=new, spans=spans)
    assert got == kept
    assert len(lost) == len(spans) - len(kept)
