from __future__ import annotations

import numpy as np

from bench.oos_signals import auroc, centroid_signal, knn_signal, spread_factor


def test_auroc_counts_ties_as_half() -> None:
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([0.0]), np.array([1.0])) == 0.0
    assert auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5


def test_signals_leave_the_training_utterance_itself_out() -> None:
    train = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    y = np.array([0, 0, 1, 1])
    rows = np.array([[1.0, 0.0], [0.0, 1.0]])
    top = np.array([0, 0])
    loo, values = centroid_signal(train, y, 2, rows, top)
    # Intent 0's utterances are identical: each is its left-out centroid.
    assert np.allclose(loo[:2], 1.0)
    assert np.isclose(loo[2], 0.8)  # [0, 1] against the other one, [0.6, 0.8]
    assert np.allclose(values, [1.0, 0.0])
    loo, values = knn_signal(train, y, 2, rows, top, k=1)
    assert np.allclose(loo, [1.0, 1.0, 0.8, 0.8])
    assert np.allclose(values, [1.0, 0.0])


def test_spread_factor_flattens_only_below_the_reference() -> None:
    loo = np.linspace(0.0, 1.0, 101)  # reference 0.1, median 0.5
    factor = spread_factor(loo, np.array([0.9, 0.1, 0.06, -5.0]), 1.0)
    assert factor[0] == factor[1] == 1.0
    assert np.isclose(factor[2], np.exp(-0.1))
    assert factor[3] == 0.05
