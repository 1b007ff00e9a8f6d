from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("studio.urls_accounts")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="schema"), name="api-docs"),
    # Azure's authoring and runtime paths all live under /language/.
    path("language/", include("projects.urls")),
    # Beyond Azure: fine-grained authoring CRUD in its own namespace.
    path("api/v1/", include("projects.urls_v1")),
    path("", include("studio.urls_ops")),
    # The studio UI (projects list at /, project screens under /projects/<name>/).
    path("", include("projects.urls_ui")),
]
