"""Reads of the workers' heartbeats: which queues a live worker consumes now.

A worker is live while its heartbeat row (studio/worker.py) is younger than
``STUDIO_WORKER_STALE_SECONDS``; a blank ``queues`` is a worker started without
``-Q``, which consumes every queue.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from studio.models import WorkerHeartbeat


def queue_has_live_worker(*, queue: str) -> bool:
    """Whether a worker that consumes ``queue`` beat within the stale limit."""
    cutoff = timezone.now() - timedelta(seconds=settings.STUDIO_WORKER_STALE_SECONDS)
    consumed = WorkerHeartbeat.objects.filter(last_seen_at__gte=cutoff).values_list(
        "queues", flat=True
    )
    return any(not names or queue in names.split(",") for names in consumed)
