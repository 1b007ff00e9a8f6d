"""Utterance.text_key: the normalized text's digest, stored and indexed so that the
Data page's "same text" filters group in SQL. Existing rows get theirs here, in
batches (50,000 utterances: a few seconds)."""

from typing import Any

from django.db import migrations, models

import projects.models
from projects.validators import text_key_digest

BATCH = 2000


def fill_text_keys(apps: Any, schema_editor: Any) -> None:
    utterance = apps.get_model("projects", "Utterance")
    rows = utterance.objects.order_by("pk").only("pk", "text")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        for row in batch:
            row.text_key = text_key_digest(row.text)
        utterance.objects.bulk_update(batch, ["text_key"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0013_project_encoder"),
    ]

    operations = [
        migrations.AddField(
            model_name="utterance",
            name="text_key",
            field=projects.models.TextKeyField(
                default="", editable=False, max_length=32
            ),
        ),
        migrations.RunPython(fill_text_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="utterance",
            index=models.Index(
                fields=["project", "text_key", "intent"], name="utt_project_text_key"
            ),
        ),
    ]
