"""Who the current request acts for, for the per-user queue limit of jobs.

Jobs are created by ``jobs.services.job_create`` from a dozen entry points (API
views, studio views, services they call). Rather than thread a user through every one
of those signatures, the request layer records the acting user here once: the
``RequesterMiddleware`` for studio sessions (lazily: the session is read only when a
job is actually created, so the prediction hot path pays nothing), and
``AzureApiView.initial`` for a user's API key. Resource keys act for nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from studio.audit import AuditActor, audit_actor_reset, audit_actor_set

_requester: ContextVar[Callable[[], int | None] | None] = ContextVar(
    "studio_requester", default=None
)


def requester_set(resolve: Callable[[], int | None] | None) -> None:
    """Record who the current request acts for (a callable giving a user id)."""
    _requester.set(resolve)


def requester_id() -> int | None:
    """The id of the user the current request acts for, or None (resource key,
    anonymous, or no request at all: a Celery task, a management command)."""
    resolve = _requester.get()
    return resolve() if resolve is not None else None


def _session_user_id(request: HttpRequest) -> Callable[[], int | None]:
    def resolve() -> int | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return int(user.pk)

    return resolve


def _request_actor(request: HttpRequest) -> Callable[[], AuditActor]:
    # DRF puts an API call's authenticated principal (a key) on request.user too.
    return lambda: AuditActor.of_user(getattr(request, "user", None))


class RequesterMiddleware:
    """Records the session user as the requester, and the request's user (or key)
    as the audit trail's actor, for the duration of a request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _requester.set(_session_user_id(request))
        actor_token = audit_actor_set(_request_actor(request))
        try:
            return self.get_response(request)
        finally:
            audit_actor_reset(actor_token)
            _requester.reset(token)
