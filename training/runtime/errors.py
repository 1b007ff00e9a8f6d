"""Runtime failures in Azure's error shape, beyond those of ``studio.errors``."""

from __future__ import annotations

from studio.errors import StudioError


class InternalServerError(StudioError):
    """The deployed model cannot be used (a broken or missing artifact)."""

    status_code = 500
    code = "InternalServerError"
    inner_code = None


class ServiceUnavailable(StudioError):
    """The database (or another backing service) is unreachable right now."""

    status_code = 503
    code = "ServiceUnavailable"
    inner_code = None


class TooManyRequests(StudioError):
    """The key's prediction quota for the current minute is spent."""

    status_code = 429
    code = "TooManyRequests"
    inner_code = None

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
