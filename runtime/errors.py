"""Runtime failures in Azure's error shape, beyond those of ``studio.errors``."""

from __future__ import annotations

from studio.errors import InternalServerError, ServiceUnavailable, StudioError

__all__ = [
    "DeploymentUnavailable",
    "InternalServerError",
    "ServiceUnavailable",
    "TooManyRequests",
]


class TooManyRequests(StudioError):
    """The key's prediction quota for the current minute is spent."""

    status_code = 429
    code = "TooManyRequests"
    inner_code = None

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeploymentUnavailable(ServiceUnavailable):
    """A deployment's model is sound but cannot load on this server: a file it
    needs beside it (its static word vector table, its encoder's weights) is
    missing. The message says which and what to do; a retry helps only once an
    operator fixed it, so ``Retry-After`` is the registry's retry interval."""

    retry_after = 5
