"""The deployment version row: bumped on every deployment change, read by the runtime.

It sits below every app because every layer touches it: training bumps it when a
deployment changes, projects when a project setting the runtime serves with its
deployments changes (a confidence threshold, a default answer), the runtime polls it.

Call ``deployment_state_bump()`` inside the transaction that changes a deployment (or
a setting the runtime reads with it, such as a project's confidence threshold): the
bump commits or rolls back with the change, so a web process that sees the new version
also sees the new rows.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from studio.models import DeploymentState

_PK = 1


def deployment_state_bump() -> int:
    """Increment the version (creating the row on first use); returns the new value."""
    now = timezone.now()
    with transaction.atomic():
        updated = DeploymentState.objects.filter(pk=_PK).update(
            version=F("version") + 1, changed_at=now
        )
        if not updated:
            state, created = DeploymentState.objects.select_for_update().get_or_create(
                pk=_PK, defaults={"version": 1, "changed_at": now}
            )
            if not created:
                DeploymentState.objects.filter(pk=_PK).update(
                    version=F("version") + 1, changed_at=now
                )
        return int(
            DeploymentState.objects.values_list("version", flat=True).get(pk=_PK)
        )


def deployment_state_stamp() -> tuple[int, datetime | None]:
    """The version and when it last moved: one primary-key lookup.

    The runtime compares both, so a database that starts over (restored from a
    backup, flushed) and climbs back to a number a process has cached is still
    seen as a change."""
    row = DeploymentState.objects.filter(pk=_PK).values_list("version", "changed_at")
    first = row.first()
    if first is None:
        return (0, None)
    return (int(first[0]), first[1])


def deployment_state_version() -> int:
    """The current version (0 before any deployment): one primary-key lookup."""
    version = (
        DeploymentState.objects.filter(pk=_PK).values_list("version", flat=True).first()
    )
    return int(version or 0)
