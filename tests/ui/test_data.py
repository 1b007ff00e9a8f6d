"""The Data (labeling) screen: pages and htmx fragments, every filter, sorting and
paging, pasted lines, inline edits, entity spans (emoji offsets), bulk actions and
their undo, file upload, the distribution panel, roles and bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from jobs.models import Job
from projects import services
from projects.models import (
    EntitySpan,
    Intent,
    LabelingUndo,
    Project,
    Utterance,
)
from projects.selectors import labeling as sl
from projects.services import labeling
from projects.views.data import text_segments
from tests.conftest import skip_or_fail
from tests.factories import (
    EntityFactory,
    EntitySpanFactory,
    IntentFactory,
    UtteranceFactory,
)
from tests.training.model_helpers import make_trained_model
from tests.ui.conftest import HTMX, UiProjects

TABLE = {**HTMX, "HTTP_HX_TARGET": "utterance-table"}
EMOJI_TEXT = "I \U0001f600 love Paris \U0001f1eb\U0001f1f7 in May"


def url(project: Project, suffix: str = "") -> str:
    return f"/projects/{project.name}/data/{suffix}"


def ids_in(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr id="utterance-(\d+)"', html)]


@pytest.fixture
def conv(ui_projects: UiProjects) -> Project:
    return ui_projects.conv


@pytest.fixture
def data(conv: Project) -> dict[str, Any]:
    """Two intents, one entity, five utterances of varied dataset and labels."""
    none = conv.intents.get(name="None")
    book = IntentFactory.create(project=conv, name="Book")
    cancel = IntentFactory.create(project=conv, name="Cancel")
    city = EntityFactory.create(project=conv, name="City")
    date = EntityFactory.create(project=conv, name="Date")
    rows = [
        UtteranceFactory.create(
            project=conv, intent=book, text="book a flight to Paris", dataset="Train"
        ),
        UtteranceFactory.create(
            project=conv, intent=book, text="fly me to Rome", dataset="Test"
        ),
        UtteranceFactory.create(project=conv, intent=cancel, text="cancel my trip"),
        UtteranceFactory.create(
            project=conv, intent=none, text="what is the weather", dataset="Train"
        ),
        UtteranceFactory.create(project=conv, intent=book, text=EMOJI_TEXT),
    ]
    EntitySpanFactory.create(utterance=rows[0], entity=city, offset=17, length=5)
    return {
        "none": none,
        "book": book,
        "cancel": cancel,
        "city": city,
        "date": date,
        "rows": rows,
    }


# ---------------------------------------------------------------- pages and roles


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer", "superuser"])
def test_every_member_reads_the_screen(
    client_for: Callable[[str], Client], conv: Project, data: dict[str, Any], role: str
) -> None:
    response = client_for(role).get(url(conv))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert sorted(ids_in(html)) == sorted(u.pk for u in data["rows"])
    assert 'id="distribution"' in html
    labels = role != "viewer"
    assert ('id="bulk-form"' in html) is labels
    assert ('id="add-lines"' in html) is labels
    assert ('class="intent-button"' in html) is labels
    assert ("Toggle Train / Test" in html) is labels  # shortcut help
    assert "Next / previous utterance" in html
    # No template comment shows as text ({# #} is one line only).
    assert "{#" not in html and "#}" not in html


def test_template_comments_are_single_line() -> None:
    """Django's {# #} ends at the line's end: one spread over lines is printed as
    text on the page (the Data page showed one under its table)."""
    root = Path(__file__).resolve().parents[2]
    leaks = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("templates", "projects", "studio", "training", "runtime")
        for path in sorted((root / folder).rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.count("{#") > line.count("#}")
    ]
    assert leaks == []


def test_non_members_get_404_and_anonymous_users_sign_in(
    outsider_client: Client, client: Client, conv: Project, data: dict[str, Any]
) -> None:
    pk = data["rows"][0].pk
    assert outsider_client.get(url(conv)).status_code == 404
    assert (
        outsider_client.post(
            url(conv, f"{pk}/intent/"), {"intent": "Cancel"}
        ).status_code
        == 404
    )
    response = client.get(url(conv))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Utterance.objects.get(pk=pk).intent == data["book"]


def test_a_knowledge_base_has_no_data_screen(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    assert admin_client_ui.get(url(ui_projects.kb)).status_code == 404


def test_orchestration_projects_label_intents_only(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    orch = ui_projects.orch
    UtteranceFactory.create(project=orch, intent=orch.intents.get(name="None"))
    html = admin_client_ui.get(url(orch)).content.decode()
    assert 'class="intent-button"' in html
    assert 'id="filter-entities"' not in html
    assert 'id="entity-picker"' not in html


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("post", "add/", {"intent": "Book", "text": "hello"}),
        ("post", "{pk}/intent/", {"intent": "Cancel"}),
        ("post", "{pk}/dataset/", {"toggle": "1"}),
        ("post", "{pk}/spans/", {"entity": "City", "offset": 0, "length": 4}),
        ("post", "{pk}/spans/{span}/delete/", {}),
        ("post", "bulk/", {"action": "delete", "ids": ["{pk}"]}),
        ("post", "undo/", {}),
        ("post", "upload/", {}),
    ],
)
def test_viewers_cannot_change_anything(
    viewer_client: Client,
    conv: Project,
    data: dict[str, Any],
    method: str,
    suffix: str,
    body: dict[str, Any],
) -> None:
    row = data["rows"][0]
    span = row.spans.get()
    fill = {"pk": row.pk, "span": span.pk}
    body = {
        k: [x.format(**fill) for x in v] if isinstance(v, list) else v
        for k, v in body.items()
    }
    before = list(Utterance.objects.values_list("pk", "intent_id", "dataset"))
    response = getattr(viewer_client, method)(url(conv, suffix.format(**fill)), body)
    assert response.status_code == 403
    assert list(Utterance.objects.values_list("pk", "intent_id", "dataset")) == before
    assert EntitySpan.objects.filter(pk=span.pk).exists()


def test_reads_are_get_only(admin_client_ui: Client, conv: Project) -> None:
    assert admin_client_ui.post(url(conv)).status_code == 405
    assert admin_client_ui.get(url(conv, "add/")).status_code == 405


# ---------------------------------------------------------------- table and filters


def test_htmx_aimed_at_the_table_gets_only_the_table(
    admin_client_ui: Client, conv: Project, data: dict[str, Any]
) -> None:
    html = admin_client_ui.get(url(conv), **TABLE).content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="utterance-table"')
    assert 'id="filter-form"' not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "PARIS"}, [0, 4]),
        ({"intent": "Book"}, [0, 1, 4]),
        ({"dataset": "Train"}, [0, 3]),
        ({"dataset": "Test"}, [1]),
        ({"dataset": "unassigned"}, [2, 4]),
        ({"unlabeled": "1"}, [3]),
        ({"entities": "yes"}, [0]),
        ({"entities": "no"}, [1, 2, 3, 4]),
        ({"entity": "City"}, [0]),
        ({"entity": "Date"}, []),
        ({"intent": "Book", "dataset": "unassigned", "q": "may"}, [4]),
    ],
)
def test_filters(
    admin_client_ui: Client,
    conv: Project,
    data: dict[str, Any],
    query: dict[str, str],
    expected: list[int],
) -> None:
    html = admin_client_ui.get(url(conv), query, **TABLE).content.decode()
    assert ids_in(html) == [data["rows"][i].pk for i in expected]
    assert f"of {len(expected)}" in html or not expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("id", [0, 1, 2, 3, 4]),
        ("-id", [4, 3, 2, 1, 0]),
        ("text", [4, 0, 2, 1, 3]),
        ("-text", [3, 1, 2, 0, 4]),
        ("intent", [0, 1, 4, 2, 3]),
        ("-intent", [3, 2, 4, 1, 0]),
        ("dataset", [1, 0, 3, 2, 4]),
    ],
)
def test_sorting(
    admin_client_ui: Client,
    conv: Project,
    data: dict[str, Any],
    sort: str,
    expected: list[int],
) -> None:
    html = admin_client_ui.get(url(conv), {"sort": sort}, **TABLE).content.decode()
    got = ids_in(html)
    if sort == "dataset":
        # NULLs sort last in PostgreSQL and first in SQLite: compare the labeled part.
        by_pk = {u.pk: u.dataset for u in data["rows"]}
        labeled = [pk for pk in got if by_pk[pk]]
        assert labeled == [
            data["rows"][i].pk for i in expected if by_pk[data["rows"][i].pk]
        ]
    else:
        assert got == [data["rows"][i].pk for i in expected]


def test_sort_headers_toggle_direction_and_keep_the_filter(
    admin_client_ui: Client, conv: Project, data: dict[str, Any]
) -> None:
    html = admin_client_ui.get(
        url(conv), {"intent": "Book", "sort": "text"}, **TABLE
    ).content.decode()
    assert 'aria-sort="ascending"' in html
    assert 'href="?intent=Book&amp;sort=-text"' in html


def test_paging_keeps_filters_and_clamps_past_the_end(
    admin_client_ui: Client, conv: Project, data: dict[str, Any]
) -> None:
    book = data["book"]
    extra = [
        UtteranceFactory.create(project=conv, intent=book, text=f"extra {n:02d}")
        for n in range(30)
    ]
    every = [u.pk for u in data["rows"]] + [u.pk for u in extra]
    first = admin_client_ui.get(url(conv), {"size": "25"}, **TABLE).content.decode()
    assert ids_in(first) == every[:25]
    assert "Page 1 of 2" in first
    assert 'href="?page=2&amp;size=25"' in first
    second = admin_client_ui.get(url(conv), {"size": "25", "page": "2"}, **TABLE)
    assert ids_in(second.content.decode()) == every[25:]
    past = admin_client_ui.get(url(conv), {"size": "25", "page": "99"}, **TABLE)
    assert ids_in(past.content.decode()) == every[25:]
    filtered = admin_client_ui.get(
        url(conv), {"q": "extra", "size": "25", "page": "2"}, **TABLE
    ).content.decode()
    assert ids_in(filtered) == [u.pk for u in extra[25:]]
    assert "q=extra" in filtered


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "bogus"},
        {"page": "abc"},
        {"page": "0"},
        {"size": "7"},
        {"dataset": "Validation"},
        {"entities": "maybe"},
        {"intent": "NoSuchIntent"},
        {"entity": "NoSuchEntity"},
        {"disagree": "1"},  # no model yet
    ],
)
def test_bad_filters_are_400_with_the_reason(
    admin_client_ui: Client, conv: Project, data: dict[str, Any], query: dict[str, str]
) -> None:
    for extra in ({}, TABLE):
        response = admin_client_ui.get(url(conv), query, **extra)
        assert response.status_code == 400
        assert "The filter is not valid" in response.content.decode()


def test_disagreement_filter_uses_the_latest_model(
    admin_client_ui: Client, conv: Project, data: dict[str, Any]
) -> None:
    sl.predictors_clear()
    book, cancel = data["book"], data["cancel"]
    texts = [
        "book a flight",
        "book a ticket",
        "reserve a flight",
        "book me a seat",
        "cancel my booking",
        "cancel the trip",
        "cancel it please",
        "please cancel",
    ]
    labels = ["Book"] * 4 + ["Cancel"] * 4
    make_trained_model(conv, "m1", texts, labels)
    # Labeled Book, but obviously a cancellation: the model disagrees.
    wrong = UtteranceFactory.create(
        project=conv, intent=book, text="cancel my booking please"
    )
    right = UtteranceFactory.create(project=conv, intent=cancel, text="cancel the trip")
    page = admin_client_ui.get(url(conv), **TABLE).content.decode()
    assert "Predicted" in page
    html = admin_client_ui.get(url(conv), {"disagree": "1"}, **TABLE).content.decode()
    shown = ids_in(html)
    assert wrong.pk in shown
    assert right.pk not in shown
    assert 'id="filter-disagree"' not in html  # the filter form is not in the fragment
    # Fixing the label takes it out of the filter (the remembered set is per
    # label state), and "all matching" resolves the same set.
    admin_client_ui.post(url(conv, f"{wrong.pk}/intent/"), {"intent": "Cancel"}, **HTMX)
    html = admin_client_ui.get(url(conv), {"disagree": "1"}, **TABLE).content.decode()
    assert wrong.pk not in ids_in(html)
    admin_client_ui.post(url(conv, f"{wrong.pk}/intent/"), {"intent": "Book"}, **HTMX)
    admin_client_ui.post(
        url(conv, "bulk/"),
        {
            "action": "intent",
            "intent": "Cancel",
            "all_matching": "1",
            "next": "?disagree=1",
        },
        **HTMX,
    )
    wrong.refresh_from_db()
    assert wrong.intent == cancel
    full = admin_client_ui.get(url(conv)).content.decode()
    assert 'name="disagree"' in full
    assert 'id="disagree-note"' not in full


def test_without_a_model_the_disagreement_filter_is_disabled_with_a_note(
    admin_client_ui: Client, conv: Project, data: dict[str, Any]
) -> None:
    html = admin_client_ui.get(url(conv)).content.decode()
    assert re.search(r'id="filter-disagree" disabled', html)
    assert "Available once a model is trained." in html


def test_disagreement_falls_back_to_evaluation_results_when_the_artifact_is_gone(
    admin_client_ui: Client, conv: Project, data: dict[str, Any]
) -> None:
    sl.predictors_clear()
    model = make_trained_model(conv, "m2", ["a b", "c d"], ["Book", "Cancel"])
    model.artifact_name = "models/missing.bin"
    model.save()
    wrong = data["rows"][2]  # labeled Cancel
    model.evaluation_results.create(
        position=0,
        utterance_id=wrong.pk,
        text=wrong.text,
        expected_intent="Cancel",
        predicted_intent="Book",
    )
    html = admin_client_ui.get(url(conv), {"disagree": "1"}, **TABLE).content.decode()
    assert ids_in(html) == [wrong.pk]
    assert "test utterances only" in html


# ---------------------------------------------------------------- add lines


def test_add_lines_htmx_adds_each_non_blank_line_and_refreshes(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    response = analyst_client.post(
        url(conv, "add/"),
        {
            "intent": "Cancel",
            "dataset": "Test",
            "text": "stop it\n\n  end my trip  \r\n",
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Added 2 utterances to Cancel." in html
    assert html.lstrip().startswith('<section id="add-lines"')
    triggers = json.loads(response["HX-Trigger"])
    assert set(triggers) == {"table-stale", "distribution-stale"}
    added = Utterance.objects.filter(
        project=conv, intent=data["cancel"], dataset="Test"
    )
    assert sorted(added.values_list("text", flat=True)) == ["end my trip", "stop it"]


def test_add_lines_plain_post_redirects_back_to_the_table(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    response = analyst_client.post(
        url(conv, "add/"),
        {"intent": "Book", "dataset": "", "text": "one\ntwo", "next": "?intent=Book"},
    )
    assert response.status_code == 302
    assert response["Location"] == url(conv) + "?intent=Book"
    page = analyst_client.get(response["Location"]).content.decode()
    assert "Added 2 utterances to Book." in page
    assert Utterance.objects.filter(text="two", dataset=None).exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"intent": "Book", "text": "   \n  "}, "text", "This field is required"),
        ({"intent": "Book", "text": "ok\n" + "x" * 501}, "text", "Line 2:"),
        ({"intent": "Nope", "text": "hello"}, "intent", "Select a valid choice"),
        ({"intent": "Book", "dataset": "Dev", "text": "hi"}, "dataset", "valid choice"),
    ],
)
def test_add_lines_errors_are_shown_next_to_the_field_and_keep_the_text(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    body: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = Utterance.objects.count()
    response = analyst_client.post(url(conv, "add/"), body, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert f'id="id_{field}_error"' in html
    assert 'aria-invalid="true"' in html
    if body["text"].strip():
        assert body["text"].splitlines()[0] in html
    plain = analyst_client.post(url(conv, "add/"), body)
    assert plain.status_code == 400
    assert message in plain.content.decode()
    assert "<html" in plain.content.decode()
    assert Utterance.objects.count() == before


def test_add_lines_respects_the_project_limit(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from projects import validators

    monkeypatch.setattr(validators, "MAX_UTTERANCES_PER_PROJECT", 6)
    response = analyst_client.post(
        url(conv, "add/"), {"intent": "Book", "text": "a\nb"}, **HTMX
    )
    assert response.status_code == 422
    assert "the limit is 6" in response.content.decode()
    assert conv.utterances.count() == 5


# ---------------------------------------------------------------- inline edits


def test_assign_intent_returns_the_row(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][2]
    response = analyst_client.post(
        url(conv, f"{row.pk}/intent/"), {"intent": "Book"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="utterance-{row.pk}"')
    assert 'data-intent="Book"' in html
    assert "distribution-stale" in response["HX-Trigger"]
    row.refresh_from_db()
    assert row.intent == data["book"]


def test_assign_intent_plain_post_keeps_the_table_query(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][2]
    response = analyst_client.post(
        url(conv, f"{row.pk}/intent/"),
        {"intent": "None", "next": "?q=trip&page=1"},
    )
    assert response.status_code == 302
    assert response["Location"] == url(conv) + "?q=trip&page=1"
    row.refresh_from_db()
    assert row.intent.name == "None"


def test_next_must_be_a_query_string(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][2]
    response = analyst_client.post(
        url(conv, f"{row.pk}/intent/"), {"intent": "Book", "next": "//evil.test/x"}
    )
    assert response["Location"] == url(conv)


def test_assign_unknown_intent_is_refused_with_the_row_and_error(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][2]
    response = analyst_client.post(
        url(conv, f"{row.pk}/intent/"), {"intent": "Nope"}, **HTMX
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Intent &#x27;Nope&#x27; does not exist" in html
    assert 'data-intent="Cancel"' in html
    plain = analyst_client.post(url(conv, f"{row.pk}/intent/"), {"intent": "Nope"})
    assert plain.status_code == 400
    row.refresh_from_db()
    assert row.intent == data["cancel"]


# ---------------------------------------------------------------- row versions

STALE = "This utterance was changed by someone else — reload to see the change."


def rendered_version(html: str, pk: int) -> int:
    """The version a row was rendered with (every row form posts it back)."""
    match = re.search(rf'<tr id="utterance-{pk}"[^>]* data-version="(\d+)"', html)
    assert match, html[:500]
    versions = set(re.findall(r'name="version" value="(\d+)"', html))
    assert versions == {match.group(1)}
    return int(match.group(1))


def test_row_forms_carry_the_version_they_rendered_and_each_edit_moves_it(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]
    page = analyst_client.get(url(conv, f"{row.pk}/"), **HTMX).content.decode()
    version = rendered_version(page, row.pk)
    seen = {version}
    for suffix, body in (
        ("intent/", {"intent": "Cancel"}),
        ("dataset/", {"toggle": "1"}),
        ("spans/", {"entity": "Date", "offset": 0, "length": 4}),
        ("dataset/", {"dataset": "Train"}),
    ):
        response = analyst_client.post(
            url(conv, f"{row.pk}/{suffix}"), {**body, "version": version}, **HTMX
        )
        assert response.status_code == 200, response.content
        # The row that comes back carries the new version: the next edit uses it.
        version = rendered_version(response.content.decode(), row.pk)
        seen.add(version)
    assert len(seen) == 5
    row.refresh_from_db()
    assert (row.intent.name, row.dataset, row.spans.count()) == ("Cancel", "Train", 2)


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("intent/", {"intent": "Cancel"}),
        ("dataset/", {"dataset": "Test"}),
        ("dataset/", {"toggle": "1"}),
        ("spans/", {"entity": "Date", "offset": 0, "length": 4}),
        ("spans/{span}/delete/", {}),
    ],
)
def test_an_edit_of_a_row_changed_since_it_was_rendered_overwrites_nothing(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    suffix: str,
    body: dict[str, Any],
) -> None:
    """Someone else changed the intent after the row was rendered: this edit is
    refused with a plain-language message in the row, which now shows their change
    (it used to overwrite it: an intent change racing a span add lost the intent)."""
    row = data["rows"][0]
    span = row.spans.get()
    page = analyst_client.get(url(conv, f"{row.pk}/"), **HTMX).content.decode()
    version = rendered_version(page, row.pk)
    services.utterances_bulk_update(
        project=conv, ids=[row.pk], changes={"intent": "None"}
    )
    before = (
        list(Utterance.objects.values_list("pk", "intent_id", "dataset", "version")),
        list(EntitySpan.objects.values_list("pk", "entity_id", "offset", "length")),
    )
    response = analyst_client.post(
        url(conv, f"{row.pk}/{suffix.format(span=span.pk)}"),
        {**body, "version": version},
        **HTMX,
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="utterance-{row.pk}"')
    assert STALE in html
    assert 'role="alert"' in html
    assert 'data-intent="None"' in html  # their change, shown
    assert rendered_version(html, row.pk) == before[0][0][3]
    after = (
        list(Utterance.objects.values_list("pk", "intent_id", "dataset", "version")),
        list(EntitySpan.objects.values_list("pk", "entity_id", "offset", "length")),
    )
    assert after == before
    plain = analyst_client.post(
        url(conv, f"{row.pk}/{suffix.format(span=span.pk)}"),
        {**body, "version": version},
    )
    assert plain.status_code == 409
    assert STALE in plain.content.decode()


def test_a_span_add_keeps_an_intent_change_made_while_it_ran(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a version (an old page): the span add reads the row, the intent is
    changed, then the spans are saved; only the spans are written."""
    row = data["rows"][0]
    real_update = labeling.utterance_update

    def race(**kwargs: Any) -> Utterance:
        Utterance.objects.filter(pk=row.pk).update(intent=data["cancel"])
        return real_update(**kwargs)

    monkeypatch.setattr(labeling, "utterance_update", race)
    response = analyst_client.post(
        url(conv, f"{row.pk}/spans/"),
        {"entity": "Date", "offset": 0, "length": 4},
        **HTMX,
    )
    assert response.status_code == 200, response.content
    row.refresh_from_db()
    assert row.intent == data["cancel"]
    assert row.spans.count() == 2


def test_rows_of_other_projects_are_404(
    analyst_client: Client, ui_projects: UiProjects, data: dict[str, Any]
) -> None:
    orch = ui_projects.orch
    other = UtteranceFactory.create(project=orch, intent=orch.intents.get(name="None"))
    conv = ui_projects.conv
    for suffix in ("intent/", "dataset/", "spans/"):
        response = analyst_client.post(
            url(conv, f"{other.pk}/{suffix}"), {"intent": "Book"}
        )
        assert response.status_code == 404
    assert analyst_client.get(url(conv, f"{other.pk}/")).status_code == 404
    assert analyst_client.get(url(conv, "999999/")).status_code == 404


def test_row_fragment(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]
    html = analyst_client.get(url(conv, f"{row.pk}/"), **HTMX).content.decode()
    assert html.lstrip().startswith(f'<tr id="utterance-{row.pk}"')


@pytest.mark.parametrize(
    ("start", "body", "expected"),
    [
        ("Train", {"toggle": "1"}, "Test"),
        ("Test", {"toggle": "1"}, "Train"),
        (None, {"toggle": "1"}, "Test"),
        ("Test", {"dataset": "Train"}, "Train"),
        ("Train", {"dataset": "unassigned"}, None),
    ],
)
def test_dataset_set_and_toggle(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    start: str | None,
    body: dict[str, str],
    expected: str | None,
) -> None:
    row = data["rows"][0]
    Utterance.objects.filter(pk=row.pk).update(dataset=start)
    response = analyst_client.post(url(conv, f"{row.pk}/dataset/"), body, **HTMX)
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.dataset == expected


@pytest.mark.parametrize("body", [{"dataset": "Dev"}, {}])
def test_bad_dataset_is_refused(
    analyst_client: Client, conv: Project, data: dict[str, Any], body: dict[str, str]
) -> None:
    row = data["rows"][0]
    response = analyst_client.post(url(conv, f"{row.pk}/dataset/"), body, **HTMX)
    assert response.status_code == 422
    row.refresh_from_db()
    assert row.dataset == "Train"


# ---------------------------------------------------------------- entity spans


def test_span_offsets_are_code_points_with_emoji(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][4]
    text = row.text
    start = text.index("Paris")
    assert start == 9  # "I " + 1 emoji code point + " love " ; UTF-16 would say 10
    response = analyst_client.post(
        url(conv, f"{row.pk}/spans/"),
        {"entity": "City", "offset": start, "length": 5},
        **HTMX,
    )
    assert response.status_code == 200
    span = row.spans.get()
    assert (span.offset, span.length) == (9, 5)
    assert text[span.offset : span.end] == "Paris"
    html = response.content.decode()
    assert "<q>Paris</q>" in html
    # The flag (two code points) labeled as a Date, overlapping nothing.
    flag = text.index("\U0001f1eb")
    analyst_client.post(
        url(conv, f"{row.pk}/spans/"),
        {"entity": "Date", "offset": flag, "length": 2},
        **HTMX,
    )
    html = analyst_client.get(url(conv, f"{row.pk}/"), **HTMX).content.decode()
    assert "<q>\U0001f1eb\U0001f1f7</q>" in html
    # The rendered text is exactly the utterance, so JS offsets map back.
    body = re.search(r'<div class="utt-text"[^>]*>(.*?)</div>', html, re.S)
    assert body is not None
    assert re.sub(r"<[^>]+>", "", body.group(1)) == text


def test_overlapping_spans_of_different_entities_stack(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]  # City on "Paris" (17+5)
    response = analyst_client.post(
        url(conv, f"{row.pk}/spans/"),
        {"entity": "Date", "offset": 10, "length": 12},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    # "Paris" is covered by both: two underlines, one per lane.
    assert re.search(r'data-underlines="\d \d"', html)
    assert 'title="City, Date"' in html or 'title="Date, City"' in html
    assert row.spans.count() == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"entity": "City", "offset": 18, "length": 2}, "overlaps another span"),
        ({"entity": "City", "offset": 17, "length": 5}, "already labeled"),
        ({"entity": "City", "offset": 20, "length": 50}, "runs past the end"),
        ({"entity": "Nope", "offset": 0, "length": 4}, "does not exist"),
        ({"entity": "City", "offset": -1, "length": 4}, "offset"),
        ({"entity": "City", "offset": 0, "length": 0}, "length"),
        ({"entity": "City", "offset": "x", "length": 2}, "offset"),
    ],
)
def test_bad_spans_are_refused(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    body: dict[str, Any],
    message: str,
) -> None:
    row = data["rows"][0]
    response = analyst_client.post(url(conv, f"{row.pk}/spans/"), body, **HTMX)
    assert response.status_code == 422
    # In the studio's words: "Offset: ...", never the field's API name alone.
    assert message in response.content.decode().lower()
    assert row.spans.count() == 1
    plain = analyst_client.post(url(conv, f"{row.pk}/spans/"), body)
    assert plain.status_code == 400
    assert row.spans.count() == 1


def test_remove_a_span(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    row = data["rows"][0]
    span = row.spans.get()
    other = EntitySpanFactory.create(
        utterance=data["rows"][1], entity=data["city"], offset=10, length=4
    )
    # A span of another utterance cannot be removed through this one.
    wrong = analyst_client.post(url(conv, f"{row.pk}/spans/{other.pk}/delete/"), **HTMX)
    assert wrong.status_code == 422
    assert EntitySpan.objects.filter(pk=other.pk).exists()
    response = analyst_client.post(
        url(conv, f"{row.pk}/spans/{span.pk}/delete/"), **HTMX
    )
    assert response.status_code == 200
    assert not row.spans.exists()
    assert "<q>" not in response.content.decode()
    plain = analyst_client.post(
        url(conv, f"{other.utterance_id}/spans/{other.pk}/delete/"), {"next": "?q=Rome"}
    )
    assert plain.status_code == 302
    assert plain["Location"] == url(conv) + "?q=Rome"
    assert not EntitySpan.objects.filter(pk=other.pk).exists()


def test_text_segments_put_overlaps_on_separate_lanes() -> None:
    class S:
        def __init__(self, pk: int, entity_id: int, offset: int, length: int) -> None:
            self.pk, self.entity_id, self.offset, self.length = (
                pk,
                entity_id,
                offset,
                length,
            )
            self.end = offset + length
            self.entity = type("E", (), {"name": f"E{entity_id}"})()

    spans = [S(1, 1, 0, 5), S(2, 2, 3, 5), S(3, 3, 6, 2)]
    segments = text_segments("abcdefghij", spans, {1: 0, 2: 1, 3: 2})
    assert "".join(s.text for s in segments) == "abcdefghij"
    assert [s.text for s in segments] == ["abc", "de", "f", "gh", "ij"]
    # Span 3 starts after span 1 ends: it reuses lane 0 while span 2 keeps lane 1.
    assert segments[3].underlines == "2 1"
    assert segments[2].underlines == "- 1"
    assert segments[4].underlines == ""


# ---------------------------------------------------------------- bulk and undo


def test_bulk_assign_intent_and_undo(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    rows = data["rows"]
    picked = [rows[0].pk, rows[2].pk, rows[3].pk]
    before = dict(Utterance.objects.values_list("pk", "intent_id"))
    response = analyst_client.post(
        url(conv, "bulk/"),
        {"action": "intent", "intent": "Cancel", "ids": picked, "next": "?sort=-id"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Assigned intent Cancel to 3 utterances" in html
    assert 'id="undo-button"' in html
    assert ids_in(html)[0] == rows[-1].pk  # the table keeps its sort
    assert set(
        Utterance.objects.filter(pk__in=picked).values_list("intent__name", flat=True)
    ) == {"Cancel"}
    undo = analyst_client.post(url(conv, "undo/"), {"next": "?sort=-id"}, **HTMX)
    assert undo.status_code == 200
    assert "Undone: assigned intent Cancel to 3 utterances." in undo.content.decode()
    assert dict(Utterance.objects.values_list("pk", "intent_id")) == before
    assert not LabelingUndo.objects.exists()
    again = analyst_client.post(url(conv, "undo/"), **HTMX)
    assert again.status_code == 422
    assert "Nothing to undo" in again.content.decode()


def test_bulk_move_everything_matching_the_filter_and_undo(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    before = dict(Utterance.objects.values_list("pk", "dataset"))
    response = analyst_client.post(
        url(conv, "bulk/"),
        {
            "action": "dataset",
            "dataset": "Test",
            "all_matching": "1",
            "next": "?intent=Book",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url(conv) + "?intent=Book"
    book_ids = {u.pk for u in data["rows"] if u.intent_id == data["book"].pk}
    after = dict(Utterance.objects.values_list("pk", "dataset"))
    assert {pk for pk, d in after.items() if d == "Test"} == book_ids
    assert {pk: after[pk] for pk in after if pk not in book_ids} == {
        pk: before[pk] for pk in before if pk not in book_ids
    }
    page = analyst_client.get(response["Location"]).content.decode()
    assert "Moved 3 utterances to Test" in page
    analyst_client.post(url(conv, "undo/"))
    assert dict(Utterance.objects.values_list("pk", "dataset")) == before


def test_bulk_delete_and_undo_brings_rows_back_with_ids_and_spans(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    rows = data["rows"]
    snapshot = list(
        Utterance.objects.order_by("pk").values_list(
            "pk", "text", "intent_id", "dataset", "language", "created_at"
        )
    )
    spans = list(
        EntitySpan.objects.values_list("utterance_id", "entity_id", "offset", "length")
    )
    response = analyst_client.post(
        url(conv, "bulk/"),
        {"action": "delete", "ids": [rows[0].pk, rows[1].pk]},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Deleted 2 utterances" in response.content.decode()
    assert conv.utterances.count() == 3
    assert not EntitySpan.objects.exists()
    analyst_client.post(url(conv, "undo/"), **HTMX)
    assert (
        list(
            Utterance.objects.order_by("pk").values_list(
                "pk", "text", "intent_id", "dataset", "language", "created_at"
            )
        )
        == snapshot
    )
    assert (
        list(
            EntitySpan.objects.values_list(
                "utterance_id", "entity_id", "offset", "length"
            )
        )
        == spans
    )


def test_undo_is_per_user(
    client_for: Callable[[str], Client], conv: Project, data: dict[str, Any]
) -> None:
    analyst, admin = client_for("analyst"), client_for("admin")
    analyst.post(
        url(conv, "bulk/"),
        {"action": "dataset", "dataset": "Train", "ids": [data["rows"][1].pk]},
        **HTMX,
    )
    assert 'id="undo-button"' not in admin.get(url(conv)).content.decode()
    assert admin.post(url(conv, "undo/"), **HTMX).status_code == 422
    assert analyst.post(url(conv, "undo/"), **HTMX).status_code == 200
    data["rows"][1].refresh_from_db()
    assert data["rows"][1].dataset == "Test"


def test_undo_skips_rows_deleted_since(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    rows = data["rows"]
    analyst_client.post(
        url(conv, "bulk/"),
        {"action": "intent", "intent": "None", "ids": [rows[1].pk, rows[2].pk]},
        **HTMX,
    )
    rows[1].delete()
    html = analyst_client.post(url(conv, "undo/"), **HTMX).content.decode()
    assert "1 utterance could not be restored" in html
    rows[2].refresh_from_db()
    assert rows[2].intent == data["cancel"]


def test_undo_after_the_previous_intent_was_deleted_restores_the_rest(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    """Bulk-move Cancel and Book rows to None, delete Cancel, undo: the Book row goes
    back, the Cancel row stays in None, the message says so and the entry is gone
    (it used to fail with a foreign-key error, 500 on every retry)."""
    rows = data["rows"]
    analyst_client.post(
        url(conv, "bulk/"),
        {"action": "intent", "intent": "None", "ids": [rows[0].pk, rows[2].pk]},
        **HTMX,
    )
    services.intent_delete(intent=data["cancel"])
    response = analyst_client.post(url(conv, "undo/"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Undone: assigned intent None to 2 utterances" in html
    assert "1 utterance could not be restored: its intent was deleted" in html
    rows[0].refresh_from_db()
    rows[2].refresh_from_db()
    assert rows[0].intent == data["book"]
    assert rows[2].intent == data["none"]
    assert not LabelingUndo.objects.exists()
    assert analyst_client.post(url(conv, "undo/"), **HTMX).status_code == 422


def test_undo_of_a_delete_says_which_labels_could_not_come_back(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    rows = data["rows"]
    analyst_client.post(
        url(conv, "bulk/"),
        {"action": "delete", "ids": [rows[0].pk, rows[2].pk]},
        **HTMX,
    )
    services.intent_delete(intent=data["cancel"])
    services.entity_delete(entity=data["city"])
    html = analyst_client.post(url(conv, "undo/"), **HTMX).content.decode()
    assert "1 utterance could not be restored: its intent was deleted" in html
    assert "1 entity label could not be restored: its entity was deleted" in html
    assert list(conv.utterances.filter(pk__in=[rows[0].pk, rows[2].pk])) == [rows[0]]
    assert not LabelingUndo.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "intent", "intent": "Book"}, "Select at least one utterance"),
        ({"action": "intent", "ids": ["{pk}"]}, "Pick the intent to assign"),
        ({"action": "intent", "intent": "Nope", "ids": ["{pk}"]}, "does not exist"),
        ({"action": "dataset", "ids": ["{pk}"]}, "Pick the dataset"),
        ({"action": "dataset", "dataset": "Dev", "ids": ["{pk}"]}, "valid choice"),
        ({"action": "explode", "ids": ["{pk}"]}, "valid choice"),
        ({"action": "delete", "ids": ["abc"]}, "is not an utterance id"),
        ({"action": "delete", "ids": ["{foreign}"]}, "do not exist in project"),
        ({"action": "delete", "all_matching": "1", "next": "?sort=nope"}, "sort"),
    ],
)
def test_bad_bulk_input_changes_nothing(
    analyst_client: Client,
    ui_projects: UiProjects,
    conv: Project,
    data: dict[str, Any],
    body: dict[str, Any],
    message: str,
) -> None:
    orch = ui_projects.orch
    foreign = UtteranceFactory.create(
        project=orch, intent=orch.intents.get(name="None")
    )
    fill = {"pk": data["rows"][0].pk, "foreign": foreign.pk}
    body = {
        k: [x.format(**fill) for x in v] if isinstance(v, list) else v
        for k, v in body.items()
    }
    before = list(Utterance.objects.values_list("pk", "intent_id", "dataset"))
    response = analyst_client.post(url(conv, "bulk/"), body, **HTMX)
    assert response.status_code == 422
    assert message in response.content.decode()
    plain = analyst_client.post(url(conv, "bulk/"), body)
    assert plain.status_code == 400
    assert message in plain.content.decode()
    assert list(Utterance.objects.values_list("pk", "intent_id", "dataset")) == before
    assert not LabelingUndo.objects.exists()


def test_bulk_over_more_rows_than_one_chunk(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from projects.services import labeling

    monkeypatch.setattr(labeling, "CHUNK", 2)
    response = analyst_client.post(
        url(conv, "bulk/"),
        {"action": "delete", "all_matching": "1", "next": "?"},
        **HTMX,
    )
    assert "Deleted 5 utterances" in response.content.decode()
    assert not conv.utterances.exists()
    analyst_client.post(url(conv, "undo/"), **HTMX)
    assert conv.utterances.count() == 5
    assert EntitySpan.objects.count() == 1


# ---------------------------------------------------------------- upload


def _upload(client: Client, project: Project, content: bytes, **extra: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = {"file": SimpleUploadedFile("u.json", content, "application/json")}
    body.update(extra.pop("body", {}))
    return client.post(url(project, "upload/"), body, **extra)


def _run_upload(
    client: Client, project: Project, content: bytes, capture: Any, **extra: Any
) -> tuple[Any, Job]:
    """Post a file and run its job (eagerly, as the worker would); returns the
    response and the finished job."""
    with capture(execute=True):
        response = _upload(client, project, content, **extra)
    return response, Job.objects.get(kind="utterances_upload")


def test_upload_the_azure_sample_file(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    shared_data: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    path = shared_data / "azure-language-samples" / "CLU" / "clu_utterances.json"
    if not path.exists():
        skip_or_fail(f"{path} is not available")
    response, job = _run_upload(
        analyst_client,
        conv,
        path.read_bytes(),
        django_capture_on_commit_callbacks,
        **HTMX,
    )
    assert response.status_code == 200
    assert job.status == "succeeded"
    poll = analyst_client.get(f"/jobs/{job.job_id}/", **HTMX)
    html = poll.content.decode()
    assert "Added 50 utterances." in html
    assert "New intents: CheckBill" in html
    assert "Show me my billing history." in html
    assert set(json.loads(poll["HX-Trigger"])) == {
        "table-stale",
        "distribution-stale",
    }
    assert conv.utterances.count() == 55


def test_an_upload_is_checked_in_the_request_and_applied_by_a_job(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(3)]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = _upload(analyst_client, conv, json.dumps(document).encode(), **HTMX)

    # The request only checked and queued: the panel follows the job.
    assert response.status_code == 200
    job = Job.objects.get(kind="utterances_upload")
    assert job.status == "notStarted"
    assert job.params["utterances"] == 3
    assert job.queue == "short"  # a small file (jobs.queues routes by size)
    html = response.content.decode()
    assert f'hx-get="/jobs/{job.job_id}/?in=data"' in html
    assert "Cancel upload" in html
    assert conv.utterances.count() == 5
    assert len(queued) == 1
    # A reload of the screen still follows the upload.
    assert (
        f'hx-get="/jobs/{job.job_id}/?in=data"'
        in analyst_client.get(url(conv)).content.decode()
    )

    queued[0]()  # the worker runs it
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.result["added"] == 3
    assert conv.utterances.count() == 8
    page = analyst_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert "Uploading utterances to conv" in page
    assert "Added 3 utterances." in page
    assert "Back to the Data screen" in page
    panel = analyst_client.get(f"/jobs/{job.job_id}/?in=data", **HTMX)
    assert "Added 3 utterances." in panel.content.decode()
    assert "Back to the Data screen" not in panel.content.decode()


def test_upload_converts_utf16_offsets_and_lists_what_was_added(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    text = "\U0001f600 fly to Oslo"
    document = [
        {
            "text": text,
            "intent": "Travel",
            "dataset": "Test",
            # Azure counts the emoji as two UTF-16 code units: Oslo is at 10.
            "entities": [{"category": "Destination", "offset": 10, "length": 4}],
        }
    ]
    _, job = _run_upload(
        analyst_client,
        conv,
        json.dumps(document).encode(),
        django_capture_on_commit_callbacks,
        **HTMX,
    )
    html = analyst_client.get(f"/jobs/{job.job_id}/", **HTMX).content.decode()
    assert "Added 1 utterance." in html
    assert "New intents: Travel." in html
    assert "New entities: Destination." in html
    span = EntitySpan.objects.get(entity__name="Destination")
    assert (span.offset, span.length) == (9, 4)
    assert text[9:13] == "Oslo"


def test_upload_plain_post_goes_to_the_job_page(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = [{"text": "hello there", "intent": "Book", "entities": []}]
    response, job = _run_upload(
        analyst_client,
        conv,
        json.dumps(document).encode(),
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.job_id}/"
    page = analyst_client.get(response["Location"]).content.decode()
    assert "Added 1 utterance." in page
    assert "hello there" in page


def test_a_waiting_upload_can_be_cancelled_and_adds_nothing(
    analyst_client: Client,
    viewer_client: Client,
    conv: Project,
    data: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = [{"text": "hello there", "intent": "Book"}]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        _upload(analyst_client, conv, json.dumps(document).encode(), **HTMX)
    job = Job.objects.get(kind="utterances_upload")
    cancel = f"/jobs/{job.job_id}/cancel"

    assert viewer_client.post(cancel, **HTMX).status_code == 404  # may not label
    response = analyst_client.post(cancel, **HTMX)
    assert response.status_code == 200
    assert 'data-status="cancelled"' in response.content.decode()
    assert "nothing was added" in response.content.decode()
    queued[0]()  # a late delivery of the task finds the job cancelled
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert conv.utterances.count() == 5


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"[{\n", "Line 2: the file is not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"text": "x"}', "JSON array of utterances"),
        (b'[{"text": "a\\u0000b", "intent": "Book"}]', "NUL character"),
        (b"[" * 100 + b"]" * 100, "nested deeper than 64 levels"),
        (b"[]", "JSON array of utterances"),
        (
            b'[\n  {"text": "ok", "intent": "Book"},\n'
            b'  {"text": "", "intent": "Book"}\n]',
            "Line 3, text: Utterance text must not be empty",
        ),
        (
            b'[{"text": "abc", "intent": "Book",\n "entities": [{"category": "City", '
            b'"offset": 2, "length": 9}]}]',
            "Line 1, entity label 1: Entity",
        ),
    ],
)
def test_bad_upload_adds_nothing_and_says_where_in_words(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    content: bytes,
    where: str,
) -> None:
    before = Utterance.objects.count()
    response = _upload(analyst_client, conv, content, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Nothing was added" in html
    assert where in html
    assert "[0]" not in html and "[1]" not in html  # no JSON paths
    plain = _upload(analyst_client, conv, content)
    assert plain.status_code == 400
    assert where in plain.content.decode()
    assert Utterance.objects.count() == before
    assert not Intent.objects.filter(name="Travel").exists()
    assert not Job.objects.exists()


def test_every_bad_line_is_listed(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    lines = [json.dumps({"text": "fine", "intent": "Book"})] * 6
    lines[2] = json.dumps({"text": "", "intent": "Book"})
    lines[4] = json.dumps({"text": "no intent"})
    content = ("[\n" + ",\n".join(lines) + "\n]").encode()

    html = _upload(analyst_client, conv, content, **HTMX).content.decode()

    assert "Nothing was added: 2 problems, listed below." in html
    assert "Line 4, text: Utterance text must not be empty" in html
    assert "Line 6, intent: " in html


def test_the_upload_size_limit_is_the_api_body_limit(
    analyst_client: Client,
    conv: Project,
    data: dict[str, Any],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.STUDIO_MAX_REQUEST_BYTES = 2_000
    item = {"text": "x" * 80, "intent": "Book"}
    small = json.dumps([item] * 17).encode()
    big = json.dumps([item] * 19).encode()
    assert len(small) <= 2_000 < len(big)

    refused = _upload(analyst_client, conv, big, **HTMX)
    assert refused.status_code == 422
    assert "the limit is 0.0 MB (2,000 bytes)" in refused.content.decode()
    assert not Job.objects.exists()
    api = analyst_client.post(
        "/language/authoring/analyze-conversations/projects/conv/:import"
        "?api-version=2023-04-01",
        big,
        content_type="application/json",
    )
    assert api.status_code == 413  # the same bytes, refused by the API too
    _, job = _run_upload(
        analyst_client, conv, small, django_capture_on_commit_callbacks, **HTMX
    )
    assert job.status == "succeeded"


def test_upload_without_a_file_or_with_a_bad_index_type(
    analyst_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    response = analyst_client.post(url(conv, "upload/"), {}, **HTMX)
    assert response.status_code == 422
    assert "This field is required" in response.content.decode()
    response = _upload(
        analyst_client, conv, b"[]", body={"string_index_type": "Bytes"}, **HTMX
    )
    assert response.status_code == 422
    assert "valid choice" in response.content.decode()


# ---------------------------------------------------------------- distribution


def test_distribution_counts_and_warnings(
    viewer_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    IntentFactory.create(project=conv, name="Empty")
    response = viewer_client.get(url(conv, "distribution/"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="distribution"')
    assert "5 utterances" in html
    assert "2 Train" in html and "1 Test" in html and "2 unassigned" in html
    assert "No utterances: the intent cannot be trained." in html  # Empty
    assert "Only 1 utterance" in html  # Cancel
    assert "No Test utterance: cannot be evaluated with a manual split." in html
    assert "fine for None" not in html  # None has one utterance


def test_distribution_flags_an_intent_whose_utterances_are_all_test() -> None:
    # Pure function over the counts: no database needed.
    intent = Intent(name="Only")
    notes = sl._intent_notes(
        intent, {"total": 3, "Train": 0, "Test": 3, "unassigned": 0}
    )
    assert notes[0] == (
        "error",
        "Every utterance is Test: nothing to train on with a manual split.",
    )


def test_distribution_levels(conv: Project, data: dict[str, Any]) -> None:
    book = data["book"]
    for n in range(5):
        UtteranceFactory.create(project=conv, intent=book, text=f"b{n}", dataset="Test")
    dist = sl.labeling_distribution(project=conv)
    by_name = {r.intent.name: r for r in dist.rows}
    assert by_name["Book"].level == "ok"
    assert by_name["Cancel"].level == "warn"
    assert (
        by_name["Book"].train,
        by_name["Book"].test,
        by_name["Book"].unassigned,
    ) == (
        1,
        6,
        1,
    )
    assert dist.total == 10


def test_entity_picker_and_legend_are_rendered_for_labelers(
    analyst_client: Client, viewer_client: Client, conv: Project, data: dict[str, Any]
) -> None:
    html = analyst_client.get(url(conv)).content.decode()
    assert 'id="entity-picker"' in html
    assert 'data-entity="City" data-key="1"' in html
    assert 'data-entity="Date" data-key="2"' in html
    assert "<kbd>e</kbd>" in html  # registered in the shortcut help
    assert 'aria-label="Entity colours"' in html
    assert 'id="entity-picker"' not in viewer_client.get(url(conv)).content.decode()
