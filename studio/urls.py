"""The root URLconf: studio's own routes, then every app's, mounted in one table.

Each app's ``urls.py`` holds its HTTP surface as one pattern list per mount point
(``conversation_patterns``, ``qna_patterns``, ``api_v1_patterns``, ``ui_patterns``,
the runtime's ``language_patterns``); this module mounts them and names the
namespaces that span apps (``conversations``, ``ui``). Where two apps share a mount,
the authoring app's routes come first, then the training app's, then the runtime's,
and the last route of ``/language/`` and ``/api/v1/`` answers every other path
with Azure's 404 body instead of Django's HTML page.

The apps' lists are named by dotted string, as ``include()`` names modules: studio
is the bottom layer and never imports the apps ([tool.importlinter]).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.utils.csp import CSP
from django.utils.module_loading import import_string
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from studio import views
from studio.accounts import SignInView, email_required
from studio.api.not_offered import UnknownPathApi
from studio.health import healthz, ping

Patterns = list[URLPattern | URLResolver]


def app_patterns(*dotted: str) -> Patterns:
    """The pattern lists named (``"projects.urls.ui_patterns"``), one after another."""
    return [pattern for name in dotted for pattern in import_string(name)]


# Redoc styles itself with injected <style> elements and searches in a blob: worker;
# only its page gets that (settings.SECURE_CSP is the policy everywhere else).
API_DOCS_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "worker-src": [CSP.SELF, "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- /accounts/ --------------------------------------------------------------------
# Django's sign-in, sign-out and password pages, with the studio's sign-in
# (throttled, bounded hashing) and password reset only when e-mail works
# (studio/accounts.py).

account_patterns: Patterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "password_reset/",
        email_required(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        email_required(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        email_required(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        email_required(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]

# --- Operations: health and the benchmark's framework floor (studio/health.py) ------

ops_patterns: Patterns = [
    path("healthz", healthz, name="healthz"),
    path("ping", ping, name="ping"),
]

# --- /account/ and /people/ (namespace "studio") ----------------------------------
# Your API keys and password; user management for studio staff and superusers.

people_patterns: Patterns = [
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

# --- The apps' routes -------------------------------------------------------------

# Question answering is mounted twice: authoring/query-knowledgebases/ is the path of
# api-version 2023-04-01 and later, query-knowledgebases/ the one the 1.1.0 SDK calls
# (2021-10-01).
qna_patterns = app_patterns("projects.urls.qna_patterns", "training.urls.qna_patterns")

# Azure's authoring and runtime paths all live under /language/.
language_patterns: Patterns = [
    path(
        "authoring/analyze-conversations/",
        include(
            (
                app_patterns(
                    "projects.urls.conversation_patterns",
                    "training.urls.conversation_patterns",
                ),
                "conversations",
            )
        ),
    ),
    path("authoring/query-knowledgebases/", include(qna_patterns)),
    path("query-knowledgebases/", include(qna_patterns)),
    *app_patterns("runtime.urls.language_patterns"),
    # [\s\S]: a path may hold a newline (%0A), which "." would not match (and
    # Django cannot reverse a (?s) flag).
    re_path(r"^[\s\S]*\Z", UnknownPathApi.as_view(), name="unknown-path"),
]

# Beyond Azure: fine-grained authoring CRUD and the review queue.
api_v1_patterns: Patterns = [
    *app_patterns("training.urls.api_v1_patterns", "projects.urls.api_v1_patterns"),
    re_path(r"^[\s\S]*\Z", UnknownPathApi.as_view(), name="v1-unknown-path"),
]

# The studio UI: projects list at /, project screens under /projects/<name>/.
ui_patterns = app_patterns(
    "projects.urls.ui_patterns",
    "training.urls.ui_patterns",
    "runtime.urls.ui_patterns",
)

urlpatterns: Patterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(account_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        csp_override(API_DOCS_CSP)(SpectacularRedocView.as_view(url_name="schema")),
        name="api-docs",
    ),
    path("language/", include(language_patterns)),
    path("api/v1/", include(api_v1_patterns)),
    *ops_patterns,
    path("", include((people_patterns, "studio"))),
    # Deployment resources (studio staff).
    path(
        "",
        include((app_patterns("training.urls.resources_ui_patterns"), "resources")),
    ),
    path("", include((ui_patterns, "ui"))),
]
