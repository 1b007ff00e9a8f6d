"""The studio's own Django-admin screens (``studio/admin.py``)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from studio.models import ApiKey
from studio.services import apikey_authenticate


@pytest.fixture
def admin_client_(client: Client) -> Client:
    admin = get_user_model().objects.create_superuser(
        username="root", email="", password="Long-Enough-Password-1"
    )
    client.force_login(admin)
    return client


@pytest.mark.django_db
def test_a_key_made_in_the_admin_is_shown_once_in_the_page_and_never_in_a_cookie(
    admin_client_: Client,
) -> None:
    response = admin_client_.post("/admin/studio/apikey/add/", {"name": "bot"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    match = re.search(r'id="new-api-key"[^>]*value="([^"]+)"', page)
    assert match, page
    raw_key = match.group(1)
    api_key = apikey_authenticate(raw_key=raw_key)
    assert api_key is not None
    assert api_key == ApiKey.objects.get(name="bot")
    # The signed (not encrypted) messages cookie and the session must not carry it.
    for morsel in response.cookies.values():
        assert raw_key not in morsel.value
    for session in Session.objects.all():
        assert raw_key not in str(session.get_decoded())
    assert raw_key not in admin_client_.get("/admin/studio/apikey/").content.decode()
