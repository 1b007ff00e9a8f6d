"""The Celery application. Tasks are interfaces: they take ids and call one service."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Heartbeat and stale-job sweeper of every worker (connects Celery signals only).
from studio import worker as _worker  # noqa: E402, F401
