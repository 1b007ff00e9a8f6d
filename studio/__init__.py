from __future__ import annotations

from studio.cpu import native_threads_limit

# Before anything imports numpy or the embedding engine (studio/cpu.py says why).
native_threads_limit()

from studio.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
