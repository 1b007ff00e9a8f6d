"""Routes filled by the runtime issue; see the module that includes this one."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
