from __future__ import annotations

import numpy as np

from bench.familiarity import domain_folds, threshold_noise


def test_domain_folds_hold_out_whole_domains_in_sorted_order() -> None:
    domains = {"travel": ["book", "visa"], "bank": ["pay"], "home": ["lights"]}
    assert domain_folds(domains, 2) == [{"pay", "lights"}, {"book", "visa"}]
    assert domain_folds(domains, 1) == [{"pay"}, {"lights"}, {"book", "visa"}]


def test_threshold_noise_is_zero_when_validation_separates_cleanly() -> None:
    val = (np.full(50, 0.9), np.ones(50, dtype=bool))
    test = (np.full(20, 0.8), np.ones(20, dtype=bool))
    oos_test = np.array([0.3] * 10 + [0.7] * 10)
    noise = threshold_noise(val, np.full(10, 0.1), test, oos_test, rounds=30)
    # Every resample puts the threshold at 0.5, between the two groups.
    assert noise == {
        "inscope_mean": 100.0,
        "inscope_std": 0.0,
        "oos_mean": 50.0,
        "oos_std": 0.0,
    }


def test_threshold_noise_spreads_when_validation_overlaps() -> None:
    rng = np.random.default_rng(1)
    val = (rng.uniform(0.3, 1.0, 200), np.ones(200, dtype=bool))
    oos_val = rng.uniform(0.0, 0.6, 20)
    test = (rng.uniform(0.3, 1.0, 200), np.ones(200, dtype=bool))
    oos_test = rng.uniform(0.0, 0.6, 200)
    noise = threshold_noise(val, oos_val, test, oos_test, rounds=50)
    assert noise["oos_std"] > 0.0
    assert 0.0 < noise["oos_mean"] < 100.0
    assert noise == threshold_noise(val, oos_val, test, oos_test, rounds=50)
