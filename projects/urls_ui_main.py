"""Studio UI routes of the projects list, project overview, import/export/delete and
settings screens; included by projects/urls_ui.py (namespace "ui").

``projects/new`` and ``projects/import`` have no trailing slash, so they never shadow
a project called "new" or "import" (``projects/<name>/``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from projects.views import audit, projects, settings

P = "projects/<str:name>/"
S = P + "settings/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", projects.project_list, name="projects"),
    path("projects/new", projects.project_create, name="project-new"),
    path("projects/import", projects.project_import, name="project-import"),
    path("jobs/<str:job_id>/", projects.job_detail, name="job"),
    path("jobs/<str:job_id>/cancel", projects.job_cancel_view, name="job-cancel"),
    path(P, projects.project_overview, name="project"),
    path(P + "export", projects.project_download, name="project-export"),
    path(P + "delete", projects.project_delete, name="project-delete"),
    path(P + "restore/<int:pk>", projects.project_restore, name="project-restore"),
    path(P + "audit/", audit.audit_page, name="audit"),
    path(P + "audit/export.jsonl", audit.audit_export, name="audit-export"),
    path(S, settings.settings_page, name="settings"),
    path(S + "general", settings.settings_general, name="settings-general"),
    path(S + "members/add", settings.member_create, name="settings-member-add"),
    path(
        S + "members/<int:pk>/role",
        settings.member_role,
        name="settings-member-role",
    ),
    path(
        S + "members/<int:pk>/remove",
        settings.member_delete,
        name="settings-member-remove",
    ),
]
