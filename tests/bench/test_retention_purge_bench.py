"""Smoke test of bench.retention_purge: both ways delete every aged log; the
batched one in statements of at most ``PURGE_BATCH`` rows and sweeps of at most
``PURGE_PER_SWEEP``. Never the timings."""

from __future__ import annotations

import pytest

from bench import retention_purge
from studio import purge
from training.models import PredictionLog


@pytest.mark.django_db
def test_the_benchmark_deletes_the_backlog_both_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(purge, "PURGE_BATCH", 7)
    monkeypatch.setattr(purge, "PURGE_PER_SWEEP", 20)
    got = retention_purge.measure(50)
    assert got["one_delete_rows"] == 50
    assert got["batched_rows"] == 50
    assert got["sweeps"] == 3  # 20 + 20 + 10
    assert got["statements"] == 8  # 7+7+6, 7+7+6, 7+3 (the last one short)
    assert not PredictionLog.objects.exists()
