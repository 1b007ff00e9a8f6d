"""People page (``/people/``): studio staff and superusers list, search, create
(one-time password or e-mail invitation), deactivate, reactivate and send password
links; everyone else gets 403. Deactivating ends sessions and stops personal keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client

from studio.services import apikey_authenticate, apikey_create
from tests.ui.conftest import HTMX, PASSWORD, UiUsers, make_user

pytestmark = pytest.mark.django_db

ClientFor = Callable[[str], Client]
URL = "/people/"
UserModel = get_user_model()


@pytest.fixture
def staff(users: UiUsers) -> User:
    return make_user("stan-staff", is_staff=True)


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def super_client(client_for: ClientFor) -> Client:
    return client_for("superuser")


@pytest.fixture
def with_email(settings: Any) -> None:
    settings.STUDIO_EMAIL_ENABLED = True
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    }


def signs_in(username: str, password: str) -> bool:
    """Through the sign-in page (django-axes needs the request)."""
    response = Client().post(
        "/accounts/login/", {"username": username, "password": password}
    )
    return response.status_code == 302


def one_time_password(html: str) -> str:
    return html.split('id="new-password"')[1].split('value="')[1].split('"')[0]


# ------------------------------------------------------------------ who may


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer", "outsider"])
def test_people_pages_are_403_for_everyone_but_staff_and_superusers(
    client_for: ClientFor, users: UiUsers, role: str
) -> None:
    client = client_for(role)  # a project admin too: they manage members only
    target = users.viewer.pk
    answers = [
        client.get(URL),
        client.get(URL, **HTMX),
        client.post(URL + "new", {"username": "mallory"}),
        client.post(URL + f"{target}/deactivate"),
        client.post(URL + f"{target}/reactivate"),
        client.post(URL + f"{target}/password-link"),
    ]

    assert [a.status_code for a in answers] == [403] * len(answers)
    assert not UserModel.objects.filter(username="mallory").exists()
    users.viewer.refresh_from_db()
    assert users.viewer.is_active
    assert 'href="/people/"' not in client.get("/").content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.post(URL + "new", {"username": "x"}).status_code == 302
    assert not UserModel.objects.filter(username="x").exists()


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_staff_and_superusers_see_everyone_and_a_header_link(
    request: pytest.FixtureRequest, users: UiUsers, who: str
) -> None:
    fixture = "staff_client" if who == "staff" else "super_client"
    client = request.getfixturevalue(fixture)
    response = client.get(URL)
    html = response.content.decode()

    assert response.status_code == 200
    for user in (users.admin, users.viewer, users.outsider, users.superuser):
        assert f'id="person-{user.pk}"' in html
    assert 'href="/people/"' in client.get("/").content.decode()


def test_search_filters_by_name_or_email_and_htmx_gets_the_list_only(
    staff_client: Client, users: UiUsers
) -> None:
    users.viewer.email = "victor@corp.example"
    users.viewer.save()

    by_email = staff_client.get(URL, {"q": "CORP.example"}, **HTMX).content.decode()
    by_name = staff_client.get(URL, {"q": "oscar"}).content.decode()
    nobody = staff_client.get(URL, {"q": "zzz"}).content.decode()

    assert f'id="person-{users.viewer.pk}"' in by_email
    assert f'id="person-{users.admin.pk}"' not in by_email
    assert "<html" not in by_email and 'id="people-create"' not in by_email
    assert f'id="person-{users.outsider.pk}"' in by_name
    assert f'id="person-{users.viewer.pk}"' not in by_name
    assert "Nobody matches" in nobody


# ------------------------------------------------------------------ create


def test_staff_create_a_user_with_a_one_time_password_shown_once(
    staff_client: Client,
) -> None:
    response = staff_client.post(
        URL + "new", {"username": "newbie", "email": "newbie@example.test"}
    )

    html = response.content.decode()
    password = one_time_password(html)
    user = UserModel.objects.get(username="newbie")
    assert response.status_code == 200 and "<html" in html  # no redirect
    assert user.is_active and not user.is_staff and not user.is_superuser
    assert user.check_password(password)
    assert password not in str(response.cookies)
    assert password not in staff_client.get(URL).content.decode()
    assert signs_in("newbie", password)


def test_create_with_htmx_answers_the_create_section(staff_client: Client) -> None:
    response = staff_client.post(URL + "new", {"username": "newbie"}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="people-create"')
    assert one_time_password(html)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"username": ""}, "username", "This field is required."),
        ({"username": "bad name!"}, "username", "letters, digits"),
        ({"username": "ALICE-ADMIN"}, "username", "is taken"),
        ({"username": "ok", "email": "not-an-address"}, "email", "e-mail address"),
    ],
)
def test_bad_input_is_said_next_to_the_field_and_creates_nobody(
    staff_client: Client,
    users: UiUsers,
    data: dict[str, str],
    field: str,
    words: str,
) -> None:
    before = UserModel.objects.count()
    response = staff_client.post(URL + "new", data, **HTMX)

    html = response.content.decode()
    error = html.split(f'id="id_{field}_error"')[1].split("</div>")[0]
    assert response.status_code == 422
    assert words in error
    assert 'aria-invalid="true"' in html
    assert UserModel.objects.count() == before
    field_tag = html.split(f'name="{field}"')[1].split(">")[0]
    assert "autofocus" in field_tag  # the cursor starts at the bad field


def test_only_a_superuser_makes_someone_staff(
    staff_client: Client, super_client: Client
) -> None:
    assert 'name="is_staff"' not in staff_client.get(URL).content.decode()
    staff_client.post(URL + "new", {"username": "sneaky", "is_staff": "on"})
    super_client.post(URL + "new", {"username": "helper", "is_staff": "on"})

    assert not UserModel.objects.get(username="sneaky").is_staff
    assert UserModel.objects.get(username="helper").is_staff


def test_without_e_mail_there_is_no_invitation(
    staff_client: Client, mailoutbox: list[Any]
) -> None:
    html = staff_client.get(URL).content.decode()
    response = staff_client.post(
        URL + "new",
        {"username": "inv", "email": "inv@example.test", "sign_in": "invite"},
    )

    assert 'name="sign_in"' not in html
    assert "E-mail is not configured" in html
    assert 'id="new-password"' in response.content.decode()  # the only way
    assert mailoutbox == []


def test_with_e_mail_an_invitation_sends_a_link_and_shows_no_password(
    staff_client: Client, client: Client, with_email: None, mailoutbox: list[Any]
) -> None:
    response = staff_client.post(
        URL + "new",
        {"username": "inv", "email": "inv@example.test", "sign_in": "invite"},
        follow=True,
    )

    user = UserModel.objects.get(username="inv")
    assert 'id="new-password"' not in response.content.decode()
    assert "inv was invited by e-mail." in response.content.decode()
    assert not user.has_usable_password()
    assert [m.to for m in mailoutbox] == [["inv@example.test"]]
    link = mailoutbox[0].body.split("http://testserver")[1].split()[0]
    form = client.get(link, follow=True)
    new = "Invited-and-chose-1"
    client.post(
        form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    user.refresh_from_db()
    assert user.check_password(new)


def test_an_invitation_needs_an_e_mail_address(
    staff_client: Client, with_email: None, mailoutbox: list[Any]
) -> None:
    response = staff_client.post(
        URL + "new", {"username": "inv", "sign_in": "invite"}, **HTMX
    )

    assert response.status_code == 422
    assert (
        "enter an e-mail address"
        in response.content.decode().split('id="id_email_error"')[1].split("</div>")[0]
    )
    assert not UserModel.objects.filter(username="inv").exists()
    assert mailoutbox == []


# ------------------------------------------------------------------ deactivate


def test_deactivating_ends_sessions_and_stops_personal_keys(
    staff_client: Client, client_for: ClientFor, users: UiUsers
) -> None:
    viewer_session = client_for("viewer")
    _, raw = apikey_create(name="bot", created_by=users.viewer)
    assert viewer_session.get("/account/").status_code == 200

    response = staff_client.post(URL + f"{users.viewer.pk}/deactivate", **HTMX)

    users.viewer.refresh_from_db()
    assert response.status_code == 200
    assert "deactivated" in response.content.decode()
    assert not users.viewer.is_active
    assert viewer_session.get("/account/").status_code == 302  # signed out
    assert apikey_authenticate(raw_key=raw) is None
    api = Client().get(
        "/language/authoring/analyze-conversations/projects?api-version=2023-04-01",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw,
    )
    assert api.status_code == 401
    assert not signs_in(users.viewer.username, PASSWORD)


def test_reactivating_lets_them_sign_in_again_but_revives_no_old_session(
    staff_client: Client, client_for: ClientFor, users: UiUsers
) -> None:
    old_session = client_for("viewer")
    _, raw = apikey_create(name="bot", created_by=users.viewer)
    staff_client.post(URL + f"{users.viewer.pk}/deactivate")

    response = staff_client.post(URL + f"{users.viewer.pk}/reactivate", follow=True)

    assert "may sign in again" in response.content.decode()
    assert old_session.get("/account/").status_code == 302
    assert signs_in(users.viewer.username, PASSWORD)
    assert apikey_authenticate(raw_key=raw) is not None


def test_nobody_deactivates_themselves_and_staff_leave_superusers_alone(
    staff_client: Client, staff: User, super_client: Client, users: UiUsers
) -> None:
    own = staff_client.post(URL + f"{staff.pk}/deactivate", **HTMX)
    on_super = staff_client.post(URL + f"{users.superuser.pk}/deactivate", **HTMX)
    by_super = super_client.post(URL + f"{staff.pk}/deactivate", **HTMX)

    staff.refresh_from_db()
    users.superuser.refresh_from_db()
    assert own.status_code == on_super.status_code == 422
    assert "You cannot deactivate yourself." in own.content.decode()
    assert "Only a superuser" in on_super.content.decode()
    assert users.superuser.is_active
    assert by_super.status_code == 200
    assert not staff.is_active


def test_an_unknown_user_is_404(staff_client: Client) -> None:
    assert staff_client.post(URL + "999999/deactivate").status_code == 404


# ------------------------------------------------------------------ password links


def test_a_password_link_is_offered_and_sent_only_with_e_mail(
    staff_client: Client, users: UiUsers, settings: Any, mailoutbox: list[Any]
) -> None:
    path = URL + f"{users.viewer.pk}/password-link"
    html = staff_client.get(URL).content.decode()
    refused = staff_client.post(path, **HTMX)

    assert path not in html
    assert refused.status_code == 422
    assert "E-mail is not configured" in refused.content.decode()
    assert mailoutbox == []

    settings.STUDIO_EMAIL_ENABLED = True
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    }
    assert path in staff_client.get(URL).content.decode()
    sent = staff_client.post(path, **HTMX)

    assert sent.status_code == 200
    assert "A link to choose a new password was sent" in sent.content.decode()
    assert [m.to for m in mailoutbox] == [[users.viewer.email]]
    assert "/accounts/reset/" in mailoutbox[0].body
    assert "/accounts/reset/" not in sent.content.decode()  # the admin never sees it
