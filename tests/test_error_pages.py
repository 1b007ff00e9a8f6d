"""Error pages with DEBUG off (the default, also under pytest): branded, plain words,
nothing of Django's technical pages (URL patterns, settings, tracebacks)."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

TECHNICAL = ("Traceback", "URLconf", "settings.py", "DEBUG = True", "Django")


def explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals")


urlpatterns = [
    path("explode/", explode),
    path("", include("studio.urls")),
]


def assert_branded(response: Any, status: int, heading: str) -> None:
    page = response.content.decode()
    assert response.status_code == status
    assert "Orchestration Studio" in page
    assert heading in page
    assert "/static/css/studio.css" in page
    for word in TECHNICAL:
        assert word not in page, word


@pytest.mark.django_db
def test_an_unknown_page_is_a_branded_404(client: Client) -> None:
    assert_branded(client.get("/no/such/page/"), 404, "Not found")


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_server_error_is_a_branded_500_without_internals() -> None:
    client = Client(raise_request_exception=False)

    response = client.get("/explode/")

    assert_branded(response, 500, "Something went wrong")
    assert "secret internals" not in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_host_is_a_branded_400(client: Client) -> None:
    response = client.get("/accounts/login/", HTTP_HOST="studio.evil.example")

    assert_branded(response, 400, "Bad request")


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_is_a_branded_403(client: Client) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"username": "a", "password": "b"})

    assert_branded(response, 403, "This page has expired")
