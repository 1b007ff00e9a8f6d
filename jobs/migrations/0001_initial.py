"""The Job model moves here from training: state only, the table stays ``training_job``.

``training/migrations/0014_job_moved_to_jobs`` drops it from training's state after
this one adds it here; no row is copied and no table is renamed. The content type
(and with it the permissions) is relabelled so grants on jobs carry over.
"""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


def _relabel(apps, schema_editor, old, new):
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label=new, model="job").exists():
        content_types.objects.filter(app_label=old, model="job").update(app_label=new)


def relabel_content_type(apps, schema_editor):
    _relabel(apps, schema_editor, "training", "jobs")


def unrelabel_content_type(apps, schema_editor):
    _relabel(apps, schema_editor, "jobs", "training")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('projects', '0015_project_source_stamp'),
        ('training', '0013_deployment_resources'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
        migrations.CreateModel(
            name='Job',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('job_id', models.CharField(max_length=80, unique=True)),
                ('kind', models.CharField(choices=[('import', 'Import'), ('export', 'Export'), ('project_delete', 'Project Delete'), ('train', 'Train'), ('deploy', 'Deploy'), ('deployment_delete', 'Deployment Delete'), ('swap', 'Swap'), ('load_snapshot', 'Load Snapshot'), ('update_qnas', 'Update Qnas'), ('update_sources', 'Update Sources'), ('utterances_upload', 'Utterance upload'), ('resources_assign', 'Resource assignment'), ('resources_unassign', 'Resource unassignment'), ('resources_deploy', 'Copy to resources'), ('resources_delete', 'Deletion from resources')], max_length=32)),
                ('api', models.CharField(choices=[('conversations', 'Conversations'), ('questionanswering', 'Question Answering')], default='conversations', max_length=32)),
                ('project_name', models.CharField(db_index=True, max_length=100)),
                ('target_name', models.CharField(blank=True, default='', max_length=100)),
                ('status', models.CharField(choices=[('notStarted', 'Not Started'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelling', 'Cancelling'), ('cancelled', 'Cancelled'), ('partiallyCompleted', 'Partially Completed')], default='notStarted', max_length=24)),
                ('percent_complete', models.PositiveSmallIntegerField(default=0)),
                ('params', models.JSONField(blank=True, default=dict)),
                ('result', models.JSONField(blank=True, default=dict)),
                ('errors', models.JSONField(blank=True, default=list)),
                ('warnings', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('expires_at', models.DateTimeField()),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('worker', models.CharField(blank=True, default='', max_length=255)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('queue', models.CharField(default='short', max_length=16)),
                ('project', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.DB_SET_NULL, related_name='jobs', to='projects.project')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.DB_SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'training_job',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['project_name', 'kind', '-created_at'], name='training_jo_project_6fbeec_idx'), models.Index(fields=['status', 'heartbeat_at'], name='training_jo_status_0e0373_idx'), models.Index(fields=['queue', 'status', 'created_at'], name='training_jo_queue_4e3806_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('kind__in', ['import', 'project_delete', 'utterances_upload']), ('status__in', ['notStarted', 'running', 'cancelling'])), fields=('project_name',), name='one_active_import_or_delete_per_project'), models.UniqueConstraint(condition=models.Q(('kind', 'train'), ('status__in', ['notStarted', 'running', 'cancelling'])), fields=('project_name',), name='one_active_train_per_project'), models.UniqueConstraint(condition=models.Q(('kind__in', ['deploy', 'deployment_delete', 'swap']), ('status__in', ['notStarted', 'running', 'cancelling'])), fields=('project_name',), name='one_active_deployment_job_per_project')],
            },
        ),
            ],
        ),
        migrations.RunPython(relabel_content_type, unrelabel_content_type),
    ]
