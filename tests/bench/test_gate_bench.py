"""Smoke test of bench.gate: times one tiny gate set; checks the shape of the
results and that the gate sets hold no utterance the models learned, never the
timings."""

from __future__ import annotations

import pytest

from bench import gate
from bench.data import Split
from projects.selectors.gate import GateItem
from tests.factories import ProjectFactory
from tests.training.model_helpers import make_trained_model
from tests.training.test_gate import BAD, GOOD, TEXTS
from training.services.gate import ModelPointer


def test_the_pool_leaves_out_what_the_candidate_learned() -> None:
    train = Split(
        [f"t{n}" for n in range(gate.CANDIDATE_SHOTS + 5)],
        ["A"] * (gate.CANDIDATE_SHOTS + 5),
    )
    pool = gate.unseen_pool(train, Split(["v"], ["A"]), Split(["x"], ["B"]))
    assert sorted(t for t, _ in pool) == sorted(
        [f"t{n}" for n in range(gate.CANDIDATE_SHOTS, gate.CANDIDATE_SHOTS + 5)]
        + ["v", "x"]
    )


@pytest.mark.django_db
def test_measure_times_first_cached_and_both_scorings() -> None:
    project = ProjectFactory.create(name="GateBench", gate_max_drop=2.0)
    pointers = [
        ModelPointer(
            label=m.label,
            model_id=m.model_id,
            artifact_name=m.artifact_name,
            manifest=m.manifest,
        )
        for m in (
            make_trained_model(project, "good", TEXTS, GOOD),
            make_trained_model(project, "bad", TEXTS, BAD),
        )
    ]
    items = [GateItem(text=t, intent=i) for t, i in zip(TEXTS, GOOD, strict=True)]
    result = gate.measure(project, items, pointers[0], pointers[1], repeat=1)
    for part in ("first", "cached", "load", "predict", "compare"):
        assert result[part]["wall"] > 0 and result[part]["cpu"] >= 0
    assert result["comparePerIntentPass"]["wall"] > 0
    assert result["servingAccuracy"] == 1.0 and result["candidateAccuracy"] == 0.0
    assert result["intents"] == 2
    assert gate.per_intent_pass_scores(GOOD, BAD, ["Travel", "Weather"]) == 0.0
