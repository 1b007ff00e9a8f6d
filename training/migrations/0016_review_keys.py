"""PredictionLog.text_key and base_score: what the review queue groups and ranks on,
stored so that SQL groups every pending log (``training.selectors.review``).
Existing open rows (pending, skipped: what the queue lists) get theirs here, in
batches, each committed on its own (the migration is not atomic, so the log table is
not locked while a large backlog fills); rows written later by older code, or left
by an interrupted run, get the database defaults and are filled by the queue's next
read. Reviewed rows are never grouped again and keep the defaults."""

from typing import Any

from django.conf import settings
from django.db import migrations, models

import training.models

BATCH = 2000
OPEN = ("pending", "skipped")


def fill_review_keys(apps: Any, schema_editor: Any) -> None:
    log = apps.get_model("training", "PredictionLog")
    rows = log.objects.filter(review_status__in=OPEN).order_by("pk").only(
        "pk",
        "query",
        "prediction",
        "shadow_top_intent",
        "shadow_confidence",
        "shadow_disagrees",
    )
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        for row in batch:
            row.text_key = training.models.review_key(row.query)
            row.base_score = training.models.review_base_score(row)
        log.objects.bulk_update(batch, ["text_key", "base_score"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("projects", "0018_project_gate_deployments_db_default"),
        ("training", "0015_deployment_state_moved_to_studio"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="predictionlog",
            name="base_score",
            field=training.models.BaseScoreField(
                db_default=0.0, default=0.0, editable=False
            ),
        ),
        migrations.AddField(
            model_name="predictionlog",
            name="text_key",
            field=training.models.ReviewKeyField(
                db_default="", default="", editable=False, max_length=32
            ),
        ),
        migrations.RunPython(fill_review_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="predictionlog",
            index=models.Index(
                fields=["project", "review_status", "text_key"],
                name="predlog_review_key",
            ),
        ),
    ]
