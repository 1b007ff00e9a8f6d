from __future__ import annotations

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from training.engine.embeddings import (
            configure_default_cache,
            configure_encoders,
        )

        # On by default (issue 15 item 2): retraining encodes only new or edited
        # utterances, and the evaluation reuses the training's encodings.
        configure_default_cache(settings.EMBEDDING_CACHE_DIR)
        try:
            configure_encoders(settings.STUDIO_ENCODERS)
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
