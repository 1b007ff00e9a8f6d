"""Which tables a backup holds, and how a row becomes JSON and back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import models

# Left out of every backup, with the reason the README gives.
EXCLUDED_APPS = {
    # Sign-in throttling counters and logs: a restored studio starts unlocked.
    "axes": "sign-in throttling counters",
}
EXCLUDED_MODELS = {
    # Recreated by `migrate`; what points at them is restored by natural key.
    "contenttypes.contenttype": "recreated by migrate (references kept by name)",
    "auth.permission": "recreated by migrate (references kept by name)",
    "sessions.session": "sign-in sessions (everyone signs in again)",
    "studio.workerheartbeat": "the old studio's worker liveness",
    "studio.deploymentstate": "the deployment version (the restore moves it on)",
}
# Only finished jobs whose results are still served (expiresAt ahead) are kept: a
# queued or running job cannot go on in another studio.
JOB_LABEL = "jobs.job"


def backed_up_models(
    all_models: Iterable[type[models.Model]],
) -> list[type[models.Model]]:
    """The models whose rows a backup holds, parents before children (app order)."""
    kept = []
    for model in all_models:
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        if meta.app_label in EXCLUDED_APPS or meta.label_lower in EXCLUDED_MODELS:
            continue
        kept.append(model)
    return kept


def row_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The stored columns, less those the database computes (GeneratedField)."""
    return [
        f for f in model._meta.concrete_fields if not getattr(f, "generated", False)
    ]


def encode_value(field: models.Field[Any, Any], obj: models.Model) -> Any:
    """A field's value as JSON: as stored, with full-precision ISO dates."""
    value = field.value_from_object(obj)
    if value is None or isinstance(field, models.JSONField):
        return value
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return field.value_to_string(obj)


def decode_value(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None or isinstance(field, models.JSONField):
        return value
    return field.to_python(value)
