"""The small test override of ``studio.settings``: fast hashing, in-memory storage,
jobs executed eagerly in-process. Integration tests do not use it: they start real
processes with the production-style environment (see ``tests/conftest.py``).

The suite also runs against PostgreSQL (``DATABASE_URL=... pytest``): that switches
``DEBUG`` off, so a throw-away key is supplied and the HTTPS redirect is off, or every
test-client request would be answered with a redirect."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "tests-only-" + "x" * 50)

from studio.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
# Logged queries and last-used times written in the request, as tests read them at
# once (tests/test_writebehind.py covers the deferred path).
STUDIO_WRITE_BEHIND_MS = 0
CELERY_TASK_EAGER_PROPAGATES = True
# Shadow predictions wait in their queue until a test drains it in its own thread
# (runtime.shadow.shadow_drain); tests/runtime/test_shadow.py covers the thread.
STUDIO_SHADOW_THREAD = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SECURE_SSL_REDIRECT = False
# Standard training would distill the static word vector table from the real
# encoder (a minute of CPU); tests that need one build it from a stand-in encoder.
STATIC_VECTORS_DIR = None
