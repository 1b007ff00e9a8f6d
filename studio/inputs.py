"""Text and JSON as they enter the studio: one set of rules for every entry point.

Every request body, uploaded file and form field is text a hostile or unlucky client
chose. Three things in it break us further down instead of being refused up front:

* a NUL character (``\\u0000``): PostgreSQL cannot store it in a text column and
  answers with a database error;
* a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON): it cannot be encoded as
  UTF-8, so the database driver, a log line or the response renderer fails;
* JSON nested thousands of levels deep: Python's decoder (and everything that walks
  the result) recurses per level and runs out of stack.

``json_loads`` decodes a document and refuses all three with ``InvalidRequest``;
``text_error`` checks one decoded string (form fields, TSV files). ``echo`` shortens a
client value before an error message quotes it, so that a 7 MB value does not come
back as a 7 MB error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from studio.errors import InvalidRequest

# Azure's deepest documents (an orchestration import's httpOrchestration headers, a
# QnA prompt's nested qna record) are about ten levels deep.
MAX_JSON_DEPTH = 64
# How much of a client's value an error message repeats.
ECHO_LIMIT = 100

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# The only way a NUL or a surrogate gets into decoded JSON from text without them:
# a \u0000 or \uD800-\uDFFF escape (raw control characters are a JSON syntax
# error). Documents without one skip the per-string check (imports run to 8 MB).
_ESCAPE_HINT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def text_error(value: str, *, what: str = "The text") -> str | None:
    """Why ``value`` cannot be stored (a NUL or a lone surrogate), or None."""
    match = _BAD_CHARACTER.search(value)
    if match is None:
        return None
    char = match.group()
    if char == "\x00":
        return f"{what} contains a NUL character (U+0000), which is not allowed."
    return (
        f"{what} contains a lone UTF-16 surrogate (U+{ord(char):04X}), which is not "
        "a character: send text as valid Unicode."
    )


def json_error(data: Any, *, strings: bool = True) -> str | None:
    """Why decoded JSON ``data`` is refused (too deep, or — unless ``strings`` is
    False — a key or value that ``text_error`` refuses), or None. Iterative: it must
    not recurse on the very documents it exists to refuse."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if (problem := text_error(value, what="A string")) is not None:
                return problem
            continue
        if depth > MAX_JSON_DEPTH:
            return _too_deep()
        if isinstance(value, dict):
            if strings:
                for key in value:
                    if (problem := text_error(key, what="A key")) is not None:
                        return problem
            children = value.values()
        else:
            children = value
        stack.extend(
            (item, depth + 1)
            for item in children
            if isinstance(item, dict | list) or (strings and isinstance(item, str))
        )
    return None


def _too_deep() -> str:
    return f"The JSON document is nested deeper than {MAX_JSON_DEPTH} levels."


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value")


def text_decode(
    raw: bytes, *, what: str = "The file", target: str | None = None
) -> str:
    """UTF-8 bytes (a BOM is allowed) as text, or ``InvalidRequest`` when they are
    not UTF-8 or hold a NUL (TSV files, text bodies)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start}).",
            target=target,
        ) from None
    if (problem := text_error(text, what=what)) is not None:
        raise InvalidRequest(problem, target=target)
    return text


def json_loads(
    raw: str | bytes, *, what: str = "The request body", target: str | None = None
) -> Any:
    """Decode a JSON document, or raise ``InvalidRequest`` saying what is wrong.

    Bytes must be UTF-8 (a BOM is allowed). ``NaN`` and ``Infinity`` are refused,
    as strict JSON (and DRF's default) demands.
    """
    text = text_decode(raw, what=what, target=target) if isinstance(raw, bytes) else raw
    try:
        data = json.loads(text, parse_constant=_strict_constant)
    except RecursionError:
        problem: str | None = _too_deep()
    except ValueError as exc:
        raise InvalidRequest(
            f"{what} is not valid JSON: {exc}", target=target
        ) from None
    else:
        strings = bool(_ESCAPE_HINT.search(text) or _BAD_CHARACTER.search(text))
        problem = json_error(data, strings=strings)
    if problem is not None:
        raise InvalidRequest(f"{what} is invalid: {problem}", target=target)
    return data


def echo(value: object, *, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def max_upload_bytes() -> int:
    """The one size limit of everything a client sends: API request bodies (the
    middleware's 413) and the studio's file uploads (project import, Data-page
    upload) alike. ``STUDIO_MAX_REQUEST_BYTES``, read at call time."""
    from django.conf import settings

    return int(settings.STUDIO_MAX_REQUEST_BYTES)


def size_error(size: int) -> str | None:
    """The message for an upload over :func:`max_upload_bytes`, in megabytes."""
    limit = max_upload_bytes()
    if size <= limit:
        return None
    return (
        f"The file is {size / 1_048_576:.1f} MB; the limit is "
        f"{limit / 1_048_576:.1f} MB ({limit:,} bytes)."
    )
