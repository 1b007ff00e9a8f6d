from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from studio.health import healthz

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", healthz, name="healthz"),
]
