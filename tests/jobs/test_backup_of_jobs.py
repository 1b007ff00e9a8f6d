"""A backup keeps only finished, unexpired jobs, wherever the Job model lives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from jobs.models import Job
from training.backup import dump

pytestmark = pytest.mark.django_db


def test_a_backup_leaves_out_queued_running_and_expired_jobs() -> None:
    now = timezone.now()

    def job(job_id: str, status: str, expires_in: timedelta) -> None:
        Job.objects.create(
            job_id=job_id,
            kind=Job.Kind.EXPORT,
            project_name="P",
            status=status,
            expires_at=now + expires_in,
        )

    job("done", Job.Status.SUCCEEDED, timedelta(days=1))
    job("running", Job.Status.RUNNING, timedelta(days=1))
    job("queued", Job.Status.NOT_STARTED, timedelta(days=1))
    job("expired", Job.Status.FAILED, -timedelta(days=1))
    rows = dump._rows_of(Job, DEFAULT_DB_ALIAS, now)
    assert list(rows.values_list("job_id", flat=True)) == ["done"]
