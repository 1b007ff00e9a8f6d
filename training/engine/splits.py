"""Train/test splits: Azure's ``percentage`` and ``manual`` kinds, plus k-fold.

All functions return index lists into the caller's sequence, sorted ascending, so the
caller keeps its own records and ordering.

Reproducibility: each label's examples are shuffled by a generator seeded from
``(seed, label)``, so the split of one intent does not change when another intent's
utterances are added or removed, and the same data and seed always give the same
split on any machine (``random.Random`` seeded by a string is stable across runs and
Python versions). The split does depend on the order of utterances within a label,
which is why ``artifacts.training_data_hash`` is order-sensitive.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

TRAIN = "Train"
TEST = "Test"


class SplitError(ValueError):
    """Split parameters or dataset values that cannot be used."""


def _groups(labels: Sequence[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[label].append(index)
    return groups


def _shuffled(indices: list[int], *, seed: int, label: str) -> list[int]:
    shuffled = list(indices)
    # Not security sensitive: a reproducible shuffle is the point.
    random.Random(f"{seed}:{label}").shuffle(shuffled)  # noqa: S311
    return shuffled


def percentage_split(
    labels: Sequence[str], *, training_percent: int = 80, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Stratified, seeded split into (train indices, test indices).

    Each label sends ``n * (100 - training_percent) / 100`` of its ``n`` examples
    to test, rounded half up and clamped so that a label with at least two examples
    keeps at least one in train and puts at least one in test; a label with a single
    example stays in train (a model cannot learn a label it never saw). With
    ``training_percent=100`` the test set is empty.
    """
    if isinstance(training_percent, bool) or not isinstance(training_percent, int):
        raise SplitError(
            f"training_percent must be an integer, got {training_percent!r}"
        )
    if not 1 <= training_percent <= 100:
        raise SplitError(
            f"training_percent must be between 1 and 100, got {training_percent}"
        )
    test_percent = 100 - training_percent
    train: list[int] = []
    test: list[int] = []
    for label, indices in _groups(labels).items():
        n = len(indices)
        # Integer half-up rounding: round() would round 2.5 down (to even).
        n_test = (n * test_percent + 50) // 100
        if test_percent > 0 and n >= 2:
            n_test = min(max(n_test, 1), n - 1)
        elif n < 2:
            n_test = 0
        shuffled = _shuffled(indices, seed=seed, label=label)
        test.extend(shuffled[:n_test])
        train.extend(shuffled[n_test:])
    return sorted(train), sorted(test)


def manual_split(datasets: Sequence[str | None]) -> tuple[list[int], list[int]]:
    """Split by each utterance's Azure ``dataset``: ``Test`` → test, else train.

    ``None`` or an empty string means the utterance was never assigned, which Azure
    treats as training data. Values are matched case-insensitively; anything other
    than ``Train``/``Test`` is refused.
    """
    train: list[int] = []
    test: list[int] = []
    for index, dataset in enumerate(datasets):
        value = (dataset or TRAIN).strip().casefold()
        if value == TRAIN.casefold():
            train.append(index)
        elif value == TEST.casefold():
            test.append(index)
        else:
            raise SplitError(
                f"utterance {index} has dataset {dataset!r}; expected "
                f"{TRAIN!r}, {TEST!r} or none"
            )
    return train, test


def kfold_indices(
    labels: Sequence[str], *, k: int, seed: int = 0
) -> list[tuple[list[int], list[int]]]:
    """Stratified k-fold: ``k`` (train, test) pairs whose test parts partition the data.

    Each label's shuffled examples are dealt round-robin over the folds, starting
    where the previous label stopped, so fold sizes differ by at most one and every
    label with at least ``k`` examples appears in every test fold.
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise SplitError(f"k must be an integer, got {k!r}")
    if k < 2:
        raise SplitError(f"k must be at least 2, got {k}")
    if k > len(labels):
        raise SplitError(f"k={k} is larger than the number of examples ({len(labels)})")
    fold_of: list[int] = [0] * len(labels)
    position = 0
    groups = _groups(labels)
    # Sorted so the dealing order does not depend on the order labels first appear.
    for label in sorted(groups):
        for index in _shuffled(groups[label], seed=seed, label=label):
            fold_of[index] = position % k
            position += 1
    folds: list[tuple[list[int], list[int]]] = []
    for fold in range(k):
        test = [i for i, f in enumerate(fold_of) if f == fold]
        train = [i for i, f in enumerate(fold_of) if f != fold]
        folds.append((train, test))
    return folds
