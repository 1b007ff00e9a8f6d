"""Errors in Azure's shape, raised by services and rendered by the API layer.

Services raise these (never DRF exceptions) so that the same rule gives the same error
in the REST API, a Celery job's ``errors`` list and the studio's forms. The API layer
turns them into ``{"error": {"code", "message", "target", "details", "innererror"}}``
(azure-api.md §0.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError

# The longest message or target an error carries. Messages quote client values
# (through ``studio.inputs.echo``, which cuts them to 100 characters); this is the
# backstop for any that does not, so a 7 MB value never comes back as a 14 MB error
# (Azure's body repeats the message in ``innererror``).
MAX_ERROR_TEXT = 1_000


def clip(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (cut; {len(text)} characters in all)"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One problem: Azure's ``Error`` object. ``target`` names the offending item."""

    code: str
    message: str
    target: str | None = None
    inner_code: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", clip(self.message))
        if self.target is not None:
            object.__setattr__(self, "target", clip(self.target))

    def as_azure(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            body["target"] = self.target
        if self.inner_code is not None:
            body["innererror"] = {"code": self.inner_code, "message": self.message}
        return body


class StudioError(Exception):
    """Base class: a client-visible failure with an HTTP status and Azure codes."""

    status_code = 400
    code = "InvalidArgument"
    inner_code: str | None = "InvalidParameterValue"

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        details: list[ErrorDetail] | None = None,
        inner_code: str | None = None,
    ) -> None:
        message = clip(message)
        super().__init__(message)
        self.message = message
        self.target = None if target is None else clip(target)
        self.details: list[ErrorDetail] = list(details or [])
        if inner_code is not None:
            self.inner_code = inner_code

    def as_detail(self) -> ErrorDetail:
        return ErrorDetail(self.code, self.message, self.target, self.inner_code)

    def as_azure(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.details:
            error["details"] = [d.as_azure() for d in self.details]
        if self.inner_code is not None:
            error["innererror"] = {"code": self.inner_code, "message": self.message}
        return {"error": error}


class InvalidArgument(StudioError):
    """A value that breaks a rule (name pattern, limit, offset outside the text...)."""


class InvalidRequest(StudioError):
    """A request that cannot be understood (malformed JSON, missing body)."""

    code = "InvalidRequest"
    inner_code = "InvalidRequestBodyFormat"


class NotFound(StudioError):
    status_code = 404
    code = "NotFound"
    inner_code = None


class ProjectNotFound(NotFound):
    code = "ProjectNotFound"


class OperationNotFound(NotFound):
    code = "OperationNotFound"


class Forbidden(StudioError):
    """The caller is known but its role in the project does not allow the action."""

    status_code = 403
    code = "Forbidden"
    inner_code = None


class Conflict(StudioError):
    status_code = 409
    code = "Conflict"
    inner_code = None


class PreconditionFailed(StudioError):
    """A write named a version of the resource (``If-Match``, a studio form's row
    version) that is no longer the stored one: someone else changed it meanwhile."""

    status_code = 412
    code = "PreconditionFailed"
    inner_code = None


class PayloadTooLarge(StudioError):
    status_code = 413
    code = "InvalidRequest"
    inner_code = "InvalidRequestBodyFormat"


class InternalServerError(StudioError):
    """Something on our side failed (a broken artifact, an unexpected exception)."""

    status_code = 500
    code = "InternalServerError"
    inner_code = None


# Database exceptions that mean "unreachable right now" (the server down, the
# connection dropped, a lock or statement timeout): the only ones answered 503 with
# Retry-After. Every other database error is the client's 4xx or our 500.
DATABASE_OUTAGES: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


class ServiceUnavailable(StudioError):
    """The database (or another backing service) is unreachable right now."""

    status_code = 503
    code = "ServiceUnavailable"
    inner_code = None


@dataclass
class ErrorCollector:
    """Gathers every problem in a document before failing, so one import run names
    all the offending items instead of the first one only."""

    details: list[ErrorDetail] = field(default_factory=list)
    limit: int = 100

    def add(
        self, message: str, *, target: str | None = None, code: str = "InvalidArgument"
    ) -> None:
        if len(self.details) < self.limit:
            self.details.append(
                ErrorDetail(code, message, target, "InvalidParameterValue")
            )

    def __bool__(self) -> bool:
        return bool(self.details)

    def raise_if_any(self, summary: str) -> None:
        if self.details:
            first = self.details[0]
            message = f"{summary}: {first.message}"
            if len(self.details) > 1:
                message += f" (and {len(self.details) - 1} more problem(s))"
            raise InvalidArgument(message, target=first.target, details=self.details)
