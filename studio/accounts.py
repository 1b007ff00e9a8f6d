"""Signing in to the studio and the admin: throttling and bounded password hashing.

* Failed sign-ins are counted by user name and by client address (django-axes, set
  up in ``settings.py``). Past ``AXES_FAILURE_LIMIT`` failures the sign-in page
  answers 429 with a plain-language message until the cool-off ends or an
  administrator deletes the *Access attempts* row in the admin. API keys never pass
  through here: only a user name and password do.
* Each web process hashes at most ``STUDIO_SIGN_IN_CONCURRENCY`` passwords at once.
  PBKDF2 takes a whole core for most of a second; without a bound, a burst of
  sign-ins (or a password-guessing script) occupies every core and the prediction
  requests served by the same processes wait seconds. A sign-in that finds no free
  slot within ``STUDIO_SIGN_IN_WAIT_SECONDS`` is told to try again (429) without
  its password being checked or counted as a failure.
* Password reset needs e-mail: its pages exist only when ``EMAIL_HOST`` is set.
* Pages for signed-in users are wrapped in ``signed_in``: an htmx request whose
  session ended is sent to the sign-in page as a whole, not swapped into a fragment.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django_htmx.http import HttpResponseClientRedirect

BUSY_MESSAGE = "Many people are signing in right now. Wait a moment and sign in again."
INVALID_LOGIN_MESSAGE = "Your user name and password did not match. Please try again."

_slots = threading.BoundedSemaphore(settings.STUDIO_SIGN_IN_CONCURRENCY)


class BoundedSignInMixin:
    """Checks the password only while holding one of the process's sign-in slots."""

    def clean(self) -> dict[str, Any]:
        if not _slots.acquire(timeout=settings.STUDIO_SIGN_IN_WAIT_SECONDS):
            raise ValidationError(BUSY_MESSAGE, code="busy")
        try:
            return super().clean()  # type: ignore[misc]
        finally:
            _slots.release()


class SignInForm(BoundedSignInMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": INVALID_LOGIN_MESSAGE,
    }


class AdminSignInForm(BoundedSignInMixin, AdminAuthenticationForm):
    """The admin's sign-in form (``admin.site.login_form``), bounded the same way."""


def _answer_busy(response: HttpResponse) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = "1"
    return response


class SignInView(auth_views.LoginView):
    form_class = SignInForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["password_reset_enabled"] = settings.STUDIO_EMAIL_ENABLED
        return context

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "busy"):
            return _answer_busy(response)
        return response


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """The sign-in page saying why in plain words (``AXES_LOCKOUT_CALLABLE``).

    Also answers locked-out sign-ins to the admin, whose own page would only repeat
    "enter a correct username and password".
    """
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    username = (credentials or {}).get("username") or ""
    context = {
        "form": SignInForm(request, initial={"username": username}),
        "locked_out_minutes": minutes,
        "password_reset_enabled": settings.STUDIO_EMAIL_ENABLED,
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def client_ip(request: HttpRequest) -> str | None:
    """The address failed sign-ins are counted against (``AXES_CLIENT_IP_CALLABLE``).

    Behind the TLS proxy of ``STUDIO_BEHIND_TLS_PROXY`` every request comes from the
    proxy: the client is then the last ``X-Forwarded-For`` entry, the one the proxy
    appended (earlier entries are whatever the client sent, so they are ignored).
    Anything that is not an IP address is dropped: it is stored in an address column.
    """
    candidates = [request.META.get("REMOTE_ADDR")]
    if settings.STUDIO_BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        candidates.insert(0, forwarded.rsplit(",", 1)[-1].strip())
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate or ""))
        except ValueError:
            continue
    return None


def email_required(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """404 while no e-mail server is configured: a reset link could not be sent, and
    trying would log a connection error on every request."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.STUDIO_EMAIL_ENABLED:
            raise Http404("Password reset needs e-mail, which is not configured.")
        return view(request, *args, **kwargs)

    return wrapped


def sign_in_redirect(request: HttpRequest) -> HttpResponse:
    """To the sign-in page and back. An htmx request (a fragment, a poll) whose
    session ended gets a client redirect: following a 302 inside htmx would swap
    the sign-in page into the fragment's place."""
    if getattr(request, "htmx", False):
        current = request.headers.get("HX-Current-URL")
        path = urlsplit(current).path if current else request.get_full_path()
        return HttpResponseClientRedirect(redirect_to_login(path)["Location"])
    return redirect_to_login(request.get_full_path())


def signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required`` for studio views that are not about one project (the
    account page, the projects list, create, import, job pages), htmx-aware
    (``projects.permissions.project_view`` signs in through it too)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return sign_in_redirect(request)
        return view(request, *args, **kwargs)

    return wrapper
