"""API keys: random, stored hashed, shown once, revocable, with a last-used time."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from studio.audit import audit_record
from studio.errors import InvalidArgument
from studio.models import ApiKey
from studio.writebehind import latest_time_defer

KEY_PREFIX = "osk_"
# last_used_at is written at most this often per key, to keep writes off the hot path.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def apikey_create(
    *, name: str, created_by: AbstractBaseUser | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidArgument(
            "An API key needs a name of 1 to 100 characters.", target="name"
        )
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            name=name,
            prefix=raw_key[: len(KEY_PREFIX) + 6],
            digest=_digest(raw_key),
            created_by=created_by,  # type: ignore[misc]
        )
        audit_record(action="key.create", target=_key_target(api_key))
    return api_key, raw_key


def _key_target(api_key: ApiKey) -> str:
    return f"API key {api_key.name} ({api_key.prefix}…)"


def apikey_revoke(*, api_key: ApiKey) -> ApiKey:
    with transaction.atomic():
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
            audit_record(action="key.revoke", target=_key_target(api_key))
    return api_key


def apikey_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None. One indexed query (the owner
    comes joined, for the role checks that follow); the last-used time is refreshed
    at most once a minute.

    A personal key whose owner is deactivated is refused like a revoked one (401):
    a key acts as its owner, and an inactive user may do nothing. Refusing it only
    per project would still let it create and import projects, which need no role.
    """
    if not raw_key or len(raw_key) > 200:
        return None
    api_key = (
        ApiKey.objects.filter(digest=_digest(raw_key), revoked_at__isnull=True)
        .filter(Q(created_by__isnull=True) | Q(created_by__is_active=True))
        .select_related("created_by")
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if (
        api_key.last_used_at is None
        or now - api_key.last_used_at > LAST_USED_RESOLUTION
    ):
        # After the answer: a prediction must not wait for the database lock.
        latest_time_defer(model=ApiKey, pk=api_key.pk, field="last_used_at", at=now)
        api_key.last_used_at = now
    return api_key
