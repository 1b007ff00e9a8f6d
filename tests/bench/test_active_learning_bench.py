"""``python -m bench.active_learning``: the selection rules on tiny data, and a
``--quick`` run on the shared datasets (skipped with a reason where absent)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import active_learning as al
from bench.data import Split
from tests.conftest import require_shared_data
from tests.training.word_encoder import stand_in_table
from training.engine.intents import IntentClassifier


def test_seed_takes_the_first_n_of_each_intent_and_pools_the_rest() -> None:
    train = Split(["a", "b", "c", "d", "e"], ["x", "y", "x", "x", "y"])

    seed, pool = al.seed_and_pool(train, 2)

    assert seed == [0, 1, 2, 4] and pool == [3]


def test_the_queue_picks_unsure_items_and_whole_duplicate_groups() -> None:
    texts = [
        "book a flight to paris",
        "book a flight to rome",
        "cancel my booking",
        "cancel the reservation",
        "book a flight to paris",
        "Book a flight to Paris!",
        "the weather is cancelled flight",
    ]
    labels = ["book", "book", "cancel", "cancel"]
    model = IntentClassifier.fit(texts[:4], labels)

    picked = al.queue_pick(model, texts, [4, 5, 6], batch=3)

    assert sorted(picked) == [4, 5, 6]
    assert al.queue_pick(model, texts, [4, 5, 6], batch=1) in ([6], [4])


def test_round_reaching_finds_the_first_round_at_the_target() -> None:
    run = al.Run(strategy="queue", accuracy=[50.0, 60.0, 70.0])
    assert al.round_reaching(run, 60.0) == 1
    assert al.round_reaching(run, 71.0) is None


def test_missing_data_folder_exits_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert al.main(["--data", str(tmp_path), "--quick"]) == 2
    assert "--data" in capsys.readouterr().err


def test_cluster_at_once_labels_majorities_and_counts_exclusions() -> None:
    texts = [
        "book a flight to paris",
        "book a flight to rome",
        "book a flight to oslo",
        "book a flight to lima",
        "cancel my booking now",
        "cancel my booking today",
        "sing a song",
    ]
    gold = ["book", "book", "book", "cancel", "cancel", "cancel", "chat"]
    model = IntentClassifier.fit(
        ["book a flight", "book a trip", "cancel my booking", "cancel the trip"],
        ["book", "book", "cancel", "cancel"],
    )

    picked, tally = al.cluster_pick(model, texts, gold, list(range(7)), batch=20)

    # "book a flight to lima" (truly "cancel") is in the flights' cluster: the
    # analyst excludes it (one more action) and labels the three others.
    assert {0, 1, 2} <= set(picked) and 3 not in picked
    assert tally.minority >= 1
    assert tally.labeled == len(picked)
    assert tally.actions == tally.clusters + tally.minority
    assert tally.covered == tally.labeled + tally.minority
    assert al.cluster_pick(model, texts, gold, list(range(7)), batch=2)[1].labeled == 2


def test_tally_rates() -> None:
    tally = al.Tally(labeled=9, actions=3, clusters=2, covered=10, minority=1)

    assert tally.items_per_action == 3.0
    assert tally.whole_items_per_action == 5.0
    assert tally.whole_wrong_pct == 10.0


def test_quick_run_reports_every_strategy_per_round(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = require_shared_data()

    argv = ["--data", str(data_dir), "--quick", "--rounds", "2", "--json"]
    assert al.main([*argv, "--static-vectors", "off"]) == 0

    out = capsys.readouterr().out
    assert "round  labels" in out and "cluster-at-once (c), unsure: " in out
    assert "items/action" in out
    numbers = json.loads(out.strip().splitlines()[-1])
    assert set(numbers) == {"CLINC150 (quick)", "BANKING77 (quick)"}
    for result in numbers.values():
        for strategy in ("queue", "random", "cluster", "unsure"):
            assert len(result[strategy]["accuracy"]) == 3
        for strategy in ("queue", "random"):
            assert result[strategy]["labeled"] == [120, 150, 180]
        assert result["cluster"]["labeled"][0] == 120
        assert result["cluster_items_per_action"] >= 1.0
        assert result["unsure_items_per_action"] >= 1.0
        assert result["static_vectors"] is None


def test_more_seeds_compare_the_queue_with_random_per_seed_and_on_the_mean(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = require_shared_data()
    argv = ["--data", str(data_dir), "--quick", "--rounds", "3", "--json"]
    argv += ["--static-vectors", "off", "--tasks", "CLINC150", "--also-seeds", "1"]
    assert al.main(argv) == 0

    out = capsys.readouterr().out
    numbers = json.loads(out.strip().splitlines()[-1])
    assert set(numbers) == {"CLINC150 (quick)"}
    by_seed = numbers["CLINC150 (quick)"]["by_seed"]
    assert set(by_seed["seeds"]) == {"0", "1"}
    queue = [by_seed["seeds"][s]["queue"][3] for s in ("0", "1")]
    last = [by_seed["seeds"][s]["random"][-1] for s in ("0", "1")]
    assert by_seed["queue_round_mean"] == pytest.approx(sum(queue) / 2)
    assert by_seed["random_last_mean"] == pytest.approx(sum(last) / 2)
    assert "mean of 2: queue" in out
    with pytest.raises(SystemExit):
        al.main([*argv[:-4], "--tasks", "ATIS"])
    with pytest.raises(SystemExit):
        al.main([*argv[:-2], "--also-seeds", "one"])
    with pytest.raises(SystemExit):  # round 3 of test runs only
        al.main([*argv, "--validation"])
    assert al.parse_args(["--also-seeds", "0,1,1,2"]).also_seeds == [1, 2]


def test_validation_carves_train_into_evaluation_seed_and_pool() -> None:
    labels = ["x"] * 20 + ["y"] * 15
    train = Split([f"t{i}" for i in range(35)], labels)

    evaluation, seed, pool = al.carve(train, 0, held_out=0.2, per_intent=3)

    held = [train.texts.index(t) for t in evaluation.texts]
    assert sorted(held + seed + pool) == list(range(35))
    assert Counter(evaluation.labels) == {"x": 4, "y": 3}
    assert Counter(labels[i] for i in seed) == {"x": 3, "y": 3}
    assert evaluation.labels == [labels[i] for i in held]
    assert al.carve(train, 0, held_out=0.2, per_intent=3)[1] == seed
    assert al.carve(train, 1, held_out=0.2, per_intent=3)[1] != seed


def test_validation_run_compares_the_candidates_on_train_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = require_shared_data()
    argv = ["--data", str(data_dir), "--quick", "--validation", "--rounds", "1"]
    argv += ["--static-vectors", "off"]

    assert al.main([*argv, "--seeds", "0,1", "--json"]) == 0

    out = capsys.readouterr().out
    assert "validation (20% of each intent of train held out, seeds 0, 1)" in out
    numbers = json.loads(out.strip().splitlines()[-1])
    for result in numbers.values():
        assert set(result["mean"]) == {"random", *al.CANDIDATES}
        assert all(len(runs) == 2 for runs in result["curves"].values())
    assert sum(name.endswith("(product):") for name in out.split()) == 2
    with pytest.raises(SystemExit):
        al.main([*argv, "--seeds", "zero"])
    with pytest.raises(SystemExit):
        al.main([*argv, "--candidate", "nonsense"])


def test_validation_runs_only_the_named_candidates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = require_shared_data()
    argv = ["--data", str(data_dir), "--quick", "--validation", "--rounds", "1"]
    argv += ["--static-vectors", "off", "--seeds", "0", "--json"]

    chosen = ["--candidate", "difference", "--candidate", "difference, cap 3"]
    assert al.main([*argv, *chosen]) == 0

    numbers = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for result in numbers.values():
        assert set(result["mean"]) == {"random", "difference", "difference, cap 3"}


def test_the_standard_model_is_fitted_with_the_static_vectors_as_the_product_does(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    data_dir = require_shared_data()
    next(stand_in_table(monkeypatch, tmp_path))
    fit = IntentClassifier.fit
    tables: list[object] = []

    def spy(*args: Any, **kwargs: Any) -> IntentClassifier:
        tables.append(kwargs.get("static_vectors"))
        return fit(*args, **kwargs)

    monkeypatch.setattr(al.IntentClassifier, "fit", spy)
    argv = ["--data", str(data_dir), "--quick", "--rounds", "1", "--json"]

    assert al.main([*argv, "--static-vectors", str(tmp_path / "sv")]) == 0

    out = capsys.readouterr().out
    assert "standard model, with static word vectors " in out
    numbers = json.loads(out.strip().splitlines()[-1])
    table_id = numbers["CLINC150 (quick)"]["static_vectors"]
    assert table_id and list((tmp_path / "sv").glob("*.npz"))
    # 2 datasets x 4 strategies x 2 fits (round 0 and round 1), all with the table.
    assert len(tables) == 16
    assert all(getattr(t, "spec", None) is not None for t in tables)
    assert {t.spec.table_id for t in tables} == {table_id}  # type: ignore[attr-defined]


def test_spreading_by_wording_puts_the_best_of_each_group_first() -> None:
    texts = [
        "book a flight to paris",
        "book a flight to rome",
        "book a flight to oslo",
        "what is my card balance",
        "card balance please",
        "how much is on my card balance",
        "play some jazz music",
        "play music by miles",
        "play jazz music now",
        "a later query",
    ]

    spread = al.spread_similar(texts, 9)

    assert spread[:3] == [0, 3, 6]  # one of each topic, in queue order
    assert spread[3:] == [1, 2, 4, 5, 7, 8, 9]
    assert al.spread_similar(texts, 0) == list(range(10))
    assert al.spread_similar(texts[:4], 3) == [0, 1, 2, 3]  # one group: as is
    no_words = ["?", "!", "...", "-", "??", "!!"]
    assert al.spread_similar(no_words, 6) == list(range(6))


def test_near_duplicates_wait_until_the_rest_of_the_order_has_been_seen() -> None:
    texts = [
        "book a flight to paris",
        "book a flight to paris please",  # a rewording of the first
        "what is the weather",
        "tell me a joke",
        "weather what is it",  # the third, reworded
        "play some jazz",
    ]
    assert al.skip_near_duplicates(texts, 0.5) == [0, 2, 3, 5, 1, 4]
    assert al.skip_near_duplicates(texts, 0.5, top=3) == [0, 2, 1, 3, 4, 5]
    assert al.skip_near_duplicates(texts, 0.0) == list(range(6))
    assert al.skip_near_duplicates(["?!", "..."], 0.5) == [0, 1]  # no words
