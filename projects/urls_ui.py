"""Studio UI routes (session auth, CSRF, htmx). Each area keeps its own module."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

app_name = "ui"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("projects.urls_ui_main")),
    path("", include("projects.urls_ui_schema")),
    path("", include("projects.urls_ui_data")),
    path("", include("projects.urls_ui_kb")),
    path("", include("training.urls_ui")),
    path("", include("runtime.urls_ui")),
]
