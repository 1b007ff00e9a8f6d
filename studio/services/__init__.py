"""Writes of the studio app, one module per topic (selectors/ holds the reads):
``keys`` (API keys: create, revoke, authenticate) and ``people`` (the studio's user
management). Every function is keyword-only and runs in one ``transaction.atomic``;
the public ones are re-exported here, as ``projects.services`` does."""

from __future__ import annotations

from studio.services.keys import (
    KEY_PREFIX,
    LAST_USED_RESOLUTION,
    apikey_authenticate,
    apikey_create,
    apikey_revoke,
)
from studio.services.people import (
    NewPerson,
    may_manage_people,
    user_create,
    user_deactivate,
    user_password_link_send,
    user_reactivate,
)

__all__ = [
    "KEY_PREFIX",
    "LAST_USED_RESOLUTION",
    "NewPerson",
    "apikey_authenticate",
    "apikey_create",
    "apikey_revoke",
    "may_manage_people",
    "user_create",
    "user_deactivate",
    "user_password_link_send",
    "user_reactivate",
]
