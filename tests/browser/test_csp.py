"""The Content-Security-Policy (settings.SECURE_CSP) in a real browser: every main
screen renders without one violation (no inline script, handler or style attribute,
no <style> injected by htmx), server-computed sizes still reach the page through the
CSSOM, and an htmx request that fails says so on the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.browser.conftest import PASSWORD, StudioPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded in the page before any of its own scripts run.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(
    event.violatedDirective + " " + (event.blockedURI || "inline") + " "
    + (event.sample || "")
  );
});
"""

# Redoc's "powered by" logo is fetched from its CDN: blocking that call out of a
# self-hosted, offline studio is the policy doing its job, not a broken page.
EXPECTED = "https://cdn.redoc.ly/"

SCREENS = [
    "/",
    "/projects/HomeOffice/",
    "/projects/HomeOffice/schema/",
    "/projects/HomeOffice/data/",
    "/projects/HomeOffice/train/",
    "/projects/HomeOffice/models/",
    "/projects/HomeOffice/models/demo/",
    "/projects/HomeOffice/deployments/",
    "/projects/HomeOffice/playground/",
    "/projects/HomeOffice/settings/",
    "/projects/OfficeFAQ/kb/",
    "/projects/OfficeRouter/orchestration/",
    "/projects/new",
    "/people/",
    "/resources/",
    "/account/",
    "/no/such/page/",
    "/admin/",
    "/admin/studio/apikey/add/",
    "/admin/axes/accessattempt/",
    "/api/docs/",
]


@pytest.fixture
def demo_page(new_browser_page: Callable[[str], StudioPage], live_server: Any) -> Any:
    call_command("loaddemo", verbosity=0)
    get_user_model().objects.create_superuser(
        username="root", email="root@example.test", password=PASSWORD
    )
    studio = new_browser_page(live_server.url)
    studio.page.context.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    studio.page.on(
        "console",
        lambda message: (
            console.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    studio.sign_in("root")
    return studio, console


def violations(studio: StudioPage) -> list[str]:
    found: list[str] = studio.page.evaluate("window.__cspViolations || []")
    return found


def test_the_main_screens_load_without_a_csp_violation(demo_page: Any) -> None:
    studio, console = demo_page
    page = studio.page
    seen: dict[str, list[str]] = {}

    for path in SCREENS:
        response = page.goto(studio.base_url + path)
        assert response is not None
        assert "content-security-policy" in response.headers, path
        page.wait_for_load_state("networkidle")
        if path == "/api/docs/":
            page.locator(".api-content, [role=search]").first.wait_for()
        found = [v for v in violations(studio) if EXPECTED not in v]
        if found:
            seen[path] = found

    assert seen == {}
    assert [text for text in console if EXPECTED not in text] == []


def test_server_computed_sizes_are_applied_without_style_attributes(
    demo_page: Any,
) -> None:
    studio, _ = demo_page
    page = studio.page

    studio.goto("/projects/HomeOffice/data/")
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all(
        ".bar__train[data-width]", "els => els.map(e => e.style.width)"
    )
    underline = page.eval_on_selector(
        "mark.seg[data-underlines]", "el => getComputedStyle(el).boxShadow"
    )
    chip = page.eval_on_selector(
        ".chip-button.ent-0", "el => getComputedStyle(el).borderLeftColor"
    )
    studio.goto("/projects/HomeOffice/models/demo/")
    heat = page.eval_on_selector(
        ".heatmap__cell[data-heat]", "el => el.style.getPropertyValue('--heat')"
    )

    assert widths and all(width.endswith("%") for width in widths)
    assert any(width != "0%" for width in widths)
    assert underline.count("px") >= 4  # one box-shadow: x, y, blur, spread
    assert chip == "rgb(31, 119, 180)"  # --ent-0
    assert heat != ""
    assert violations(studio) == []


def test_a_failed_htmx_request_shows_a_visible_error(demo_page: Any) -> None:
    studio, _ = demo_page
    page = studio.page
    studio.goto("/projects/HomeOffice/")

    page.evaluate("htmx.ajax('GET', '/projects/NoSuchProject/', {target: '#main'})")

    alert = page.locator("#messages [data-request-error]")
    alert.wait_for()
    assert alert.is_visible()
    assert "no longer exists" in alert.inner_text()
    assert page.get_by_role("heading", name="HomeOffice").is_visible()  # not swapped
    studio.screenshot("htmx-error")
