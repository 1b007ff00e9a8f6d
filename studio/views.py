"""The studio's account page (every signed-in user: personal API keys, password),
People page (studio staff and superusers: create, invite, deactivate, reactivate,
password links) and the audit trail's viewer: the studio-wide events (keys, people)
for the people managers here, a project's own on its Audit tab
(``projects/views/audit.py``). Rules live in ``studio.services``; the trail's reads
in ``studio.selectors.audit``.

Each section is a partial of its page; an htmx post gets its section back, a plain
post a redirect — except when the answer holds a secret shown once (a new key, a
one-time password): that is rendered in the page itself, never carried through a
redirect's session or messages cookie.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from studio.accounts import signed_in
from studio.errors import StudioError
from studio.forms import (
    ApiKeyCreateForm,
    AuditFilterForm,
    PersonCreateForm,
    StudioPasswordChangeForm,
    focus_first_error,
)
from studio.plain_errors import plain_message
from studio.selectors import audit as sa
from studio.selectors.keys import user_api_key_get, user_api_keys
from studio.selectors.people import people_list, person_get
from studio.services import (
    apikey_create,
    apikey_revoke,
    may_manage_people,
    user_create,
    user_deactivate,
    user_password_link_send,
    user_reactivate,
)

ACCOUNT_TEMPLATE = "studio/account.html"
PEOPLE_TEMPLATE = "studio/people.html"
AUDIT_TEMPLATE = "studio/audit.html"
INVALID = 422
PEOPLE_PER_PAGE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _user(request: HttpRequest) -> AbstractBaseUser:
    return request.user  # type: ignore[return-value]


def _answer(
    request: HttpRequest,
    *,
    template: str,
    section: str,
    context: dict[str, Any],
    redirect_to: str,
    message: str | None = None,
    status: int = 200,
    shows_secret: bool = False,
) -> HttpResponse:
    """The section for htmx; the whole page (errors, secrets) or a redirect."""
    if status == 200 and not _is_htmx(request) and not shows_secret:
        if message:
            messages.success(request, message)
        return HttpResponseRedirect(redirect_to)
    context["saved"] = message
    name = f"{template}#{section}" if _is_htmx(request) else template
    return render(request, name, context, status=status)


# --- account ---------------------------------------------------------------------


def _account_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "keys": list(user_api_keys(user=_user(request))),
        "key_form": ApiKeyCreateForm(),
        "new_key": None,
        "password_form": StudioPasswordChangeForm(_user(request)),
        "may_manage_people": may_manage_people(_user(request)),
    }
    context.update(extra)
    return context


def _account(
    request: HttpRequest, section: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    message = extra.pop("message", None)
    return _answer(
        request,
        template=ACCOUNT_TEMPLATE,
        section=section,
        context=_account_context(request, **extra),
        redirect_to=reverse("studio:account"),
        message=message,
        status=status,
        shows_secret=extra.get("new_key") is not None,
    )


@signed_in
@require_GET
def account_page(request: HttpRequest) -> HttpResponse:
    return render(request, ACCOUNT_TEMPLATE, _account_context(request))


@signed_in
@require_POST
def account_key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            api_key, raw = apikey_create(
                name=form.cleaned_data["name"], created_by=_user(request)
            )
        except StudioError as exc:
            form.add_studio_error(exc)
        else:
            return _account(
                request,
                "keys",
                message=f"Key {api_key.name} created.",
                new_key={"key": api_key, "raw": raw},
            )
    return _account(request, "keys", status=INVALID, key_form=focus_first_error(form))


@signed_in
@require_POST
def account_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = user_api_key_get(user=_user(request), pk=pk)  # another's key: 404
    apikey_revoke(api_key=api_key)
    return _account(request, "keys", message=f"Key {api_key.name} revoked.")


@signed_in
@require_POST
def account_password_change(request: HttpRequest) -> HttpResponse:
    form = StudioPasswordChangeForm(_user(request), request.POST)
    if form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)  # stay signed in here only
        return _account(request, "password", message="Your password was changed.")
    return _account(
        request, "password", status=INVALID, password_form=focus_first_error(form)
    )


# --- people ----------------------------------------------------------------------


def people_manager(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, and studio staff or a superuser (``may_manage_people``); anyone
    else gets 403."""

    @signed_in
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_manage_people(_user(request)):
            raise PermissionDenied("Only studio staff and superusers manage people.")
        return view(request, *args, **kwargs)

    return wrapper


def _create_form(request: HttpRequest, data: Any = None) -> PersonCreateForm:
    return PersonCreateForm(
        data,
        email_enabled=settings.STUDIO_EMAIL_ENABLED,
        may_make_staff=bool(getattr(request.user, "is_superuser", False)),
    )


def _people_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    search = request.GET.get("q", "")[:150]
    paginator = Paginator(people_list(search=search), PEOPLE_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "search": search,
        "page": page,
        "people": list(page.object_list),
        "create_form": _create_form(request),
        "email_enabled": settings.STUDIO_EMAIL_ENABLED,
        "new_person": None,
        "people_error": None,
        "may_manage_people": True,
    }
    context.update(extra)
    return context


def _people(
    request: HttpRequest, section: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    message = extra.pop("message", None)
    return _answer(
        request,
        template=PEOPLE_TEMPLATE,
        section=section,
        context=_people_context(request, **extra),
        redirect_to=reverse("studio:people"),
        message=message,
        status=status,
        shows_secret=extra.get("new_person") is not None,
    )


@people_manager
@require_GET
def people_page(request: HttpRequest) -> HttpResponse:
    template = PEOPLE_TEMPLATE + "#list" if _is_htmx(request) else PEOPLE_TEMPLATE
    return render(request, template, _people_context(request))


@people_manager
@require_POST
def person_create(request: HttpRequest) -> HttpResponse:
    form = _create_form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            person = user_create(
                actor=_user(request),
                username=data["username"],
                email=data["email"],
                invite=form.invite,
                is_staff=bool(data.get("is_staff")),
                site_url=request.build_absolute_uri("/"),
            )
        except StudioError as exc:
            form.add_studio_error(exc)
        else:
            name = person.user.get_username()
            if person.invited:
                return _people(
                    request, "create", message=f"{name} was invited by e-mail."
                )
            return _people(
                request,
                "create",
                message=f"{name} created.",
                new_person={
                    "name": name,
                    "password": person.one_time_password,
                },
            )
    return _people(
        request, "create", status=INVALID, create_form=focus_first_error(form)
    )


def _person_action(
    request: HttpRequest,
    pk: int,
    action: Callable[[AbstractBaseUser], None],
    done: str,
) -> HttpResponse:
    person = person_get(pk=pk)
    name = person.get_username()
    try:
        action(person)
    except StudioError as exc:
        if not _is_htmx(request):
            messages.error(request, plain_message(exc.message))
        return _people(
            request, "list", status=INVALID, people_error=plain_message(exc.message)
        )
    return _people(request, "list", message=done.format(name=name))


@people_manager
@require_POST
def person_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _person_action(
        request,
        pk,
        lambda person: user_deactivate(actor=_user(request), user=person),
        "{name} is deactivated: signed out everywhere, their API keys stop working.",
    )


@people_manager
@require_POST
def person_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _person_action(
        request,
        pk,
        lambda person: user_reactivate(actor=_user(request), user=person),
        "{name} may sign in again.",
    )


@people_manager
@require_POST
def person_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    return _person_action(
        request,
        pk,
        lambda person: user_password_link_send(
            actor=_user(request),
            user=person,
            site_url=request.build_absolute_uri("/"),
        ),
        "A link to choose a new password was sent to {name}.",
    )


# --- audit trail -----------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def audit_trail_page(
    request: HttpRequest, *, project_name: str, page_url: str, export_url: str
) -> HttpResponse:
    """The trail of one project (or, with ``project_name=""``, the studio-wide
    events: keys and people), or (htmx aimed at the list) just the list."""
    form = AuditFilterForm(request.GET or None)
    events: list[Any] = []
    next_before = None
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        filters = form.filters() if form.is_bound else sa.AuditFilter()
        before = form.cleaned_data.get("before") if form.is_bound else None
        page, next_before = sa.audit_page(
            project_name=project_name, filters=filters, before_id=before
        )
        events = list(page)
        for event in events:
            event.before_json = _json(event.before)
            event.after_json = _json(event.after)
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "project_name": project_name,
        "page_url": page_url,
        "export_url": export_url,
        "form": form,
        "events": events,
        "next_before": next_before,
        "query": query.urlencode(),
        "actors": sa.audit_actors(project_name=project_name),
        "selected_user": request.GET.get("user", ""),
    }
    events_only = request.headers.get("HX-Target", "") == "audit-events"
    template = AUDIT_TEMPLATE + "#events" if events_only else AUDIT_TEMPLATE
    return render(request, template, context, status=status)


def audit_trail_export(request: HttpRequest, *, project_name: str) -> HttpResponse:
    """JSON Lines of the filtered events, oldest first (a bad filter: 400 with the
    reason, in plain words)."""
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        reasons = [str(e) for errors in form.errors.values() for e in errors]
        return HttpResponse(
            " ".join(reasons), status=400, content_type="text/plain; charset=utf-8"
        )
    filters = form.filters() if form.is_bound else sa.AuditFilter()
    response = StreamingHttpResponse(
        sa.audit_jsonl(project_name=project_name, filters=filters),
        content_type="application/jsonl; charset=utf-8",
    )
    filename = f"{project_name or 'studio'}-audit.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Streamed: a long trail is never held in memory. (The view decorators are
    # typed for HttpResponse; Django serves either.)
    return cast(HttpResponse, response)


@people_manager
@require_GET
def studio_audit_page(request: HttpRequest) -> HttpResponse:
    """The studio-wide audit events (API keys, people), for the people managers."""
    return audit_trail_page(
        request,
        project_name="",
        page_url=reverse("studio:studio-audit"),
        export_url=reverse("studio:studio-audit-export"),
    )


@people_manager
@require_GET
def studio_audit_export(request: HttpRequest) -> HttpResponse:
    return audit_trail_export(request, project_name="")
