"""The runtime's rate limit: predictions per API key per minute
(``STUDIO_RATE_LIMIT_PER_MINUTE``), counted in the shared cache."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from runtime.errors import TooManyRequests

logger = logging.getLogger(__name__)


def rate_limit_check(*, key_id: int | str, amount: int = 1) -> None:
    """Count ``amount`` predictions for the key (a multi-turn request counts one
    per conversation item); raise 429 past the per-minute limit.

    Fixed one-minute windows in the shared cache (Redis when configured), so every
    web process counts against the same number. A cache failure lets the request
    through: the limit protects capacity, it must not take predictions down.
    """
    limit = int(settings.STUDIO_RATE_LIMIT_PER_MINUTE)
    if limit <= 0:
        return
    now = time.time()
    window = int(now // 60)
    key = f"studio:rl:{key_id}:{window}"
    try:
        if cache.add(key, amount, timeout=120):
            count = amount
        else:
            try:
                count = cache.incr(key, amount)
            except ValueError:  # expired between add and incr
                cache.set(key, amount, timeout=120)
                count = amount
    except Exception as exc:  # noqa: BLE001 (any cache backend error fails open)
        logger.warning("Rate limit cache unavailable (%s); request allowed.", exc)
        return
    if count > limit:
        retry_after = max(1, 60 - int(now % 60))
        raise TooManyRequests(
            f"Rate limit of {limit} predictions per minute exceeded for this key. "
            f"Retry after {retry_after} second(s).",
            retry_after=retry_after,
        )
