"""DeploymentState now lives in studio (studio/migrations/0004): removed from
training's state only; its table ``training_deploymentstate`` and its row stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0014_job_moved_to_jobs"),
        ("studio", "0004_deployment_state_moved_from_training"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="DeploymentState")],
        ),
    ]
