from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Long-running operations: the Job table, its queues and its Celery dispatch.
    The apps that run jobs register their tasks here (``jobs.dispatch``)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
