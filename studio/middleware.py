"""Request-wide rules for the Azure-compatible API."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

from studio.errors import InvalidRequest
from studio.inputs import size_error
from studio.sqlite_writers import lock_wait_take

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

API_PREFIXES = ("/language/", "/api/v1/")
# What a studio form may add around its one file: multipart boundaries and part
# headers, the CSRF token and a few short fields. A body longer than the size limit
# plus this cannot hold a file within the limit, so it is refused unread.
FORM_OVERHEAD_BYTES = 64 * 1024
# Set on a studio request whose body was refused unread (its announced length).
REFUSED_BODY_ATTRIBUTE = "studio_refused_body_bytes"


def body_limit() -> int:
    """The most bytes of a request body anything reads: the one size limit plus
    what a form adds around a file."""
    return int(settings.STUDIO_MAX_REQUEST_BYTES) + FORM_OVERHEAD_BYTES


def refused_body_bytes(request: HttpRequest) -> int | None:
    """The announced size of a studio upload refused before its body was read
    (the view says so next to its file field), else None."""
    value = getattr(request, REFUSED_BODY_ATTRIBUTE, None)
    return value if isinstance(value, int) else None


class ChunkedBodyMiddleware:
    """WSGI middleware: give a ``Transfer-Encoding: chunked`` body a length.

    gunicorn de-chunks such a body into ``wsgi.input`` but, as there is no
    ``Content-Length``, Django (``WSGIRequest``) and DRF read it as empty. This reads
    at most ``body_limit() + 1`` bytes of it into memory and sets
    ``CONTENT_LENGTH``, so the body is parsed like any other, and one byte too many
    is the same 413 (API) or refused upload (studio) as an over-long
    ``Content-Length``. Bodies with a ``Content-Length`` pass untouched.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = _read_at_most(environ["wsgi.input"], body_limit() + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _read_at_most(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream`` (until its end), without reading more."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(min(remaining, 64 * 1024))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _refuse_oversized_form(request: HttpRequest) -> HttpResponse | None:
    """A studio POST whose ``Content-Length`` exceeds ``body_limit()``: refused
    before anything reads its body (a 17 MB upload was parsed to a temporary file
    and read into memory, then refused by size).

    htmx requests carry their CSRF token in a header, so they go on to the view
    with an empty form and ``refused_body_bytes`` set: the view says it next to
    its file field. Plain form posts carry the token in the unread body, so they
    get the 413 page here. The unread rest of the body is discarded by the server
    after the answer (gunicorn drains it before the next request on the
    connection)."""
    from django.http import QueryDict
    from django.shortcuts import render
    from django.utils.datastructures import MultiValueDict

    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if request.method != "POST" or length <= body_limit():
        return None
    setattr(request, REFUSED_BODY_ATTRIBUTE, length)
    if request.headers.get("HX-Request") == "true" and request.headers.get(
        "X-CSRFToken"
    ):
        # Read by the CSRF check and the view instead of the body.
        request._post = QueryDict()  # type: ignore[attr-defined]
        request._files = MultiValueDict()  # type: ignore[attr-defined]
        return None
    response = render(request, "413.html", {"message": size_error(length)}, status=413)
    response["Connection"] = "close"
    return response


def _has_nul(request: HttpRequest) -> bool:
    """Whether the path or the query string holds a NUL (``%00``), which no name or
    parameter may contain and PostgreSQL cannot even compare. (Bodies are checked by
    ``studio.api.parsers``.)"""
    return "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "")


class AzureApiMiddleware:
    """For API paths: refuse oversized bodies before anything reads them (413 in
    Azure's error shape) and NUL characters in the URL (400), and stamp every
    response with ``apim-request-id``. Studio pages with a NUL in the URL are a
    plain 400 too (a search for it would otherwise fail on PostgreSQL)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIXES):
            if _has_nul(request):
                # The studio's pages: Django's 400 page (handler400).
                raise BadRequest("The URL contains a NUL character.")
            refused = _refuse_oversized_form(request)
            return refused if refused is not None else self.get_response(request)
        request_id = request.headers.get("x-ms-client-request-id") or str(uuid.uuid4())
        limit = settings.STUDIO_MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            response = HttpResponse(
                json.dumps(
                    {
                        "error": {
                            "code": "InvalidRequest",
                            "message": (
                                f"The request body ({length} bytes) is larger than the "
                                f"limit of {limit} bytes."
                            ),
                            "innererror": {
                                "code": "InvalidRequestBodyFormat",
                                "message": "Request body too large.",
                            },
                        }
                    }
                ),
                status=413,
                content_type="application/json; charset=utf-8",
            )
            response["x-ms-error-code"] = "InvalidRequest"
            # The unread body must not be parsed as the next request on keep-alive.
            response["Connection"] = "close"
        elif _has_nul(request):
            error = InvalidRequest(
                "The URL contains a NUL character (%00), which is not allowed.",
                inner_code="InvalidParameterValue",
            )
            response = HttpResponse(
                json.dumps(error.as_azure()),
                status=error.status_code,
                content_type="application/json; charset=utf-8",
            )
            response["x-ms-error-code"] = error.code
        else:
            response = self.get_response(request)
        response["apim-request-id"] = request_id
        return response


class ServerTimingMiddleware:
    """``Server-Timing: db-lock;dur=<ms>`` on a response whose request began write
    transactions: how long they waited for the database's write lock (SQLite,
    ``studio.sqlite_writers``). The browser's developer tools show it; the
    contention benchmark reports its distribution."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        lock_wait_take()
        response = self.get_response(request)
        count, seconds = lock_wait_take()
        if count:
            response.headers["Server-Timing"] = (
                f'db-lock;dur={1000 * seconds:.1f};desc="{count} write transaction'
                f'{"s" if count != 1 else ""}"'
            )
        return response
