"""A project's Audit tab: who changed what in it and when, filtered, paged (newest
first) and exported as JSON Lines, for every member. The trail's viewer is the
studio's (``studio.views.audit_trail_page``), which also shows the studio-wide events
(keys, people) to studio staff and superusers. Nobody writes it here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from projects.models import Project
from projects.permissions import project_view
from studio.views import audit_trail_export, audit_trail_page


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
