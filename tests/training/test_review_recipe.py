"""What the review queue stores with each log (``text_key``, ``base_score``) is
pinned to a numbered recipe (``training.engine.review.RECIPE``): changing the
normalisation or the teach score without a new number and a migration refilling
the open logs would leave stored keys and scores silently stale."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

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


@pytest.mark.django_db(transaction=True)
def test_the_migration_to_the_recipe_refills_the_open_logs_of_a_database() -> None:
    """A database at 0016 (keys of a recipe with no number, some stale as after
    a change of ``normalize``) migrated: every open log has the current recipe's
    key, score and number; reviewed ones are left as they were."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.factories import ProjectFactory
    from training.models import PredictionLog, review_key

    def migrate(targets: list[tuple[str, str]]) -> Any:
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    def latest() -> None:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()

    try:
        old_apps = migrate([("training", "0016_review_keys")])
        project = ProjectFactory.create()
        old_log = old_apps.get_model("training", "PredictionLog")
        rows = {}
        for status, query in [
            ("pending", "Order 66!"),
            ("skipped", "thanks"),
            ("accepted", "Done"),
        ]:
            pred = {
                "topIntent": "Order",
                "intents": [
                    {"category": "Order", "confidenceScore": 0.5},
                    {"category": "Other", "confidenceScore": 0.4},
                ],
            }
            rows[status] = old_log.objects.create(
                project_id=project.pk,
                deployment_name="production",
                model_id="m1",
                query=query,
                prediction=pred,
                review_status=status,
            ).pk
        old_log.objects.update(text_key="stale", base_score=0.0)
        latest()
        for status in ("pending", "skipped"):
            row = PredictionLog.objects.get(pk=rows[status])
            assert row.text_key == review_key(row.query)
            assert row.base_score > 0
            assert row.review_recipe == rv.RECIPE
        reviewed = PredictionLog.objects.get(pk=rows["accepted"])
        assert (reviewed.text_key, reviewed.review_recipe) == ("stale", 0)
    finally:
        latest()
