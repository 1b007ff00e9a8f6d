from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client, RequestFactory

from studio import accounts
from studio.services import apikey_create


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


# --- throttling (django-axes) and bounded password hashing: studio/accounts.py ---

# django-axes 8.3 declares Django up to 6.0: anything it calls that Django 6.1
# deprecates fails these tests (pyproject.toml).
axes_on_this_django = pytest.mark.filterwarnings(
    "error::DeprecationWarning", "error::PendingDeprecationWarning"
)

PASSWORD = "Long-Enough-Password-1"


def sign_in(
    client: Client, username: str, password: str, ip: str = "127.0.0.1"
) -> HttpResponse:
    response: Any = client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )
    return response


def signed_in(client: Client) -> bool:
    return bool(client.get("/").status_code == 200)


@pytest.fixture
def alice() -> User:
    return get_user_model().objects.create_user(username="alice", password=PASSWORD)


@axes_on_this_django
@pytest.mark.django_db
def test_many_wrong_passwords_lock_the_user_name_even_from_other_addresses(
    client: Client, alice: User
) -> None:
    for attempt in range(30):
        sign_in(client, "alice", f"guess-{attempt}", ip=f"10.0.0.{attempt}")

    refused = sign_in(client, "alice", PASSWORD, ip="10.0.1.1")

    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many failed sign-ins" in page
    assert f"Wait {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in page
    assert "ask an administrator to unlock" in page
    assert not signed_in(client)


@axes_on_this_django
@pytest.mark.django_db
def test_many_failures_from_one_address_lock_that_address_only(
    client: Client, alice: User
) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"nobody-{attempt}", "guess", ip="10.9.9.9")

    assert sign_in(client, "alice", PASSWORD, ip="10.9.9.9").status_code == 429
    assert not signed_in(client)
    accepted = sign_in(client, "alice", PASSWORD, ip="10.1.1.1")
    assert accepted.status_code == 302
    assert signed_in(client)


@axes_on_this_django
@pytest.mark.django_db
def test_the_admin_sign_in_is_throttled_too(client: Client, alice: User) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "alice", "password": str(attempt)})

    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()


@axes_on_this_django
@pytest.mark.django_db
def test_an_administrator_unlocks_a_locked_account_in_the_admin(
    client: Client, alice: User
) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", f"guess-{attempt}")
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    root = get_user_model().objects.create_superuser(username="root", password=PASSWORD)
    admin_client = Client()
    admin_client.force_login(root)

    listing = admin_client.get("/admin/axes/accessattempt/?locked_out=yes")
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    unlocked = admin_client.post(
        "/admin/axes/accessattempt/",
        {
            "action": "delete_selected",
            "_selected_action": list(
                AccessAttempt.objects.values_list("pk", flat=True)
            ),
            "post": "yes",
        },
    )

    assert unlocked.status_code == 302
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert signed_in(client)


@pytest.mark.django_db
def test_api_keys_are_not_throttled_and_api_views_never_check_passwords(
    client: Client, alice: User
) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", f"guess-{attempt}")
    attempts = AccessAttempt.objects.count()
    _, raw_key = apikey_create(name="bot")

    listed = client.get(
        "/language/authoring/analyze-conversations/projects?api-version=2023-04-01",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw_key,
    )
    basic = base64.b64encode(b"alice:wrong-password").decode()
    schema = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Basic {basic}")

    assert listed.status_code == 200
    # Basic credentials are ignored: no password check outside the sign-in page.
    assert schema.status_code == 200
    assert AccessAttempt.objects.count() == attempts


@pytest.mark.django_db
def test_a_sign_in_without_a_free_hashing_slot_is_told_to_retry_uncounted(
    client: Client, alice: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STUDIO_SIGN_IN_WAIT_SECONDS = 0.05
    monkeypatch.setattr(accounts, "_slots", threading.BoundedSemaphore(1))
    accounts._slots.acquire()  # another sign-in is hashing
    try:
        started = time.monotonic()
        busy = sign_in(client, "alice", PASSWORD)
        seconds = time.monotonic() - started
    finally:
        accounts._slots.release()

    assert busy.status_code == 429
    assert busy["Retry-After"] == "1"
    assert accounts.BUSY_MESSAGE in busy.content.decode()
    assert seconds < 2
    assert not signed_in(client)
    assert AccessAttempt.objects.count() == 0
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_at_most_the_configured_number_of_passwords_are_checked_at_once(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STUDIO_SIGN_IN_WAIT_SECONDS = 30
    monkeypatch.setattr(accounts, "_slots", threading.BoundedSemaphore(2))
    lock = threading.Lock()
    running = 0
    most = 0

    def slow_authenticate(request: Any, **credentials: Any) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)  # what a PBKDF2 hash costs, roughly
        with lock:
            running -= 1

    monkeypatch.setattr(auth_forms, "authenticate", slow_authenticate)

    def attempt(number: int) -> bool:
        form = accounts.SignInForm(
            RequestFactory().post("/accounts/login/"),
            data={"username": f"user-{number}", "password": "secret"},
        )
        return form.is_valid()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))

    assert results == [False] * 8
    assert most == 2


# --- password reset only with e-mail ---

RESET_PATHS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
]


@pytest.mark.django_db
def test_password_reset_is_not_offered_without_e_mail(
    client: Client, alice: User, mailoutbox: list[Any]
) -> None:
    alice.email = "alice@example.test"
    alice.save()

    answers = [client.get(path).status_code for path in RESET_PATHS]
    posted = client.post(RESET_PATHS[0], {"email": "alice@example.test"})
    login_page = client.get("/accounts/login/").content.decode()

    assert answers == [404] * len(RESET_PATHS)
    assert posted.status_code == 404
    assert mailoutbox == []
    assert "/accounts/password_reset/" not in login_page
    assert "Ask an administrator to set a new one" in login_page


@pytest.mark.django_db
def test_with_e_mail_configured_a_reset_link_is_sent(
    client: Client, alice: User, settings: Any, mailoutbox: list[Any]
) -> None:
    settings.STUDIO_EMAIL_ENABLED = True
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    }
    alice.email = "alice@example.test"
    alice.save()

    login_page = client.get("/accounts/login/").content.decode()
    form = client.get(RESET_PATHS[0])
    posted = client.post(RESET_PATHS[0], {"email": "alice@example.test"})

    assert 'href="/accounts/password_reset/"' in login_page
    assert form.status_code == 200
    assert "Reset your password" in form.content.decode()
    assert posted.status_code == 302
    assert posted["Location"] == "/accounts/password_reset/done/"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.test"]
    assert "/accounts/reset/" in mailoutbox[0].body


def test_failed_sign_ins_count_against_the_address_the_proxy_saw(
    settings: Any,
) -> None:
    request = RequestFactory().post(
        "/accounts/login/",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7",
    )

    settings.STUDIO_BEHIND_TLS_PROXY = False
    direct = accounts.client_ip(request)
    settings.STUDIO_BEHIND_TLS_PROXY = True
    proxied = accounts.client_ip(request)

    assert direct == "10.0.0.2"  # X-Forwarded-For is not trusted without a proxy
    assert proxied == "203.0.113.7"  # the entry the proxy appended, not the client's
    # Stored in an address column (PostgreSQL's inet): never anything else.
    assert accounts.client_ip(RequestFactory().get("/", REMOTE_ADDR="")) is None
    garbage = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="<script>")
    assert accounts.client_ip(garbage) == "127.0.0.1"
