from __future__ import annotations

from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """Prediction serving. No models of its own: it reads training's tables
    (Deployment, TrainedModel, PredictionLog)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "runtime"
