"""The Celery queues the studio's workers serve: their names and what each consumes.

Infrastructure, below every app: ``runstudio`` starts one worker per queue, the
health check expects a live worker on each, and ``jobs.queues`` chooses the queue
of each job (which work is long, which is short; see jobs/queues.py).
"""

from __future__ import annotations

QUEUE_LONG = "long"
QUEUE_SHORT = "short"
QUEUES = (QUEUE_LONG, QUEUE_SHORT)
# Celery's own default queue, where every job went before the split: the short
# workers also consume it, so jobs queued before an upgrade still run (their rows
# would otherwise wait as notStarted and block the project's next job).
QUEUE_LEGACY = "celery"


def worker_queues(queue: str) -> list[str]:
    """What the worker processes of ``queue`` consume."""
    return [queue, QUEUE_LEGACY] if queue == QUEUE_SHORT else [queue]
