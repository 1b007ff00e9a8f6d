"""What refilling the review keys of open logs of an older recipe costs per row
(``training.services.review_recipe.review_keys_refill``), by how a batch is written.

    python -m bench.review_refill [--logs 6000] [--batch 500]
                                  [--database-url postgres://...]

Creates a throwaway database (as ``bench.review_queue``), seeds one project with
``--logs`` pending logs, and for each writer marks every log stale (recipe 0) and
refills them all in batches of ``--batch`` (default ``REVIEW_REFILL_BATCH``): wall
time, ms per row, and the longest batch (what a waiting writer or a request waits
for at most). Writers: ``executemany`` (the service's: one parameterised UPDATE
per row sent at once), ``bulk_update`` (Django's CASE per column, as before).
Nothing asserts.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from typing import Any

from bench.studio_db import (
    FILLER_WORDS,
    add_database_argument,
    throwaway_database,
)


def seed(n: int) -> int:
    from projects.models import Project
    from training.models import PredictionLog

    project = Project.objects.create(
        name="refill", kind="Conversation", language="en-us"
    )
    rng = random.Random(7)
    rows = []
    for i in range(n):
        confidence = rng.random()
        rows.append(
            PredictionLog(
                project=project,
                deployment_name="production",
                model_id="m1",
                query=" ".join(rng.sample(FILLER_WORDS, 5)) + f" {i}",
                top_intent="Book",
                confidence=confidence,
                prediction={
                    "topIntent": "Book",
                    "intents": [
                        {"category": "Book", "confidenceScore": confidence},
                        {"category": "Other", "confidenceScore": 1 - confidence},
                    ],
                },
            )
        )
    PredictionLog.objects.bulk_create(rows, batch_size=1000)
    return project.pk


def bulk_update(log_model: Any, batch: list[Any]) -> int:
    from training.engine import review as rv

    return int(
        log_model.objects.filter(review_recipe__lt=rv.RECIPE).bulk_update(
            batch, ["text_key", "base_score", "review_recipe"]
        )
    )


def measure(project_id: int, writer: str) -> tuple[float, float]:
    """Seconds for the whole refill, and the longest batch."""
    from training.models import PredictionLog
    from training.services import review_recipe as svc

    PredictionLog.objects.update(review_recipe=0)
    if writer == "bulk_update":
        svc._write = bulk_update
    longest = 0.0
    started = time.perf_counter()
    while True:
        batch_started = time.perf_counter()
        if not svc.review_keys_refill(
            project_id=project_id, limit=svc.REVIEW_REFILL_BATCH
        ):
            break
        longest = max(longest, time.perf_counter() - batch_started)
    return time.perf_counter() - started, longest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logs", type=int, default=6000)
    parser.add_argument("--writers", default="executemany,bulk_update")
    parser.add_argument("--batch", type=int, default=0, help="rows per batch")
    add_database_argument(parser)
    args = parser.parse_args(argv)
    with throwaway_database(args.database_url) as name:
        from training.services import review_recipe as svc

        if args.batch:
            svc.REVIEW_REFILL_BATCH = args.batch
        project_id = seed(args.logs)
        print(
            f"{name}: {args.logs:,} stale open logs, batches of "
            f"{svc.REVIEW_REFILL_BATCH} rows"
        )
        print("writer       total s  ms/row  longest batch s")
        for writer in args.writers.split(","):
            total, longest = measure(project_id, writer)
            print(
                f"{writer:<11}  {total:7.2f}  {1000 * total / args.logs:6.3f}  "
                f"{longest:15.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
