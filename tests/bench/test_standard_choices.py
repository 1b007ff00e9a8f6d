from __future__ import annotations

import numpy as np
import pytest

from bench.standard_choices import _pick, _settings
from training.engine import intents


def test_threshold_rules_pick_where_they_say() -> None:
    top = np.array([0.9, 0.8, 0.6, 0.4, 0.35])
    correct = np.ones(5, dtype=bool)
    oos = np.array([0.1, 0.2, 0.3, 0.5])
    # Most right decisions: refuse the three low OOS, keep all in-scope (8 of 9).
    assert _pick("argmax", 0.0, top, correct, oos) == pytest.approx(0.325)
    # The lowest threshold refusing half of the OOS utterances.
    assert _pick("floor", 0.5, top, correct, oos) == pytest.approx(0.25)
    # Within 2 standard errors of the best, the lowest is accept-all (7 of 9 right
    # against 8, with 3 decisions differing: 1 <= 2 * sqrt(3)).
    assert _pick("se", 2.0, top, correct, oos) == pytest.approx(0.1)
    assert _pick("se", 0.0, top, correct, oos) == pytest.approx(0.325)


def test_settings_are_restored() -> None:
    saved = intents._STATIC_WEIGHTS_LARGE
    with _settings({"_STATIC_WEIGHTS_LARGE": (1.0, 0.0)}):
        assert intents._STATIC_WEIGHTS_LARGE == (1.0, 0.0)
    assert intents._STATIC_WEIGHTS_LARGE is saved
