"""``/account/`` (your API keys and password) and ``/people/`` (user management for
studio staff and superusers); views in ``studio/views.py``."""

from __future__ import annotations

from django.urls import path

from studio import views

app_name = "studio"

urlpatterns = [
    path("account/", views.account_page, name="account"),
    path("account/keys/create", views.account_key_create, name="account-key-create"),
    path(
        "account/keys/<int:pk>/revoke",
        views.account_key_revoke,
        name="account-key-revoke",
    ),
    path("account/password", views.account_password_change, name="account-password"),
    path("people/", views.people_page, name="people"),
    path("people/audit/", views.studio_audit_page, name="studio-audit"),
    path(
        "people/audit/export.jsonl",
        views.studio_audit_export,
        name="studio-audit-export",
    ),
    path("people/new", views.person_create, name="person-create"),
    path(
        "people/<int:pk>/deactivate",
        views.person_deactivate,
        name="person-deactivate",
    ),
    path(
        "people/<int:pk>/reactivate",
        views.person_reactivate,
        name="person-reactivate",
    ),
    path(
        "people/<int:pk>/password-link",
        views.person_password_link,
        name="person-password-link",
    ),
]
