"""What the worker's retention sweep costs when a backlog of logs is past its
retention (``runtime.logs.prediction_logs_purge``): one DELETE of all of them (the
sweep before ``studio.purge``) against the bounded batches it uses now.

    python -m bench.retention_purge [--logs 200000] [--database-url postgres://...]

Creates a throwaway database (as ``bench.review_queue``), seeds ``--logs`` logged
queries dated past the retention, and times (a) one ``QuerySet.delete`` of them all
and, after seeding again, (b) sweeps of ``purge_in_batches`` until none is left:
wall seconds, rows per second, and the longest single statement (what a waiting
writer - the runtime's log writer, a labeling save - waits for at most on SQLite,
where a DELETE holds the only write lock). Nothing asserts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bench.review_refill import seed
from bench.studio_db import add_database_argument, throwaway_database


def _aged(logs: int) -> Any:
    from django.utils import timezone

    from projects.models import Project
    from training.models import PredictionLog

    Project.objects.filter(name="refill").delete()  # the previous pass's
    seed(logs)
    PredictionLog.objects.update(created_at=timezone.now() - timedelta(days=400))
    return PredictionLog.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=30)
    )


def measure(logs: int) -> dict[str, float]:
    """Both ways on ``logs`` aged logs: rows, seconds, sweeps, longest sweep and
    longest DELETE statement."""
    from django.db import connection

    from studio import purge

    rows = _aged(logs)
    started = time.perf_counter()
    deleted, _ = rows.delete()
    one = time.perf_counter() - started

    rows = _aged(logs)
    longest, sweeps, total = 0.0, 0, 0
    statements: list[float] = []

    def timed(execute: Any, sql: str, *params: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, *params)
        finally:
            if sql.lstrip().upper().startswith("DELETE"):
                statements.append(time.perf_counter() - began)

    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        while True:
            sweep_began = time.perf_counter()
            gone = purge.purge_in_batches(rows)
            if not gone:
                break
            total += gone
            sweeps += 1
            longest = max(longest, time.perf_counter() - sweep_began)
    batched = time.perf_counter() - started
    return {
        "one_delete_rows": deleted,
        "one_delete_s": one,
        "batched_rows": total,
        "batched_s": batched,
        "sweeps": sweeps,
        "longest_sweep_s": longest,
        "longest_statement_s": max(statements, default=0.0),
        "statements": len(statements),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logs", type=int, default=200_000)
    add_database_argument(parser)
    args = parser.parse_args(argv)
    with throwaway_database(args.database_url) as name:
        from studio import purge

        print(f"{name}: {args.logs:,} logs past their retention")
        got = measure(args.logs)
        print(
            f"one DELETE (before):  {got['one_delete_rows']:,.0f} rows in "
            f"{got['one_delete_s']:.2f} s"
        )
        print(
            f"batches (now):        {got['batched_rows']:,.0f} rows in "
            f"{got['batched_s']:.2f} s over {got['sweeps']:.0f} sweep(s) of <= "
            f"{purge.PURGE_PER_SWEEP:,} (longest {got['longest_sweep_s']:.2f} s), "
            "longest DELETE "
            f"{got['longest_statement_s']:.3f} s ({purge.PURGE_BATCH:,} rows)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
