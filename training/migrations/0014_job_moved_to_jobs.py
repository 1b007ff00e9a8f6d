"""The Job model now lives in the jobs app (jobs/migrations/0001_initial): removed
from training's state only, its table ``training_job`` and its rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0013_deployment_resources"),
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="Job")],
        ),
    ]
