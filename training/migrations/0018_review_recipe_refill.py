"""The open logs (pending, skipped) brought to review recipe 1, the model for every
later recipe's migration: set ``REVIEW_RECIPE`` to the new ``rv.RECIPE`` and
``REVIEW_FINGERPRINT`` to ``training.models.review_recipe_fingerprint()``
(``tests/training/test_review_recipe.py`` compares them and runs the refill), and
keep the two functions (a later recipe needs no stamp: ``forwards`` is
``review_keys_refill`` alone).

Not atomic: every batch of ``training.services.review_recipe`` commits on its own,
so the log table is never locked for the whole backlog, and an interrupted run
resumes where it stopped when ``migrate`` runs again (the migration is recorded
only once it is done). The code refills with the current recipe: on a fresh
database the later recipes' migrations follow and find nothing older.

Recipe 1 computes exactly what 0016 stored, so keyed rows are only stamped 1; rows
without keys ("", written by code older than 0016) are filled.

Reverse: the open rows of this recipe (or newer) go back to 0, so the older code
refills them with its own recipe. Rolling the code back without reversing this
migration leaves them to no one (older code never undoes a newer recipe), and
groups may show split: reverse it first (``migrate training 0017``)."""

from typing import Any

from django.db import migrations

from training.services.review_recipe import (
    review_keys_refill,
    review_recipe_reset,
    review_recipe_stamp,
)

REVIEW_RECIPE = 1
REVIEW_FINGERPRINT = (
    "c382711349cb96fc1668fd73a71e8116dbdd7369668a392499e6f7862573a75a"
)


def forwards(apps: Any, schema_editor: Any) -> None:
    log_model = apps.get_model("training", "PredictionLog")
    review_recipe_stamp(log_model=log_model, recipe=REVIEW_RECIPE)
    review_keys_refill(log_model=log_model)


def backwards(apps: Any, schema_editor: Any) -> None:
    log_model = apps.get_model("training", "PredictionLog")
    review_recipe_reset(log_model=log_model, recipe=REVIEW_RECIPE)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("training", "0017_review_recipe")]

    operations = [migrations.RunPython(forwards, backwards)]
