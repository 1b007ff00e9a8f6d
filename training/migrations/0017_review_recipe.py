"""PredictionLog.review_recipe: the number of the recipe (``rv.RECIPE``) that
computed a log's stored ``text_key`` and ``base_score``, so that a release which
changes the normalisation or the teach score refills them instead of leaving them
silently stale (split groups, a wrong order). The schema only, atomic: the column
and its index are recorded with the migration or not at all. The refill is
``0018_review_recipe_refill`` (not atomic, resumable). A SmallIntegerField: no
CHECK constraint, so adding the column with its constant default rewrites
nothing and scans nothing on PostgreSQL."""

from django.conf import settings
from django.db import migrations, models

import training.models


class Migration(migrations.Migration):
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
    ]
