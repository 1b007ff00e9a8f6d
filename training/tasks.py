"""Celery tasks of training and deployment; each takes a job id and calls one service.

Celery's autodiscovery imports this module; the tasks themselves live beside the
services they call.
"""

from __future__ import annotations

from training.deploy_jobs import deploy_task  # noqa: F401
from training.resource_jobs import resources_deploy_task  # noqa: F401
from training.train_jobs import load_snapshot_task, train_task  # noqa: F401
