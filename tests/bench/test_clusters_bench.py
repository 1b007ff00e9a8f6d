"""``python -m bench.clusters``: the simulated analyst of the method choice, and the
selector's cap in the timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import clusters as bc
from bench.data import Split
from tests.training.word_encoder import stand_in_table
from training.engine import clusters as cl
from training.engine import static_vectors


def test_the_simulated_analyst_opens_the_largest_clusters_until_the_batch() -> None:
    found = [
        cl.Cluster(members=[0, 1, 2, 3], cohesion=0.9, top_terms=[]),
        cl.Cluster(members=[4, 5], cohesion=0.9, top_terms=[]),
        cl.Cluster(members=[6, 7], cohesion=0.9, top_terms=[]),
    ]
    gold = ["a", "a", "b", "a", "c", "c", "d", "d"]

    sim, acted = bc.simulate(found, gold, batch=6)

    assert [label for _, label in acted] == ["a", "c"]
    assert (sim.labeled, sim.actions, sim.wrong_without_exclusions) == (5, 3, 1)
    assert sim.items_per_action == pytest.approx(5 / 3)
    assert sim.purity == pytest.approx(5 / 6)


def test_timing_clusters_at_most_the_newest_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    monkeypatch.setattr(cl, "MAX_TEXTS", 3)

    def fake(texts: list[str], **_: object) -> list[cl.Cluster]:
        seen.append(len(texts))
        return []

    monkeypatch.setattr(cl, "cluster_texts", fake)

    bc.capped_cluster(["a b", "A b!", "c d", "e f", "g h"])

    assert seen == [2]  # the newest 3, of which two are the same text


def test_the_choice_scores_with_the_standard_model_as_the_product_fits_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    next(stand_in_table(monkeypatch, tmp_path))
    monkeypatch.setattr(bc, "_models", {})
    table = static_vectors.build_table()
    train = Split(
        ["book a flight", "book a trip", "delete the mail", "delete my email"],
        ["book", "book", "mail", "mail"],
    )

    model = bc._model(train, [0, 1, 2, 3], table)

    # The weight of the table's block was chosen on held-out folds (0 allowed).
    assert model.static_selection is not None
    assert bc._model(train, [0, 1, 2, 3], table) is model  # fitted once per split
