"""The evaluation screens at the size of real projects (issue #12, item 2): a
CLINC150-sized project (150 intents, 15,000 utterances, about 3,000 test
utterances) keeps its evaluation page small, draws only the non-zero cells of the
confusion matrix as interactive (one tab stop for the grid), collapses and sorts the
matrix, lists the top confusions, fixes labels from "Errors only" in place, and the
comparison warns about different test sets and sorts by the change.

The models' evaluations are built directly (``bench.labeling.seed_evaluation``),
not trained, so each project takes seconds. Sizes are asserted, timings never
(``python -m bench.labeling`` measures them).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db.models import F
from django.test import Client

from bench.labeling import SeededEvaluation, seed_evaluation
from projects.models import Utterance
from tests.ui.conftest import HTMX, UiUsers
from training.models import EvaluationResult, TrainedModel

pytestmark = pytest.mark.django_db

MEMBERS = (("ana-analyst", "analyst"), ("vic-viewer", "viewer"))
PAGE_LIMIT_BYTES = 1_500_000


def seeded(n_intents: int, n_utterances: int) -> SeededEvaluation:
    return seed_evaluation(
        n_intents=n_intents, n_utterances=n_utterances, name="big", members=MEMBERS
    )


@pytest.fixture
def clinc(users: UiUsers) -> SeededEvaluation:
    return seeded(150, 15_000)


@pytest.fixture
def small(users: UiUsers) -> SeededEvaluation:
    return seeded(20, 2000)


def summary(label: str) -> dict[str, Any]:
    model = TrainedModel.objects.get(project__name="big", label=label)
    evaluation: dict[str, Any] = model.evaluation_summary["intentsEvaluation"]
    return evaluation


def nonzero_cells(label: str) -> int:
    return sum(
        1
        for row in summary(label)["confusionMatrix"].values()
        for cell in row.values()
        if cell["rawValue"]
    )


def matrix_html(html: str) -> str:
    start = html.index('id="confusion-matrix"')
    return html[start : html.index("</table>", start)]


def error_counts(label: str) -> dict[str, float]:
    """Per intent, the test utterances it was mistaken for or taken by."""
    counts: dict[str, float] = {}
    for expected, row in summary(label)["confusionMatrix"].items():
        for predicted, cell in row.items():
            if predicted != expected:
                counts[expected] = counts.get(expected, 0) + cell["rawValue"]
                counts[predicted] = counts.get(predicted, 0) + cell["rawValue"]
    return counts


def test_page_at_150_intents_stays_under_the_size_limit(
    analyst_client: Client, clinc: SeededEvaluation
) -> None:
    response = analyst_client.get("/projects/big/models/m1/")
    assert response.status_code == 200
    assert len(response.content) < PAGE_LIMIT_BYTES, len(response.content)
    html = response.content.decode()
    # Everything is still there: 150 intents, the top confusions, errors.
    assert html.count('class="heatmap__col"') == 150
    assert 'id="top-confusions"' in html and 'id="error-table"' in html


def test_focusable_matrix_cells_are_the_nonzero_cells_with_one_tab_stop(
    analyst_client: Client, clinc: SeededEvaluation
) -> None:
    grid = matrix_html(analyst_client.get("/projects/big/models/m1/").content.decode())
    nonzero = nonzero_cells("m1")
    assert 150 < nonzero < 150 * 150 / 10
    links = re.findall(r"<a [^>]*>", grid)
    assert len(links) == nonzero
    tabindexes = re.findall(r'tabindex="(-?\d+)"', grid)
    assert len(tabindexes) == nonzero
    assert tabindexes.count("0") == 1
    assert set(tabindexes) == {"0", "-1"}
    assert 'role="grid"' in grid
    # Zero cells are drawn as empty runs, not one cell each.
    assert grid.count("<td") < 3 * nonzero + 150


def test_matrix_collapses_to_intents_with_errors(
    viewer_client: Client, small: SeededEvaluation
) -> None:
    with_errors = error_counts("m1")
    fragment = viewer_client.get(
        "/projects/big/models/m1/", {"part": "matrix", "rows": "errors"}, **HTMX
    ).content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="matrix-section"')
    columns = re.findall(r'<th scope="col" class="heatmap__col">([^<]+)</th>', fragment)
    assert set(columns) == set(with_errors)
    assert len(columns) < len(small.intent_names)
    assert 'aria-current="true" id="matrix-only-errors"' in fragment
    full = viewer_client.get(
        "/projects/big/models/m1/", {"part": "matrix"}, **HTMX
    ).content.decode()
    assert full.count('class="heatmap__col"') == len(small.intent_names)


def test_matrix_sorts_by_errors_and_by_name_keeping_the_diagonal(
    viewer_client: Client, small: SeededEvaluation
) -> None:
    counts = error_counts("m1")
    fragment = viewer_client.get(
        "/projects/big/models/m1/", {"part": "matrix", "order": "errors"}, **HTMX
    ).content.decode()
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>', fragment)
    columns = re.findall(r'<th scope="col" class="heatmap__col">([^<]+)</th>', fragment)
    assert rows == columns
    assert [counts.get(name, 0) for name in rows] == sorted(
        (counts.get(name, 0) for name in rows), reverse=True
    )
    by_name = viewer_client.get(
        "/projects/big/models/m1/",
        {"part": "matrix", "order": "name", "dir": "desc"},
        **HTMX,
    ).content.decode()
    names = re.findall(r'<tr><th scope="row">([^<]+)</th>', by_name)
    assert names == sorted(names, key=str.lower)
    # The other choices are kept in the links.
    assert (
        "order=name"
        in by_name.split('aria-label="Intents shown"')[1].split("</div>")[0]
    )


def test_top_confusions_are_the_largest_off_diagonal_cells(
    viewer_client: Client, small: SeededEvaluation
) -> None:
    pairs = sorted(
        (
            (-cell["rawValue"], expected, predicted)
            for expected, row in summary("m1")["confusionMatrix"].items()
            for predicted, cell in row.items()
            if predicted != expected
        ),
    )
    html = viewer_client.get("/projects/big/models/m1/").content.decode()
    section = html.split('id="top-confusions"')[1].split("</ol>")[0]
    listed = re.findall(r'data-expected="([^"]+)" data-predicted="([^"]+)"', section)
    assert listed[0] == (pairs[0][1], pairs[0][2])
    assert len(listed) == min(25, len(pairs))
    # A pair opens the utterances of its cell.
    expected, predicted = listed[0]
    cell = viewer_client.get(
        "/projects/big/models/m1/cell",
        {"expected": expected, "predicted": predicted},
        **HTMX,
    ).content.decode()
    texts = EvaluationResult.objects.filter(
        model__label="m1",
        model__project__name="big",
        expected_intent=expected,
        predicted_intent=predicted,
    ).values_list("text", flat=True)
    assert texts and all(text in cell for text in texts)


def first_error() -> EvaluationResult:
    result = (
        EvaluationResult.objects.filter(model__project__name="big", model__label="m1")
        .exclude(expected_intent=F("predicted_intent"))
        .order_by("position")
        .first()
    )
    assert result is not None and result.utterance_id is not None
    return result


def test_errors_only_relabels_in_place(
    analyst_client: Client, small: SeededEvaluation
) -> None:
    result = first_error()
    page = analyst_client.get("/projects/big/models/m1/").content.decode()
    errors = page.split('id="error-table"')[1].split("</table>")[0]
    row = errors.split(f'id="errors-result-{result.position}"')[1].split("</tr>")[0]
    assert 'name="intent"' in row and "Relabel" in row
    assert f'name="utterance_id" value="{result.utterance_id}"' in row
    response = analyst_client.post(
        "/projects/big/models/m1/relabel",
        {
            "utterance_id": result.utterance_id,
            "position": result.position,
            "source": "errors",
            "intent": result.predicted_intent,
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    # Only the row comes back, redrawn with the new label.
    assert html.lstrip().startswith(f'<tr id="errors-result-{result.position}"')
    assert f'<td class="label-now">{result.predicted_intent}</td>' in html
    assert "Relabeled as" in html
    utterance = Utterance.objects.get(pk=result.utterance_id or 0)
    assert utterance.intent.name == result.predicted_intent


def test_errors_only_refusal_is_plain_and_changes_nothing(
    analyst_client: Client, viewer_client: Client, small: SeededEvaluation
) -> None:
    result = first_error()
    data = {
        "utterance_id": result.utterance_id,
        "position": result.position,
        "source": "errors",
        "intent": "NoSuchIntent",
    }
    response = analyst_client.post("/projects/big/models/m1/relabel", data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    message = re.search(rf'id="relabel-error-errors-{result.position}">([^<]+)<', html)
    assert message is not None
    assert "NoSuchIntent" in message.group(1)
    assert not re.search(r"\w\[\d+\]|assets\.|\bids?\b", message.group(1))
    assert f'aria-describedby="relabel-error-errors-{result.position}"' in html
    empty = analyst_client.post(
        "/projects/big/models/m1/relabel", {**data, "intent": ""}, **HTMX
    )
    assert empty.status_code == 422 and "Choose an intent." in empty.content.decode()
    gone = analyst_client.post(
        "/projects/big/models/m1/relabel",
        {**data, "utterance_id": "99999999", "intent": result.predicted_intent},
        **HTMX,
    )
    assert gone.status_code == 422
    assert "deleted since the evaluation" in gone.content.decode()
    viewer = viewer_client.post(
        "/projects/big/models/m1/relabel",
        {**data, "intent": result.predicted_intent},
        **HTMX,
    )
    assert viewer.status_code == 403
    assert Utterance.objects.get(pk=result.utterance_id or 0).intent.name == (
        result.expected_intent
    )
    # A viewer's page has no fix forms.
    page = viewer_client.get("/projects/big/models/m1/").content.decode()
    assert "Fix the label" not in page and 'name="intent"' not in page


def test_errors_only_is_paged_with_a_fragment(
    viewer_client: Client, small: SeededEvaluation
) -> None:
    total = (
        EvaluationResult.objects.filter(model__project__name="big", model__label="m1")
        .exclude(expected_intent=F("predicted_intent"))
        .count()
    )
    assert total > 25
    fragment = viewer_client.get(
        "/projects/big/models/m1/", {"part": "errors", "errors_page": "2"}, **HTMX
    ).content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="errors-section"')
    assert f"Errors only ({total})" in fragment
    assert fragment.count('<tr id="errors-result-') == min(25, total - 25)
    assert "Page 2 of" in fragment
    # A page number out of range shows the last page instead of failing; one that
    # is not a number is not echoed into the page's links.
    last = viewer_client.get(
        "/projects/big/models/m1/", {"part": "errors", "errors_page": "999"}, **HTMX
    )
    assert last.status_code == 200 and "Page 2 of 2" in last.content.decode()
    junk = "9" * 5000 + "x"
    page = viewer_client.get("/projects/big/models/m1/", {"errors_page": junk})
    assert page.status_code == 200 and junk[:100] not in page.content.decode()


def test_errors_only_relabel_without_javascript_returns_to_the_list(
    analyst_client: Client, small: SeededEvaluation
) -> None:
    result = first_error()
    response = analyst_client.post(
        "/projects/big/models/m1/relabel",
        {
            "utterance_id": result.utterance_id,
            "position": result.position,
            "source": "errors",
            "errors_page": "2",
            "intent": result.predicted_intent,
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("errors_page=2#errors-section")
    page = analyst_client.get(response["Location"]).content.decode()
    assert f"Relabeled as {result.predicted_intent}" in page


def test_compare_warns_when_the_test_sets_differ_and_sorts_by_delta(
    viewer_client: Client, small: SeededEvaluation
) -> None:
    html = viewer_client.get(
        "/projects/big/models/compare", {"a": "m1", "b": "m2", "sort": "delta"}
    ).content.decode()
    assert 'id="test-set-warning"' in html
    warning = html.split('id="test-set-warning"')[1].split("</p>")[0]
    a = EvaluationResult.objects.filter(model__label="m1").count()
    b = EvaluationResult.objects.filter(model__label="m2").count()
    assert f"m1 on {a}" in warning and f"m2 on {b}" in warning
    table = html.split('id="compare-table"')[1].split("</table>")[0]
    assert 'aria-sort="descending"' in table
    deltas = [
        float(v.replace("+", "").replace("−", "-"))
        for v in re.findall(
            r'<td class="num (?:delta--up|delta--down|)">([-+]?[\d.]+)</td>', table
        )
    ]
    assert len(deltas) == len(small.intent_names)
    assert deltas == sorted(deltas, reverse=True)
    ascending = viewer_client.get(
        "/projects/big/models/compare",
        {"a": "m1", "b": "m2", "sort": "delta", "dir": "asc"},
    ).content.decode()
    assert 'aria-sort="ascending"' in ascending
    # The same model's test set twice (m1 against a copy of itself): no warning.
    m1 = TrainedModel.objects.get(label="m1")
    copy = TrainedModel.objects.create(
        project=m1.project,
        label="m1copy",
        model_id="m1copy-1",
        training_mode="standard",
        training_config_version="bench",
        evaluation_options=m1.evaluation_options,
        evaluation_summary=m1.evaluation_summary,
        trained_at=m1.trained_at,
        expires_on=m1.expires_on,
    )
    EvaluationResult.objects.bulk_create(
        [
            EvaluationResult(
                model=copy,
                position=r.position,
                utterance_id=r.utterance_id,
                text=r.text,
                expected_intent=r.expected_intent,
                predicted_intent=r.predicted_intent,
            )
            for r in EvaluationResult.objects.filter(model=m1)
        ]
    )
    same = viewer_client.get(
        "/projects/big/models/compare", {"a": "m1", "b": "m1copy"}
    ).content.decode()
    assert 'id="compare-table"' in same and 'id="test-set-warning"' not in same


def test_relabel_from_a_stale_row_is_refused_and_shows_the_other_change(
    analyst_client: Client, small: SeededEvaluation
) -> None:
    """The Data page's version rule: a row rendered before someone else changed
    the utterance cannot overwrite that change (409, the row redrawn with it)."""
    result = first_error()
    page = analyst_client.get("/projects/big/models/m1/").content.decode()
    row = page.split(f'id="errors-result-{result.position}"')[1].split("</tr>")[0]
    rendered = re.search(r'name="version" value="(\d+)"', row)
    assert rendered is not None
    # Someone else relabels it on the Data page meanwhile.
    other = analyst_client.post(
        f"/projects/big/data/{result.utterance_id}/intent/",
        {"intent": "intent_009", "version": rendered.group(1)},
        **HTMX,
    )
    assert other.status_code == 200
    response = analyst_client.post(
        "/projects/big/models/m1/relabel",
        {
            "utterance_id": result.utterance_id,
            "position": result.position,
            "source": "errors",
            "version": rendered.group(1),
            "intent": result.predicted_intent,
        },
        **HTMX,
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed by someone else" in html
    assert '<td class="label-now">intent_009</td>' in html
    fresh = re.search(r'name="version" value="(\d+)"', html)
    assert fresh is not None and fresh.group(1) != rendered.group(1)
    assert Utterance.objects.get(pk=result.utterance_id or 0).intent.name == (
        "intent_009"
    )
    # With the version the row now carries, the fix goes through.
    retry = analyst_client.post(
        "/projects/big/models/m1/relabel",
        {
            "utterance_id": result.utterance_id,
            "position": result.position,
            "source": "errors",
            "version": fresh.group(1),
            "intent": result.predicted_intent,
        },
        **HTMX,
    )
    assert retry.status_code == 200
    assert Utterance.objects.get(pk=result.utterance_id or 0).intent.name == (
        result.predicted_intent
    )
