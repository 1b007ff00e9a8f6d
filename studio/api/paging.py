"""Azure list paging: ``top``/``skip``/``maxpagesize`` in, ``{value, nextLink}`` out.

The last page has no ``nextLink`` key at all: Azure's spec types it as a string, so
``null`` breaks schema validators (the SDK pagers accept either)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from studio.errors import InvalidArgument
from studio.inputs import echo

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# ``top`` and ``skip`` beyond this are refused (400) rather than sent to the
# database, where they overflow its integer (a DataError, or SQLite's mismatch).
MAX_QUERY_INTEGER = 2**31 - 1


def _int_param(request: Request, name: str, minimum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(
            f"Query parameter {name!r} must be an integer, got {echo(raw)}.",
            target=name,
        ) from None
    if value < minimum:
        raise InvalidArgument(
            f"Query parameter {name!r} must be at least {minimum}.", target=name
        )
    if value > MAX_QUERY_INTEGER:
        raise InvalidArgument(
            f"Query parameter {name!r} must be at most {MAX_QUERY_INTEGER}.",
            target=name,
        )
    return value


def paged_response[T](
    request: Request,
    items: Sequence[T] | QuerySet[Any],
    serialize: Callable[[T], dict[str, Any]],
    *,
    default_page_size: int = DEFAULT_PAGE_SIZE,
) -> Response:
    """One page of ``items`` and, unless it is the last one, an absolute ``nextLink``.

    ``top`` caps the total number of items over all pages, ``skip`` offsets the first,
    ``maxpagesize`` sizes a page. The link keeps every other query parameter
    (including ``api-version``, which the SDK also re-adds).
    """
    top = _int_param(request, "top", 0)
    skip = _int_param(request, "skip", 0) or 0
    page_size = min(
        _int_param(request, "maxpagesize", 1) or default_page_size, MAX_PAGE_SIZE
    )
    if top is not None:
        page_size = min(page_size, top)
    page = list(items[skip : skip + page_size + 1])
    has_more = len(page) > page_size and (top is None or top > page_size)
    page = page[:page_size]
    body: dict[str, Any] = {"value": [serialize(item) for item in page]}
    if has_more:
        query = dict(request.query_params.items())
        query["skip"] = str(skip + page_size)
        if top is not None:
            query["top"] = str(top - page_size)
        body["nextLink"] = request.build_absolute_uri(
            request.path + "?" + urlencode(query)
        )
    return Response(body)
