"""People and account pages in a real browser: a superuser creates a user (a bad
name first: the error sits next to the field, which has the focus), the new user
signs in with the one-time password and creates a personal API key on the account
page; no Content-Security-Policy violation on the way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from studio.models import ApiKey
from studio.services import apikey_authenticate
from tests.browser.conftest import PASSWORD, StudioPage
from tests.browser.test_csp import RECORD_VIOLATIONS, violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watched(studio: StudioPage) -> StudioPage:
    studio.page.context.add_init_script(RECORD_VIOLATIONS)
    return studio


def clean_screenshot(studio: StudioPage, name: str) -> None:
    """No violation so far, then the screenshot: Playwright's screenshot itself
    sets style attributes that the policy reports, so it comes last on a page."""
    assert violations(studio) == []
    studio.screenshot(name)


def test_admin_creates_a_user_who_signs_in_and_creates_a_personal_key(
    new_browser_page: Callable[[str], StudioPage], live_server: Any
) -> None:
    get_user_model().objects.create_superuser(
        username="root", email="root@example.test", password=PASSWORD
    )
    admin = watched(new_browser_page(live_server.url))
    admin.sign_in("root")
    page = admin.page

    page.get_by_role("link", name="People").click()
    page.wait_for_url("**/people/")
    page.get_by_label("User name").fill("bad name!")
    page.get_by_role("button", name="Add person").click()
    error = page.locator("#id_username_error")
    error.wait_for()
    assert "letters, digits" in error.inner_text()
    assert page.evaluate("document.activeElement.name") == "username"
    assert violations(admin) == []

    page.get_by_label("User name").fill("grace")
    page.get_by_label("E-mail address").fill("grace@example.test")
    page.get_by_role("button", name="Add person").click()
    secret = page.locator("#new-password")
    secret.wait_for()
    password = secret.input_value()
    assert password
    page.get_by_label("Search").fill("grace")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/people/?q=grace")
    assert page.locator("#people-table tbody tr").count() == 1
    clean_screenshot(admin, "searched")

    user = watched(new_browser_page(live_server.url))
    user.sign_in("grace", password)
    user.page.get_by_role("link", name="grace").click()
    user.page.wait_for_url("**/account/")
    assert user.page.get_by_role("link", name="People").count() == 0
    user.page.get_by_label("Key name").fill("my bot")
    user.page.get_by_role("button", name="Create key").click()
    new_key = user.page.locator("#new-api-key")
    new_key.wait_for()
    raw = new_key.input_value()
    clean_screenshot(user, "key-created")

    key = ApiKey.objects.get(name="my bot")
    assert key.created_by is not None and key.created_by.get_username() == "grace"
    assert apikey_authenticate(raw_key=raw) == key
    assert "my bot" in user.page.locator("#key-table").inner_text()
    user.page.reload()
    assert user.page.locator("#new-api-key").count() == 0  # shown once
    assert violations(user) == []
