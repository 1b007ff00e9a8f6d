"""The audit trail: who changed what and when, filtered, paged (newest first) and
exported as JSON Lines. Every member reads their project's; studio staff and
superusers read the studio-wide events (keys, people) through ``studio/views.py``.
Nobody writes it here."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from projects.models import Project
from projects.permissions import project_view
from studio.filter_forms import DateRangeForm
from studio.selectors import audit as sa

TEMPLATE = "projects/audit.html"
USER_RE = r"^(user:\d{1,18}|key:\d{1,18}|system)$"


class AuditFilterForm(DateRangeForm):
    action = forms.ChoiceField(
        required=False,
        label="What",
        choices=[("", "Everything"), *sa.ACTION_FAMILIES.items()],
        error_messages={"invalid_choice": "Choose a kind of change from the list."},
        # The id the template's <label for> names (Django's would be id_action).
        widget=forms.Select(attrs={"id": "audit-action"}),
    )
    user = forms.RegexField(
        required=False,
        label="Who",
        regex=USER_RE,
        error_messages={"invalid": "Choose someone from the list."},
    )
    target = forms.CharField(required=False, label="On", max_length=200, strip=True)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def filters(self) -> sa.AuditFilter:
        data = self.cleaned_data
        return sa.AuditFilter(
            action=data["action"],
            user=data["user"],
            target=data["target"],
            since=data["since"],
            until=data["until"],
        )


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
    htmx_target = request.headers.get("HX-Target", "")
    template = TEMPLATE + "#events" if htmx_target == "audit-events" else TEMPLATE
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
    # Streamed: a long trail is never held in memory. (project_view is typed for
    # HttpResponse; Django serves either.)
    return cast(HttpResponse, response)


@require_GET
@project_view("read")
def audit_page(request: HttpRequest, project: Project) -> HttpResponse:
    return audit_trail_page(
        request,
        project_name=project.name,
        page_url=reverse("ui:audit", args=[project.name]),
        export_url=reverse("ui:audit-export", args=[project.name]),
    )


@require_GET
@project_view("read")
def audit_export(request: HttpRequest, project: Project) -> HttpResponse:
    return audit_trail_export(request, project_name=project.name)
