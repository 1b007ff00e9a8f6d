"""Runtime failures in Azure's error shape, beyond those of ``studio.errors``."""

from __future__ import annotations

from studio.errors import InternalServerError, ServiceUnavailable, StudioError

__all__ = ["InternalServerError", "ServiceUnavailable", "TooManyRequests"]


class TooManyRequests(StudioError):
    """The key's prediction quota for the current minute is spent."""

    status_code = 429
    code = "TooManyRequests"
    inner_code = None

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
