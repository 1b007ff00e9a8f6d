"""What the review queue stores with each log (``text_key``, ``base_score``) is
pinned to a numbered recipe (``training.engine.review.RECIPE``): changing the
normalisation or the teach score without a new number and a migration refilling
the open logs would leave stored keys and scores silently stale."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import training.migrations
from training.engine import review as rv

# The fingerprint of each recipe (``rv.recipe_fingerprint()``). A change of
# ``normalize``, ``teach_score``, ``RANKING`` or a weight that moves it needs:
# RECIPE + 1, a migration declaring ``REVIEW_RECIPE = <new>`` that runs
# ``training.models.review_keys_refill`` (see 0017_review_recipe), and its
# fingerprint added here.
FINGERPRINTS = {
    1: "406e5755fcb822d811f957df81cc0b80cde4f4fced39d7b7a0e913131f466a73",
}


def test_the_recipe_fingerprint_is_pinned_for_the_current_recipe() -> None:
    assert rv.recipe_fingerprint() == FINGERPRINTS.get(rv.RECIPE), (
        "normalize or the teach score changed: bump training.engine.review.RECIPE, "
        "add a migration refilling the open logs' keys and scores, pin the new "
        "fingerprint (this file's docstring)"
    )


def test_a_migration_refills_the_logs_for_the_current_recipe() -> None:
    found = set()
    for module in pkgutil.iter_modules(training.migrations.__path__):
        loaded = importlib.import_module(f"training.migrations.{module.name}")
        if hasattr(loaded, "REVIEW_RECIPE"):
            found.add(loaded.REVIEW_RECIPE)
    assert rv.RECIPE in found


def test_the_fingerprint_moves_with_the_normalisation_and_the_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinned = rv.recipe_fingerprint()
    with monkeypatch.context() as m:
        m.setattr(rv, "normalize", lambda text: text.lower())
        assert rv.recipe_fingerprint() != pinned
    with monkeypatch.context() as m:
        m.setattr(rv, "RANKING", rv.Ranking(margin="ratio"))
        assert rv.recipe_fingerprint() != pinned
    with monkeypatch.context() as m:
        m.setattr(rv, "W_NONE", rv.W_NONE + 0.01)
        assert rv.recipe_fingerprint() != pinned
    assert rv.recipe_fingerprint() == pinned
