"""Reads of the audit trail: one project's events, filtered and paged by id (newest
first), and the same events as JSON Lines for export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from studio.models import AuditEvent

# The families of actions, for the filter ("utterance" matches utterance.*).
ACTION_FAMILIES = {
    "utterance": "Labels (utterances)",
    "intent": "Intents",
    "entity": "Entities",
    "project": "Project (settings, imports, exports, deletion)",
    "model": "Trainings",
    "deployment": "Deployments (and the deploy gate's checks)",
    "gate": "Deploy gate's pinned Test set",
    "member": "Members",
    "kb": "Knowledge base",
    "utterances": "Uploads",
    "review": "Review queue",
    "data": "Added to data (playground, evaluation)",
    "key": "API keys (studio-wide)",
    "user": "People (studio-wide)",
}
PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str = ""  # a family ("utterance") or an exact action ("utterance.add")
    user: str = ""  # "user:<id>", "key:<id>" or "system"
    target: str = ""  # a substring of the target ("utterance 42", "intent Greet")
    since: date | None = None
    until: date | None = None  # inclusive


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(*, project_name: str, filters: AuditFilter) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(project_name=project_name)
    if filters.action:
        if "." in filters.action:
            qs = qs.filter(action=filters.action)
        else:
            qs = qs.filter(action__startswith=filters.action + ".")
    if filters.user == "system":
        qs = qs.filter(user_id__isnull=True, api_key_id__isnull=True)
    elif filters.user.startswith("user:"):
        qs = qs.filter(user_id=int(filters.user.removeprefix("user:")))
    elif filters.user.startswith("key:"):
        qs = qs.filter(api_key_id=int(filters.user.removeprefix("key:")))
    if filters.target:
        qs = qs.filter(target__icontains=filters.target)
    if filters.since is not None:
        qs = qs.filter(created_at__gte=_day_start(filters.since))
    if filters.until is not None:
        qs = qs.filter(created_at__lt=_day_start(filters.until + timedelta(days=1)))
    return qs.order_by("-id")


def audit_page(
    *, project_name: str, filters: AuditFilter, before_id: int | None = None
) -> tuple[list[AuditEvent], int | None]:
    """A page of events older than ``before_id`` and the cursor of the next page
    (None on the last)."""
    qs = audit_events(project_name=project_name, filters=filters)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    rows = list(qs[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].pk if more and rows else None)


def audit_actors(*, project_name: str) -> list[tuple[str, str]]:
    """(filter value, name) of everyone who appears in the project's trail."""
    seen: dict[str, str] = {}
    for user_id, username, key_id, key_name in (
        AuditEvent.objects.filter(project_name=project_name)
        .values_list("user_id", "username", "api_key_id", "api_key_name")
        .distinct()
    ):
        if user_id is not None:
            seen.setdefault(f"user:{user_id}", username)
        if key_id is not None:
            seen.setdefault(f"key:{key_id}", f"API key {key_name}")
        if user_id is None and key_id is None:
            seen.setdefault("system", "system")
    return sorted(seen.items(), key=lambda item: item[1].lower())


def audit_event_document(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "time": event.created_at.isoformat(),
        "project": event.project_name or None,
        "actor": {
            "user": event.username or None,
            "userId": event.user_id,
            "apiKey": event.api_key_name or None,
            "apiKeyId": event.api_key_id,
        },
        "action": event.action,
        "target": event.target,
        "before": event.before,
        "after": event.after,
    }


def audit_jsonl(*, project_name: str, filters: AuditFilter) -> Iterator[str]:
    """The filtered events as JSON Lines, oldest first, read in chunks."""
    qs = audit_events(project_name=project_name, filters=filters).order_by("id")
    for event in qs.iterator(chunk_size=1000):
        yield json.dumps(audit_event_document(event), ensure_ascii=False) + "\n"
