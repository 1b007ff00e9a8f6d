"""Browser-test harness: Playwright for Python driving Debian's chromium, headless.

* ``chromium_browser`` (per module: Playwright's sync API keeps an asyncio loop
  running in the test thread, which must be gone before other tests call
  ``asyncio.run``): the launched browser. Skips with the reason when
  Playwright or ``/usr/bin/chromium`` is missing (``make test`` installs chromium
  where it may), and fails instead under ``STUDIO_REQUIRE_SERVICES=1``.
* ``new_browser_page(base_url)``: a fresh browser context (own cookies) and page on any
  server: ``live_server.url`` for UI-only journeys, ``live_studio.url`` for journeys
  that train (they need a real Celery worker).
* ``browser_page``: a ``StudioPage`` on pytest-django's ``live_server`` (the test
  database; Celery runs eagerly, so imports finish within their request).
* ``StudioPage.sign_in(username, password)``, ``StudioPage.screenshot(name)``: the
  screenshots go to ``var/test-artifacts/screenshots/<test>-<name>.png``.
* ``browser_user(username, role=None, project=None)``: a user (with a password) in
  the test database, optionally a member of ``project``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from projects.models import Project, ProjectMembership
from tests.conftest import REPO_ROOT, skip_or_fail

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "var" / "test-artifacts" / "screenshots"
TIMEOUT_MS = 20_000
PASSWORD = "Browser-Test-Password-1"

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        skip_or_fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium when it "
            "runs as root or with sudo (apt-get install -y chromium)"
        )
    # Playwright's sync API runs an event loop in the test's thread; Django would
    # then refuse the tests' own ORM calls (fixtures, assertions) as async-unsafe.
    # They are plain synchronous calls: allow them while the browser runs.
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@dataclass
class StudioPage:
    """A Playwright page on one studio server, with the studio's common steps."""

    page: Page
    base_url: str
    test_name: str

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/accounts/login/")
        self.page.get_by_label("User name").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.test_name}-{name}")
        path = SCREENSHOTS / f"{safe}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def new_browser_page(
    chromium_browser: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], StudioPage]]:
    contexts: list[Any] = []

    def make(base_url: str) -> StudioPage:
        context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return StudioPage(context.new_page(), base_url.rstrip("/"), request.node.name)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(
    new_browser_page: Callable[[str], StudioPage], live_server: Any
) -> StudioPage:
    return new_browser_page(live_server.url)


@pytest.fixture
def browser_user(transactional_db: None) -> Callable[..., User]:
    def make(
        username: str, *, role: str | None = None, project: Project | None = None
    ) -> User:
        user = get_user_model().objects.create_user(
            username=username, email=f"{username}@example.test", password=PASSWORD
        )
        if role is not None and project is not None:
            ProjectMembership.objects.create(project=project, user=user, role=role)
        return user

    return make


@pytest.fixture
def live_studio_user(live_studio: Any) -> Callable[..., str]:
    """Create a user (password ``PASSWORD``) in the ``live_studio`` database, for
    journeys that need the real worker; returns the user name."""

    def make(username: str, *, superuser: bool = False) -> str:
        code = (
            "from django.contrib.auth import get_user_model\n"
            "get_user_model().objects.create_user("
            f"username={username!r}, email={username + '@example.test'!r}, "
            f"password={PASSWORD!r}, is_superuser={superuser!r}, "
            f"is_staff={superuser!r})"
        )
        result = live_studio.manage("shell", "-c", code)
        assert result.returncode == 0, result.stderr
        return username

    return make


# --- accessibility ----------------------------------------------------------------

SERIOUS = frozenset({"serious", "critical"})


def axe_violations(
    page: Any,
    *,
    always: frozenset[str] = frozenset(),
    options: dict[str, Any] | None = None,
) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now (and those
    of the rules in ``always``, whatever their impact), one line each. axe-core comes
    bundled with ``axe-playwright-python`` and is injected by Playwright: nothing is
    fetched from a CDN. (axe leaves style attributes behind that htmx's history
    snapshot then copies: check a page's CSP violations before running it.)"""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        skip_or_fail("axe-playwright-python is not installed (pip install -e '.[dev]')")
    results = Axe().run(page, options=options)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - "
        + "; ".join(str(node.get("target")) for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS or v["id"] in always
    ]


def htmx_settled(page: Any) -> None:
    """Wait until no htmx request of the page is in flight (htmx marks the element
    that issued one with ``htmx-request`` until its answer is swapped in).

    Tests that then read the database: the live server shares the in-memory SQLite
    database in shared-cache mode, where a read from the test thread while the
    server writes makes that write fail at once ("database table is locked"; no
    busy timeout applies there) and the edit under test is lost. A request that
    has answered has committed, so a read after this meets no write of the page."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
