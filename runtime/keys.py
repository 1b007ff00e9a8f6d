"""Short-lived per-process caches of authenticated runtime API keys and of the
project access their owners were granted.

Authenticating a key is one indexed query; on the prediction hot path that would be
a query on every request. Runtime views remember a key they authenticated for
``KEY_CACHE_SECONDS``, so a steady stream of predictions costs no query for the key.
Consequence (documented in training/README.md): a revoked key keeps working for at
most that long in a process that saw it just before. Unknown or revoked keys are
never cached, so they are refused on every request.

A key made by a user acts with that user's project roles. ``access_cache`` remembers
for ``KEY_CACHE_SECONDS`` that a user may use a project (a successful check), so
warm predictions with a personal key cost no query either; a removed membership
takes effect within that time, as a revoked key does. Refusals are never cached.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from studio.models import ApiKey
from studio.services import apikey_authenticate

KEY_CACHE_SECONDS = 5.0
MAX_KEYS = 1000


class ApiKeyCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, raw_key: str) -> ApiKey | None:
        digest = hashlib.sha256(raw_key.encode("utf-8")).hexdigest()
        now = self._clock()
        entry = self._entries.get(digest)
        if entry is not None and entry[1] > now:
            return entry[0]
        api_key = apikey_authenticate(raw_key=raw_key)
        with self._lock:
            if api_key is None:
                self._entries.pop(digest, None)
                return None
            if len(self._entries) >= MAX_KEYS:
                self._entries.clear()
            self._entries[digest] = (api_key, now + KEY_CACHE_SECONDS)
        return api_key

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


key_cache = ApiKeyCache()


AccessKey = tuple[object, str, str]


class ProjectAccessCache:
    """``(user id, project name, action)`` checks that passed a moment ago."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[AccessKey, float] = {}
        self._lock = threading.Lock()

    def allowed(self, user_id: object, project_name: str, action: str) -> bool:
        expires = self._entries.get((user_id, project_name, action))
        return expires is not None and expires > self._clock()

    def remember(self, user_id: object, project_name: str, action: str) -> None:
        with self._lock:
            if len(self._entries) >= MAX_KEYS:
                self._entries.clear()
            self._entries[(user_id, project_name, action)] = (
                self._clock() + KEY_CACHE_SECONDS
            )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


access_cache = ProjectAccessCache()
