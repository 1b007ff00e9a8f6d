"""The DeploymentState model moves here from training: state only, the table stays
``training_deploymentstate`` and its one row keeps its version (training's 0015
drops it from training's state after this one adds it here). The content type is
relabelled with it."""

from django.db import migrations, models


def _relabel(apps, old, new):
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label=new, model="deploymentstate").exists():
        content_types.objects.filter(app_label=old, model="deploymentstate").update(
            app_label=new
        )


def relabel_content_type(apps, schema_editor):
    _relabel(apps, "training", "studio")


def unrelabel_content_type(apps, schema_editor):
    _relabel(apps, "studio", "training")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("studio", "0003_audit_event"),
        ("training", "0014_job_moved_to_jobs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="DeploymentState",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("version", models.PositiveBigIntegerField(default=0)),
                        ("changed_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={"db_table": "training_deploymentstate"},
                ),
            ],
        ),
        migrations.RunPython(relabel_content_type, unrelabel_content_type),
    ]
