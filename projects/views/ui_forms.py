"""Form plumbing shared by the schema, orchestration and knowledge-base screens.

The services validate everything and raise ``StudioError``s whose ``target`` is a
JSON path (``regex.expressions[2].regexPattern``); these helpers put each message
next to the form field it is about, and answer a mutation the two ways the studio
supports: an htmx request gets the fragment, a plain form post gets a redirect.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from studio.errors import StudioError
from studio.plain_errors import plain_message

NON_FIELD = "general"
# Unprocessable input: the form comes back with its errors. htmx swaps it because
# base.html configures 422 as a swapping status.
INVALID = 422

FieldErrors = dict[str, list[str]]


def field_errors(
    exc: StudioError,
    rules: Iterable[tuple[str, str]],
    *,
    default: str = NON_FIELD,
    plain: Callable[[str, str], str] | None = None,
) -> FieldErrors:
    """Each problem of ``exc`` under the first field whose pattern (a regular
    expression searched in the problem's target) matches, else under ``default``,
    in the studio's words: ``plain(message, target)``, when given, rewords each
    message for its screen, then ``plain_message`` says any API path left in words."""
    compiled = [(re.compile(pattern), name) for pattern, name in rules]
    errors: FieldErrors = {}
    details = exc.details or [exc.as_detail()]
    for detail in details:
        target = detail.target or ""
        name = next((n for p, n in compiled if p.search(target)), default)
        messages_for = errors.setdefault(name, [])
        message = plain(detail.message, target) if plain else detail.message
        text = plain_message(message)
        if text not in messages_for:
            messages_for.append(text)
    return errors


def lines(text: str) -> list[str]:
    """Non-blank lines of a textarea, trimmed, in order, without repeats."""
    seen: list[str] = []
    for line in text.splitlines():
        value = line.strip()
        if value and value not in seen:
            seen.append(value)
    return seen


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def invalid(
    request: HttpRequest, template: str, context: Mapping[str, Any]
) -> HttpResponse:
    """The form again, with what was typed and the errors (422)."""
    return render(request, template, dict(context), status=INVALID)


def done(
    request: HttpRequest,
    *,
    fragment: str,
    context: Mapping[str, Any],
    redirect_to: str,
    message: str,
) -> HttpResponse:
    """After a successful write: the updated fragment for htmx, else redirect
    (post/redirect/get) with a flash message."""
    if is_htmx(request):
        return render(request, fragment, dict(context))
    messages.success(request, message)
    return HttpResponseRedirect(redirect_to)


def rendered_version(request: HttpRequest) -> int | None:
    """The row version the edited form was rendered with (``version``), so the
    service refuses the edit if the row changed since; None when the post has none
    (no condition). A value that is not a version never matches."""
    raw = request.POST.get("version")
    if raw is None or raw == "":
        return None
    return int(raw) if raw.isascii() and raw.isdigit() else -1
