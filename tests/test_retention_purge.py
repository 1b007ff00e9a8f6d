"""The retention sweeps delete in bounded batches: the worker runs them on the
thread that writes its heartbeat (every 5 s, stale after 30 s), and on SQLite one
DELETE of millions of rows (a day of a bot's logs after the worker was down, or a
shorter retention) would hold the only write lock for minutes, so the runtime's
log writer and every labeling save would wait behind it."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from runtime.logs import prediction_logs_purge
from studio import purge
from studio.audit import audit_events_purge
from studio.models import AuditEvent
from tests.factories import PredictionLogFactory, ProjectFactory
from training.models import PredictionLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(purge, "PURGE_BATCH", 2)
    monkeypatch.setattr(purge, "PURGE_PER_SWEEP", 5)


def _deletes(queries: list[dict[str, str]]) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]


def test_old_prediction_logs_go_in_bounded_batches(small_batches: None) -> None:
    project = ProjectFactory.create()
    now = timezone.now()
    old = [PredictionLogFactory.create(project=project) for _ in range(7)]
    PredictionLog.objects.filter(pk__in=[o.pk for o in old]).update(
        created_at=now - timedelta(days=31)
    )
    young = PredictionLogFactory.create(project=project)

    with override_settings(STUDIO_PREDICTION_LOG_RETENTION_DAYS=30):
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as first:
            assert prediction_logs_purge(now=now) == 5
        assert len(_deletes(first.captured_queries)) == 3  # 2 + 2 + 1
        assert prediction_logs_purge(now=now) == 2  # the next sweep
        assert prediction_logs_purge(now=now) == 0

    assert list(PredictionLog.objects.values_list("pk", flat=True)) == [young.pk]


def test_old_audit_events_go_in_bounded_batches(small_batches: None) -> None:
    now = timezone.now()
    for n in range(6):
        AuditEvent.objects.create(action=f"old.{n}", created_at=now - timedelta(11))
    new = AuditEvent.objects.create(action="new.one", created_at=now - timedelta(9))

    with override_settings(STUDIO_AUDIT_RETENTION_DAYS=10):
        assert audit_events_purge(now=now) == 5
        assert audit_events_purge(now=now) == 1
        assert audit_events_purge(now=now) == 0

    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [new.pk]


def test_a_purge_stops_batching_at_its_deadline(small_batches: None) -> None:
    project = ProjectFactory.create()
    PredictionLogFactory.create_batch(4, project=project)
    rows = PredictionLog.objects.all()
    assert purge.purge_in_batches(rows, deadline=time.monotonic() - 1) == 0
    assert PredictionLog.objects.count() == 4
    assert purge.purge_in_batches(rows, deadline=time.monotonic() + 60) == 4


def test_the_limit_counts_rows_looked_at_not_rows_deleted(
    small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep racing another (two workers) deletes nothing of what it listed: it
    must still stop at its limit, not go on through the whole table."""
    project = ProjectFactory.create()
    PredictionLogFactory.create_batch(12, project=project)
    statements: list[int] = []

    def lost_race(batch: Any) -> int:
        statements.append(1)
        return 0  # the other sweep deleted them first

    assert purge.purge_in_batches(PredictionLog.objects.all(), delete=lost_race) == 0
    assert len(statements) == 3  # 2 + 2 + 1 rows looked at: the limit of 5
