from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

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

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("studio.urls_accounts")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        csp_override(API_DOCS_CSP)(SpectacularRedocView.as_view(url_name="schema")),
        name="api-docs",
    ),
    # Azure's authoring and runtime paths all live under /language/.
    path("language/", include("projects.urls")),
    # Beyond Azure: fine-grained authoring CRUD in its own namespace.
    path("api/v1/", include("training.urls_v1")),
    path("api/v1/", include("projects.urls_v1")),
    path("", include("studio.urls_ops")),
    path("", include("studio.urls_people")),
    # The studio UI (projects list at /, project screens under /projects/<name>/).
    path("", include("projects.urls_ui")),
]
