"""Account page (``/account/``): every signed-in user's own API keys (created and
shown once, listed with last use, revoked) and password change; nobody else's."""

from __future__ import annotations

import pytest
from django.test import Client

from studio.models import ApiKey
from studio.services import apikey_authenticate, apikey_create
from tests.ui.conftest import HTMX, PASSWORD, UiProjects, UiUsers

pytestmark = pytest.mark.django_db

URL = "/account/"


def new_key_of(html: str) -> str:
    return html.split('id="new-api-key"')[1].split('value="')[1].split('"')[0]


def test_the_account_page_needs_a_signed_in_user(client: Client) -> None:
    answers = [
        client.get(URL),
        client.post(URL + "keys/create", {"name": "bot"}),
        client.post(URL + "password", {}),
    ]

    assert all(a.status_code == 302 for a in answers)
    assert all(a["Location"].startswith("/accounts/login/") for a in answers)
    assert client.get(URL, **HTMX)["HX-Redirect"].startswith("/accounts/login/")
    assert not ApiKey.objects.exists()


def test_every_user_has_an_account_page_linked_from_the_header(
    outsider_client: Client, users: UiUsers
) -> None:
    response = outsider_client.get(URL)
    html = response.content.decode()

    assert response.status_code == 200
    assert 'id="account-keys"' in html
    assert 'id="account-password"' in html
    assert 'href="/account/"' in outsider_client.get("/").content.decode()


def test_a_user_creates_a_key_that_is_shown_once_and_works(
    viewer_client: Client, users: UiUsers, ui_projects: UiProjects
) -> None:
    response = viewer_client.post(URL + "keys/create", {"name": "bot"}, **HTMX)

    html = response.content.decode()
    key = ApiKey.objects.get(created_by_id=users.viewer.pk)
    raw = new_key_of(html)
    assert response.status_code == 200
    assert "<html" not in html  # the section only
    assert raw.startswith(key.prefix)
    assert apikey_authenticate(raw_key=raw) == key
    again = viewer_client.get(URL).content.decode()
    assert raw not in again
    assert f"{key.prefix}…" in again


def test_a_plain_post_shows_the_new_key_in_the_page_without_a_redirect(
    viewer_client: Client, users: UiUsers
) -> None:
    response = viewer_client.post(URL + "keys/create", {"name": "bot"})

    assert response.status_code == 200
    assert b"<html" in response.content
    raw = new_key_of(response.content.decode())
    assert raw not in str(response.cookies)  # not in the messages cookie either


@pytest.mark.parametrize("name", ["", " ", "x" * 101])
def test_a_key_needs_a_name_said_next_to_the_field(
    viewer_client: Client, users: UiUsers, name: str
) -> None:
    response = viewer_client.post(URL + "keys/create", {"name": name}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_name_error"' in html
    assert 'aria-invalid="true"' in html
    assert "name:" not in html.split('id="id_name_error"')[1][:200]
    assert not ApiKey.objects.exists()


def test_keys_list_only_the_users_own_with_last_use_and_revoke(
    viewer_client: Client, users: UiUsers
) -> None:
    own, raw = apikey_create(name="mine", created_by=users.viewer)
    other, other_raw = apikey_create(name="theirs", created_by=users.admin)
    resource, _ = apikey_create(name="resource-key")
    apikey_authenticate(raw_key=raw)

    html = viewer_client.get(URL).content.decode()
    foreign = viewer_client.post(URL + f"keys/{other.pk}/revoke", **HTMX)
    unowned = viewer_client.post(URL + f"keys/{resource.pk}/revoke", **HTMX)
    revoked = viewer_client.post(URL + f"keys/{own.pk}/revoke", **HTMX)

    assert "mine" in html
    assert "theirs" not in html
    assert "resource-key" not in html
    assert "just now</time>" in html.split(f'id="key-{own.pk}"')[1]  # last used
    assert foreign.status_code == unowned.status_code == 404
    other.refresh_from_db()
    resource.refresh_from_db()
    assert other.is_active and resource.is_active
    assert apikey_authenticate(raw_key=other_raw) is not None
    assert revoked.status_code == 200
    assert "revoked" in revoked.content.decode()
    assert apikey_authenticate(raw_key=raw) is None


def test_revoking_with_a_plain_post_redirects_back_with_a_message(
    viewer_client: Client, users: UiUsers
) -> None:
    own, _ = apikey_create(name="mine", created_by=users.viewer)

    response = viewer_client.post(URL + f"keys/{own.pk}/revoke", follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert "Key mine revoked." in response.content.decode()


def test_a_user_changes_their_password_and_stays_signed_in(
    viewer_client: Client, users: UiUsers
) -> None:
    new = "A-new-and-long-passphrase-7"
    response = viewer_client.post(
        URL + "password",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        **HTMX,
    )

    users.viewer.refresh_from_db()
    assert response.status_code == 200
    assert "Your password was changed." in response.content.decode()
    assert users.viewer.check_password(new)
    assert viewer_client.get(URL).status_code == 200  # session kept


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"old_password": "wrong", "new_password1": "A-good-one-77x"},
            "old_password",
        ),
        ({"old_password": PASSWORD, "new_password1": "short"}, "new_password2"),
        (
            {
                "old_password": PASSWORD,
                "new_password1": "A-good-one-77x",
                "new_password2": "A-different-one-88",
            },
            "new_password2",
        ),
    ],
)
def test_a_bad_password_change_is_said_next_to_the_field(
    viewer_client: Client, users: UiUsers, data: dict[str, str], field: str
) -> None:
    data.setdefault("new_password2", data["new_password1"])
    response = viewer_client.post(URL + "password", data, **HTMX)

    html = response.content.decode()
    users.viewer.refresh_from_db()
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in html
    assert users.viewer.check_password(PASSWORD)
