"""Reads of the workers' heartbeats: which queues a live worker consumes now.

A worker is live while its heartbeat row (studio/worker.py) is younger than
``STUDIO_WORKER_STALE_SECONDS``; a blank ``queues`` is a worker started without
``-Q``, which consumes every queue. ``/healthz`` (studio/health.py) and the job
sweep's re-send (jobs/services.py) both read liveness through this module.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from studio.models import WorkerHeartbeat


def stale_cutoff() -> datetime:
    """Heartbeats older than this are from workers presumed dead."""
    return timezone.now() - timedelta(seconds=settings.STUDIO_WORKER_STALE_SECONDS)


def live_worker_queues() -> list[str]:
    """The ``queues`` value of every live worker (blank: every queue)."""
    return list(
        WorkerHeartbeat.objects.filter(last_seen_at__gte=stale_cutoff()).values_list(
            "queues", flat=True
        )
    )


def consumes(queues: str, queue: str) -> bool:
    """Whether a worker whose heartbeat lists ``queues`` consumes ``queue``."""
    return not queues or queue in queues.split(",")


def queue_has_live_worker(*, queue: str) -> bool:
    """Whether a worker that consumes ``queue`` beat within the stale limit."""
    return any(consumes(names, queue) for names in live_worker_queues())
