"""Every API error in Azure's body shape (azure-api.md §0.1)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError, connection
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from studio.errors import (
    DATABASE_OUTAGES,
    Conflict,
    InternalServerError,
    InvalidArgument,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    StudioError,
)

logger = logging.getLogger(__name__)

MISSING_KEY_MESSAGE = (
    "Access denied due to missing subscription key. Make sure to include subscription "
    "key when making requests to an API."
)
INVALID_KEY_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API "
    "endpoint for your resource."
)


class MissingKey(drf.NotAuthenticated):
    pass


class InvalidKey(drf.AuthenticationFailed):
    pass


class InvalidToken(drf.AuthenticationFailed):
    """A bearer token that fails a check; ``detail`` says which."""


class PrincipalForbidden(drf.PermissionDenied):
    """A valid bearer token for someone who is not a user of this studio: Azure
    answers a token without a role assignment with 403 PermissionDenied."""


def error_response(exc: StudioError, headers: dict[str, str] | None = None) -> Response:
    response = Response(exc.as_azure(), status=exc.status_code, headers=headers)
    response["x-ms-error-code"] = exc.code
    return response


def _unauthorized(message: str) -> Response:
    response = Response({"error": {"code": "401", "message": message}}, status=401)
    response["WWW-Authenticate"] = 'AzureApiManagementKey realm="studio"'
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: map everything to Azure's error body."""
    if isinstance(exc, StudioError):
        return error_response(exc)
    if isinstance(exc, InvalidKey):
        return _unauthorized(INVALID_KEY_MESSAGE)
    if isinstance(exc, InvalidToken):
        response = _unauthorized(f"Unauthorized. {exc.detail}")
        response["WWW-Authenticate"] = 'Bearer realm="studio", error="invalid_token"'
        return response
    if isinstance(exc, PrincipalForbidden):
        response = Response(
            {"error": {"code": "PermissionDenied", "message": str(exc.detail)}},
            status=403,
        )
        response["x-ms-error-code"] = "PermissionDenied"
        return response
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return _unauthorized(MISSING_KEY_MESSAGE)
    if isinstance(exc, RequestDataTooBig):
        return error_response(PayloadTooLarge("The request body is too large."))
    if isinstance(exc, drf.ParseError):
        return error_response(
            InvalidRequest(f"The request body is not valid JSON: {exc.detail}")
        )
    if isinstance(exc, drf.UnsupportedMediaType):
        return error_response(
            InvalidRequest(
                f"Unsupported Content-Type {exc.detail!s}; send application/json.",
            )
        )
    if isinstance(exc, Http404 | drf.NotFound):
        return error_response(NotFound("The requested resource was not found."))
    if isinstance(exc, drf.MethodNotAllowed):
        err = InvalidRequest(str(exc.detail), inner_code="InvalidRequest")
        response = error_response(err)
        response.status_code = 405
        return response
    if isinstance(exc, drf.Throttled):
        wait = max(1, int(getattr(exc, "wait", None) or 1))
        response = Response(
            {
                "error": {
                    "code": "TooManyRequests",
                    "message": f"Rate limit exceeded. Retry after {wait} second(s).",
                }
            },
            status=429,
        )
        response["Retry-After"] = str(wait)
        response["x-ms-error-code"] = "TooManyRequests"
        return response
    if isinstance(exc, drf.ValidationError):
        return error_response(InvalidArgument(_flatten(exc.detail)))
    if isinstance(exc, drf.PermissionDenied):
        response = Response(
            {"error": {"code": "Forbidden", "message": str(exc.detail)}}, status=403
        )
        response["x-ms-error-code"] = "Forbidden"
        return response
    if isinstance(exc, drf.APIException):
        return Response(
            {"error": {"code": "InvalidRequest", "message": str(exc.detail)}},
            status=exc.status_code,
        )
    if (studio_error := database_error(exc)) is not None:
        response = error_response(studio_error)
        if isinstance(studio_error, ServiceUnavailable):
            response["Retry-After"] = "1"
        return response
    # Anything else is our bug: log it with its traceback, answer in Azure's shape
    # (never Django's HTML page, which clients cannot parse).
    logger.error("Unhandled API error", exc_info=exc)
    return error_response(
        InternalServerError(
            "The service failed to process the request; the error has been logged."
        )
    )


def database_error(exc: Exception) -> StudioError | None:
    """The client-facing error of a database exception, or None when ``exc`` is not
    one (or is our bug, such as bad SQL: a logged 500).

    Only an outage (the server unreachable, the connection dropped, a lock or
    statement timeout) is a 503 with ``Retry-After``, which SDKs retry. A value the
    database refuses (a number out of range, text it cannot store) is the client's
    400, and a uniqueness or foreign-key conflict with a concurrent write is 409:
    retrying either would only fail again. ``OverflowError`` is the same 400 before
    the driver sends anything (an integer too large for SQLite).
    """
    if isinstance(exc, DATABASE_OUTAGES):
        # A broken connection closed now so that the next request reconnects.
        logger.warning("API request failed on the database: %s", exc)
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        return ServiceUnavailable(
            "The service is temporarily unable to reach its database. Retry shortly."
        )
    if isinstance(exc, DataError | OverflowError):
        logger.info("Database refused a request value: %s", exc)
        return InvalidArgument(
            "A value in the request is out of range or cannot be stored "
            "(for example a number that is too large)."
        )
    if isinstance(exc, IntegrityError):
        logger.info("Request conflicted with stored data: %s", exc)
        return Conflict(
            "The request conflicts with data that was changed at the same time; "
            "read it again and retry."
        )
    return None


def _flatten(detail: Any, prefix: str = "") -> str:
    if isinstance(detail, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}: ") for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(v, prefix) for v in detail)
    return f"{prefix}{detail}"
