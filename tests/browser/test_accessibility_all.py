"""axe-core over every page of the studio (issue #12, "Done when"): the demo
projects (``loaddemo``: a Conversation project, a knowledge base and an
orchestration router, trained and deployed) and a CLINC150-sized project (150
intents, 15,000 utterances, two evaluated models), found by following the links of
the studio from its home page. 0 serious or critical violations, and none of the
rules checked whatever their impact (heading order, link names that do not match
their text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from bench.labeling import seed_evaluation
from tests.browser.conftest import PASSWORD, StudioPage
from tests.browser.test_accessibility import violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Not the studio's own pages: Django's admin, the API and its documentation (Redoc),
# signing out, and files.
SKIP_PREFIXES = ("/admin/", "/api/", "/accounts/logout", "/static/", "/media/")
# A page reached through many ids (one per utterance, pair, job) is checked once.
MAX_PAGES = 90


def _same_page_kind(path: str) -> str:
    """Group paths that differ only in a number (``/data/12/`` and ``/data/13/``)."""
    return "/".join("#" if part.isdigit() else part for part in path.split("/"))


def crawl(studio: StudioPage, start: list[str]) -> list[str]:
    """Every page of the studio reachable by links from ``start``: paths without
    their query, one of each kind (see ``_same_page_kind``)."""
    from playwright.sync_api import Error as PlaywrightError

    page = studio.page
    seen_kinds: set[str] = set()
    queue = list(start)
    pages: list[str] = []
    while queue and len(pages) < MAX_PAGES:
        path = queue.pop(0)
        kind = _same_page_kind(path)
        if kind in seen_kinds:
            continue
        seen_kinds.add(kind)
        try:
            response = page.goto(studio.base_url + path)
        except PlaywrightError:  # a download (an export), not a page
            continue
        if response is None or response.status >= 400:
            continue
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        pages.append(path)
        hrefs: list[str] = page.eval_on_selector_all(
            "a[href]", "els => els.map(a => a.href)"
        )
        for href in hrefs:
            parts = urlsplit(href)
            if parts.netloc and parts.netloc != urlsplit(studio.base_url).netloc:
                continue
            target = parts.path or "/"
            if target.startswith(SKIP_PREFIXES):
                continue
            if _same_page_kind(target) not in seen_kinds:
                queue.append(target)
    return pages


@pytest.fixture
def studio(new_browser_page: Callable[[str], StudioPage], live_server: Any) -> Any:
    call_command("loaddemo", verbosity=0)
    seed_evaluation(name="clinc", members=())
    get_user_model().objects.create_superuser(
        username="root", email="root@example.test", password=PASSWORD
    )
    studio = new_browser_page(live_server.url)
    studio.sign_in("root")
    return studio


def test_every_page_of_the_demo_and_of_a_150_intent_project_is_axe_clean(
    studio: StudioPage,
) -> None:
    page = studio.page
    pages = crawl(
        studio,
        [
            "/",
            "/projects/clinc/",
            "/projects/clinc/data/",
            "/projects/clinc/models/m1/",
            "/projects/HomeOffice/",
            "/projects/OfficeFAQ/",
            "/projects/OfficeRouter/",
            "/people/",
            "/account/",
        ],
    )
    # The crawl reached the screens of each project.
    for expected in (
        "/projects/clinc/data/",
        "/projects/clinc/models/m1/",
        "/projects/HomeOffice/data/",
        "/projects/HomeOffice/schema/",
        "/projects/OfficeFAQ/kb/",
        "/projects/OfficeRouter/orchestration/",
    ):
        assert expected in pages, pages
    # States the links reach with a query (the crawl drops queries).
    pages += [
        "/projects/clinc/models/compare?a=m1&b=m2",
        "/projects/clinc/data/?duplicates=conflicts&size=200",
        "/projects/clinc/models/m1/?rows=errors",
    ]
    found: dict[str, list[str]] = {}
    for path in pages:
        studio.goto(path)
        page.wait_for_load_state("networkidle")
        if problems := violations(page):
            found[path] = problems
    assert found == {}, "\n".join(f"{p}: {v}" for p, vs in found.items() for v in vs)
