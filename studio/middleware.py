"""Request-wide rules for the Azure-compatible API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

API_PREFIXES = ("/language/", "/api/v1/")


class AzureApiMiddleware:
    """For API paths: refuse oversized bodies before anything reads them (413 in
    Azure's error shape), and stamp every response with ``apim-request-id``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIXES):
            return self.get_response(request)
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
        else:
            response = self.get_response(request)
        response["apim-request-id"] = request_id
        return response
