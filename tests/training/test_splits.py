from __future__ import annotations

from collections import Counter

import pytest

from training.engine.splits import (
    SplitError,
    kfold_indices,
    manual_split,
    percentage_split,
)

LABELS = ["a"] * 50 + ["b"] * 20 + ["c"] * 5 + ["d"] * 2 + ["e"]


def test_percentage_split_is_stratified_by_label() -> None:
    train, test = percentage_split(LABELS, training_percent=80, seed=1)
    test_counts = Counter(LABELS[i] for i in test)
    assert test_counts == {"a": 10, "b": 4, "c": 1, "d": 1}
    assert sorted(train + test) == list(range(len(LABELS)))
    assert not set(train) & set(test)


def test_percentage_split_keeps_single_example_labels_in_train() -> None:
    train, test = percentage_split(LABELS, training_percent=80)
    e_index = LABELS.index("e")
    assert e_index in train
    assert e_index not in test


def test_two_example_label_gets_one_train_and_one_test_even_at_90_percent() -> None:
    train, test = percentage_split(["x", "x", "y", "y"], training_percent=90)
    assert sorted(test) in ([0, 2], [0, 3], [1, 2], [1, 3])
    assert len(train) == 2


def test_percentage_split_is_reproducible_and_seed_dependent() -> None:
    first = percentage_split(LABELS, seed=7)
    assert percentage_split(LABELS, seed=7) == first
    assert percentage_split(LABELS, seed=8) != first


def test_adding_a_label_does_not_reshuffle_other_labels() -> None:
    _, test_before = percentage_split(LABELS, seed=3)
    _, test_after = percentage_split([*LABELS, "z", "z", "z"], seed=3)
    assert [i for i in test_after if i < len(LABELS)] == test_before


def test_full_training_percent_gives_empty_test_set() -> None:
    train, test = percentage_split(LABELS, training_percent=100)
    assert test == []
    assert train == list(range(len(LABELS)))


@pytest.mark.parametrize("bad", [0, 101, -5, 80.0, True])
def test_percentage_split_refuses_bad_percent(bad: object) -> None:
    with pytest.raises(SplitError, match="training_percent"):
        percentage_split(LABELS, training_percent=bad)  # type: ignore[arg-type]


def test_manual_split_uses_test_dataset_and_defaults_to_train() -> None:
    train, test = manual_split(["Train", None, "Test", "", "test", "TRAIN"])
    assert train == [0, 1, 3, 5]
    assert test == [2, 4]


def test_manual_split_refuses_unknown_dataset_naming_the_utterance() -> None:
    with pytest.raises(SplitError, match="utterance 1 has dataset 'Dev'"):
        manual_split(["Train", "Dev"])


def test_kfold_test_parts_partition_the_data_with_balanced_sizes() -> None:
    folds = kfold_indices(LABELS, k=5, seed=2)
    assert len(folds) == 5
    all_test = sorted(i for _, test in folds for i in test)
    assert all_test == list(range(len(LABELS)))
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, test in folds:
        assert sorted(train + test) == list(range(len(LABELS)))


def test_kfold_is_stratified() -> None:
    for _, test in kfold_indices(LABELS, k=5):
        counts = Counter(LABELS[i] for i in test)
        assert counts["a"] == 10
        assert counts["b"] == 4
        assert counts["c"] == 1


def test_kfold_is_reproducible() -> None:
    assert kfold_indices(LABELS, k=4, seed=9) == kfold_indices(LABELS, k=4, seed=9)
    assert kfold_indices(LABELS, k=4, seed=9) != kfold_indices(LABELS, k=4, seed=10)


@pytest.mark.parametrize("k", [1, 0, 1000])
def test_kfold_refuses_bad_k(k: int) -> None:
    with pytest.raises(SplitError, match="k"):
        kfold_indices(LABELS, k=k)


def test_percentage_split_rounds_half_up_per_label() -> None:
    # 5 examples at 50% is 2.5 to test: half up gives 3, not round-half-even's 2.
    _, test = percentage_split(["a"] * 5, training_percent=50)
    assert len(test) == 3
