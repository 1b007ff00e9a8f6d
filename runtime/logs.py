"""Query logging of the runtime: the ``PredictionLog`` rows a prediction stores when
the caller asks for it (``isLoggingEnabled``), and their retention sweep."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from runtime.registry import DeployedModel
from studio.purge import purge_in_batches
from studio.writebehind import row_create_defer
from training.models import PredictionLog

logger = logging.getLogger(__name__)


def prediction_log_row(
    *,
    model: DeployedModel,
    text: str,
    language: str | None,
    top_intent: str,
    confidence: float,
    prediction: dict[str, Any],
    api_key_prefix: str,
) -> PredictionLog:
    """The (unsaved) row of a logged query; ``prediction_log_store`` writes it, once
    the deployment's shadow model, if any, added its answer (``runtime.shadow``)."""
    return PredictionLog(
        project_id=model.project_id,
        deployment_name=model.deployment_name,
        model_id=model.model_id,
        query=text,
        language=language or "",
        top_intent=top_intent,
        confidence=confidence,
        prediction=prediction,
        api_key_prefix=api_key_prefix,
    )


def prediction_log_store(row: PredictionLog) -> None:
    """Store a logged query, after the answer (``studio.writebehind``: the request
    does not wait for the database lock); a database failure loses the row, not
    the answer."""
    try:
        row_create_defer(row)
    except DatabaseError:
        logger.exception(
            "Could not store a prediction log row for %s/%s",
            row.project_id,
            row.deployment_name,
        )


def prediction_logs_purge(
    *, now: datetime | None = None, deadline: float | None = None
) -> int:
    """Delete logged queries older than ``STUDIO_PREDICTION_LOG_RETENTION_DAYS``
    (0 keeps them forever); run by the worker's periodic sweep, in bounded
    batches (``studio.purge``) until ``deadline`` (``time.monotonic()``)."""
    days = int(settings.STUDIO_PREDICTION_LOG_RETENTION_DAYS)
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return purge_in_batches(
        PredictionLog.objects.filter(created_at__lt=cutoff), deadline=deadline
    )
