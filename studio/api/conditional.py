"""Optimistic concurrency over HTTP: ``ETag`` on fine-grained resources and
``If-Match`` on their writes (RFC 9110 §13.1.1).

A resource's ETag is its row version (``"7"``), which every write moves. A write
with ``If-Match`` proceeds only if the stored version is one the header names, and is
refused with 412 ``PreconditionFailed`` otherwise; the services check it under the
row lock, so two writers holding the same ETag cannot both succeed.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response


def etag(version: int) -> str:
    return f'"{version}"'


def with_etag(response: Response, version: int) -> Response:
    response["ETag"] = etag(version)
    return response


def if_match_versions(request: Request) -> set[int] | None:
    """The versions ``If-Match`` accepts; None when there is no condition (no header,
    or ``*``: the resource exists, which the lookup already ensured). Weak tags never
    match (``If-Match`` compares strongly) and nor does anything that is not one of
    our ETags, so such a header always fails."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    versions: set[int] = set()
    for tag in tags:
        inner = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else ""
        if inner.isascii() and inner.isdigit():
            versions.add(int(inner))
    return versions
