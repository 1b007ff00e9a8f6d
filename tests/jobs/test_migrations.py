"""Moving the Job model from training to jobs moves no data: the rows, the table's
constraints and the content type's permissions are where they were."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from jobs.models import Job

# The whole schema as it was when the model moved (projects included: a column
# added to projects since, NOT NULL without a database default, would refuse the
# historical model's rows).
BEFORE = [
    ("training", "0013_deployment_resources"),
    ("projects", "0015_project_source_stamp"),
    ("jobs", None),
]


def _migrate(targets: Sequence[tuple[str, str | None]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    return executor.loader.project_state(
        [(app, name) for app, name in targets if name is not None]
    ).apps


def _latest() -> Any:
    executor = MigrationExecutor(connection)
    return _migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_jobs_of_the_training_app_survive_the_move_to_the_jobs_app() -> None:
    try:
        _survive_the_move()
    finally:
        # Whatever failed, later tests get today's schema back.
        _latest()
        ContentType.objects.clear_cache()


def _survive_the_move() -> None:
    old_apps = _migrate(BEFORE)
    project_model = old_apps.get_model("projects", "Project")
    old_job = old_apps.get_model("training", "Job")
    now = timezone.now()
    project = project_model.objects.create(
        name="Mail", kind="Conversation", language="en", created_at=now
    )
    made = old_job.objects.create(
        job_id="train-1",
        kind="train",
        project_name="Mail",
        project=project,
        status="running",
        params={"modelLabel": "m1"},
        expires_at=now + timedelta(days=7),
    )
    # An existing database has training's content type (with its permissions).
    ContentType.objects.clear_cache()
    ContentType.objects.filter(app_label="jobs", model="job").delete()
    old_type, _ = ContentType.objects.get_or_create(app_label="training", model="job")
    Permission.objects.get_or_create(
        content_type=old_type, codename="view_job", defaults={"name": "Can view job"}
    )
    try:
        _latest()
        ContentType.objects.clear_cache()

        job = Job.objects.get(pk=made.pk)
        assert (job.job_id, job.kind, job.status) == ("train-1", "train", "running")
        assert job.params == {"modelLabel": "m1"}
        assert job.project_id == project.pk
        assert Job._meta.db_table == "training_job"
        relabelled = ContentType.objects.get(pk=old_type.pk)
        assert (relabelled.app_label, relabelled.model) == ("jobs", "job")
        assert Permission.objects.filter(
            content_type=relabelled, codename="view_job"
        ).exists()
        # The table's constraints came along: one active training per project.
        with pytest.raises(IntegrityError), transaction.atomic():
            Job.objects.create(
                job_id="train-2",
                kind=Job.Kind.TRAIN,
                project_name="Mail",
                expires_at=now + timedelta(days=7),
            )

        # And back: the rows are training's again.
        old_apps = _migrate(BEFORE)
        ContentType.objects.clear_cache()
        assert old_apps.get_model("training", "Job").objects.get(pk=made.pk).job_id == (
            "train-1"
        )
        assert ContentType.objects.get(pk=old_type.pk).app_label == "training"
    finally:
        _latest()
        ContentType.objects.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_the_deployment_version_survives_its_move_to_studio() -> None:
    from studio.deployment_state import deployment_state_version

    before = [
        ("training", "0014_job_moved_to_jobs"),
        ("studio", "0003_audit_event"),
    ]
    try:
        old_apps = _migrate(before)
        state = old_apps.get_model("training", "DeploymentState")
        state.objects.create(pk=1, version=41)
        _latest()
        assert deployment_state_version() == 41
        old_apps = _migrate(before)
        state = old_apps.get_model("training", "DeploymentState")
        assert state.objects.get(pk=1).version == 41
    finally:
        _latest()
        ContentType.objects.clear_cache()
