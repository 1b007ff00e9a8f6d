"""PredictionLog.review_recipe: the number of the recipe (``rv.RECIPE``) that
computed a log's stored ``text_key`` and ``base_score``, so that a release which
changes the normalisation or the teach score refills them instead of leaving them
silently stale (split groups, a wrong order). The open logs (pending, skipped) get
the current recipe's values here, in batches each committed on its own (the
migration is not atomic: the log table is not locked while a large backlog fills);
the queue's next read refills whatever is left (an interrupted run, rows an older
release wrote meanwhile). Reviewed logs are never grouped again and keep 0.

A later recipe: a migration like this one's ``refill`` (with ``REVIEW_RECIPE`` set
to it; ``tests/training/test_review_recipe.py`` checks that one exists)."""

from typing import Any

from django.conf import settings
from django.db import migrations, models

import training.models

# The recipe this migration brings the open logs to (the refill itself always
# runs the current code: on a fresh database later recipes' migrations follow).
REVIEW_RECIPE = 1


def refill(apps: Any, schema_editor: Any) -> None:
    training.models.review_keys_refill(apps.get_model("training", "PredictionLog"))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("projects", "0018_project_gate_deployments_db_default"),
        ("training", "0016_review_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="predictionlog",
            name="review_recipe",
            field=training.models.ReviewRecipeField(
                db_default=0, default=0, editable=False
            ),
        ),
        migrations.AddIndex(
            model_name="predictionlog",
            index=models.Index(
                fields=["project", "review_status", "review_recipe"],
                name="predlog_review_recipe",
            ),
        ),
        migrations.RunPython(refill, migrations.RunPython.noop),
    ]
