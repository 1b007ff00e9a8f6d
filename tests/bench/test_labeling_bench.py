"""Smoke test of bench.labeling: seeds a small project and times every action
once; checks the shape of the results, never the timings."""

from __future__ import annotations

import pytest

from bench import labeling
from projects.models import EntitySpan, Project, Utterance
from projects.selectors import labeling as selectors_labeling
from training.models import EvaluationResult, TrainedModel


@pytest.mark.django_db
def test_benchmark_seeds_and_times_every_action() -> None:
    selectors_labeling.predictors_clear()
    seeded = labeling.seed(300)
    project = Project.objects.get(name=seeded.project_name)
    assert Utterance.objects.filter(project=project).count() == 300
    assert EntitySpan.objects.filter(utterance__project=project).exists()
    assert len(seeded.intent_names) == labeling.N_INTENTS + 1
    labeling.train_sample_model(seeded, sample=200)
    labeling.deploy_model(seeded.project_name, "bench-1")
    results = labeling.measure(seeded, repeat=2, with_model=True)
    assert "assign intent" in results
    assert "table page, disagreement (warm)" in results
    assert "table page, unlabeled + pre-label" in results
    for row in results.values():
        assert row["p50_ms"] > 0
        assert row["p95_ms"] >= row["p50_ms"] or row["n"] == 1
    assert results["assign intent"]["budget_ms"] == labeling.EDIT_BUDGET_MS
    assert results["table page, filter intent"]["budget_ms"] == labeling.PAGE_BUDGET_MS


@pytest.mark.django_db
def test_evaluation_benchmark_seeds_two_models_and_measures_bytes() -> None:
    seeded = labeling.seed_evaluation(n_intents=15, n_utterances=600)
    project = Project.objects.get(name=seeded.project_name)
    assert project.intents.count() == 16  # with None
    assert TrainedModel.objects.filter(project=project).count() == 2
    m1 = TrainedModel.objects.get(project=project, label="m1")
    tested = EvaluationResult.objects.filter(model=m1)
    assert tested.count() == seeded.test_count
    assert not tested.filter(utterance_id=None).exists()
    matrix = m1.evaluation_summary["intentsEvaluation"]["confusionMatrix"]
    assert sum(c["rawValue"] for row in matrix.values() for c in row.values()) == (
        seeded.test_count
    )
    results = labeling.measure_evaluation(seeded, repeat=1)
    page = results["evaluation page (first load)"]
    assert page["bytes"] > 10_000
    assert page["budget_ms"] == labeling.EVAL_PAGE_BUDGET_MS
    assert results["relabel from errors only"]["bytes"] < 20_000


@pytest.mark.django_db
def test_the_scale_case_reports_page_bytes_and_the_palette_round_trip() -> None:
    seeded = labeling.seed_evaluation(
        n_intents=15, n_utterances=300, name="bench-data-scale"
    )
    results = labeling.measure_scale(seeded.project_name, repeat=1)
    page = results["data page, 50 rows (first load)"]
    assert 0 < page["bytes"] <= labeling.SCALE_PAGE_BUDGET_BYTES
    assert (
        results["palette assign (POST + row)"]["budget_ms"] == labeling.EDIT_BUDGET_MS
    )
    assert all(row["p50_ms"] > 0 for row in results.values())
    assert {
        "edit text (POST + row)",
        "undo a single edit (POST + table)",
        "table, same text: conflicting intents",
    } <= set(results)


@pytest.mark.django_db
def test_the_evaluation_and_scale_projects_are_seeded_in_one_run() -> None:
    # The default run seeds both (model ids are unique across projects).
    labeling.seed_evaluation(n_intents=5, n_utterances=50)
    labeling.seed_evaluation(n_intents=5, n_utterances=50, name="bench-data-scale")
    assert TrainedModel.objects.count() == 4


@pytest.mark.django_db
def test_the_scale_case_times_and_weighs_the_page_with_pre_labels() -> None:
    selectors_labeling.predictors_clear()
    seeded = labeling.seed_evaluation(
        n_intents=15, n_utterances=300, name="bench-data-scale"
    )
    results = labeling.measure_scale(seeded.project_name, repeat=1)
    page = results["data page, 50 unlabeled, pre-label"]
    assert 0 < page["bytes"] <= labeling.SCALE_PAGE_BUDGET_BYTES


@pytest.mark.django_db
def test_the_same_text_case_times_the_conflicts_filter_at_each_size() -> None:
    results = labeling.measure_same_text(quick=True, repeat=1, sizes=(200, 400))
    assert sorted(results) == [200, 400]
    for size in (200, 400):
        project = Project.objects.get(name=f"bench-same-text-{size}")
        conflicts = selectors_labeling.duplicate_ids(project=project).conflicts
        assert conflicts  # the seed made some
        assert results[size]["p50_ms"] > 0
        assert results[size]["budget_ms"] == labeling.PAGE_BUDGET_MS
