from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.mark.django_db
def test_sign_in_page_is_served_at_accounts_login(client: Client) -> None:
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


@pytest.mark.django_db
def test_the_admin_account_signs_in_and_a_wrong_password_is_refused(
    client: Client,
) -> None:
    get_user_model().objects.create_superuser(
        username="admin", email="", password="Long-Enough-Password-1"
    )

    refused = client.post(
        "/accounts/login/", {"username": "admin", "password": "wrong"}
    )
    accepted = client.post(
        "/accounts/login/",
        {"username": "admin", "password": "Long-Enough-Password-1", "next": "/admin/"},
    )

    assert refused.status_code == 200
    assert b"did not match" in refused.content
    assert accepted.status_code == 302
    assert accepted["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
