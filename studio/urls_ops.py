from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_GET

from studio.health import healthz


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    """A trivial JSON answer through the full middleware stack and nothing else.

    ``bench/http.py`` measures it beside the prediction endpoint as the framework
    floor: what gunicorn + Django cost before any studio code runs. Public (like
    ``/healthz``) because it reveals nothing and touches no database.
    """
    return JsonResponse({"status": "ok"})


urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", healthz, name="healthz"),
    path("ping", ping, name="ping"),
]
