"""The audit trail's writes: who acts (recorded once per request) and
``audit_record``, called by the services inside the transaction of the change they
make, so a change and its event commit (or roll back) together.

Who acts is recorded like the job requester (``studio.requester``): the
``RequesterMiddleware`` installs a lazy resolver of the session user (or, once DRF
has authenticated an API call, of its key, which DRF puts on ``request.user``), so
requests that change nothing pay nothing. Outside a request (a worker, a management
command) the actor is the system unless ``audit_acting_as`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from studio.models import ApiKey, AuditEvent, AuditEventQuerySet
from studio.purge import purge_in_batches


@dataclass(frozen=True, slots=True)
class AuditActor:
    user_id: int | None = None
    username: str = ""
    api_key_id: int | None = None
    api_key_name: str = ""

    @classmethod
    def of_user(cls, user: Any) -> AuditActor:
        if user is None or not getattr(user, "is_authenticated", False):
            return SYSTEM
        api_key = getattr(user, "api_key", None)  # the API's KeyPrincipal
        if isinstance(api_key, ApiKey):
            return cls.of_key(api_key)
        return cls(user_id=int(user.pk), username=user.get_username())

    @classmethod
    def of_key(cls, api_key: ApiKey) -> AuditActor:
        owner = api_key.created_by
        return cls(
            user_id=None if owner is None else int(owner.pk),
            username="" if owner is None else owner.get_username(),
            api_key_id=int(api_key.pk),
            api_key_name=f"{api_key.name} ({api_key.prefix}…)",
        )

    def fields(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "api_key_id": self.api_key_id,
            "api_key_name": self.api_key_name,
        }


SYSTEM = AuditActor()

_actor: ContextVar[Callable[[], AuditActor] | None] = ContextVar(
    "studio_audit_actor", default=None
)


def audit_actor_set(
    resolve: Callable[[], AuditActor] | None,
) -> Token[Callable[[], AuditActor] | None]:
    """Record who the current request acts for; returns the token to reset."""
    return _actor.set(resolve)


def audit_actor_reset(token: Token[Callable[[], AuditActor] | None]) -> None:
    _actor.reset(token)


def audit_actor() -> AuditActor:
    resolve = _actor.get()
    return resolve() if resolve is not None else SYSTEM


@contextmanager
def audit_acting_as(actor: AuditActor) -> Iterator[None]:
    """Attribute the events recorded inside to ``actor`` (tests, jobs)."""
    token = audit_actor_set(lambda: actor)
    try:
        yield
    finally:
        audit_actor_reset(token)


@dataclass(frozen=True, slots=True)
class Change:
    """One event of a batch (``audit_record_many``)."""

    target: str
    before: Any = None
    after: Any = None


def audit_record(
    *,
    action: str,
    project: Any = None,
    project_name: str = "",
    target: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event. ``project``: the project it concerns (None: studio-wide,
    or one known only by ``project_name``, such as a project an import creates)."""
    fields = _project_fields(project)
    if project is None and project_name:
        fields["project_name"] = project_name
    return AuditEvent.objects.create(
        action=action,
        target=target[:200],
        before=before,
        after=after,
        **fields,
        **audit_actor().fields(),
    )


def audit_record_many(
    *, action: str, project: Any, changes: Iterable[Change], batch_size: int = 1000
) -> int:
    """Append one event per change (a bulk label change: one per utterance)."""
    common = {
        "action": action,
        "created_at": timezone.now(),
        **_project_fields(project),
        **audit_actor().fields(),
    }
    rows = [
        AuditEvent(target=c.target[:200], before=c.before, after=c.after, **common)
        for c in changes
    ]
    AuditEvent.objects.bulk_create(rows, batch_size=batch_size)
    return len(rows)


def _project_fields(project: Any) -> dict[str, Any]:
    if project is None:
        return {"project_id": None, "project_name": ""}
    return {"project_id": int(project.pk), "project_name": project.name}


def audit_events_purge(*, now: Any = None, deadline: float | None = None) -> int:
    """Delete events older than ``STUDIO_AUDIT_RETENTION_DAYS`` (0: kept forever),
    in bounded batches (``studio.purge``) until ``deadline`` (``time.monotonic()``)."""
    days = int(settings.STUDIO_AUDIT_RETENTION_DAYS)
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return purge_in_batches(
        AuditEvent.objects.filter(created_at__lt=cutoff),
        delete=_events_purge,
        deadline=deadline,
    )


def _events_purge(batch: QuerySet[Any]) -> int:
    return cast(AuditEventQuerySet, batch).purge()  # AuditEvent's manager's
