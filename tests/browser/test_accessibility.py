"""axe-core over the studio's screens: no serious or critical violation.

axe-core comes bundled with ``axe-playwright-python`` (a dev dependency), injected
by Playwright into the page: nothing is fetched from a CDN. The knowledge-base
editor and the evaluation/compare screens are checked by their own suites.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projects.models import Intent, Project, ProjectMembership
from tests.browser.conftest import StudioPage, axe_violations
from tests.factories import (
    EntityFactory,
    EntitySpanFactory,
    KbProjectFactory,
    OrchestrationProjectFactory,
    ProjectFactory,
    QnaPairFactory,
    UtteranceFactory,
)
from tests.training.model_helpers import make_trained_model
from tests.ui.training_helpers import TRAVEL, WEATHER
from training import deploy_jobs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Checked whatever their impact: headings that skip a level confuse screen-reader
# navigation. label-content-name-mismatch is off by default in axe (experimental):
# a control whose name does not start with its visible text breaks voice control.
ALWAYS = frozenset({"heading-order", "label-content-name-mismatch"})
OPTIONS = {
    "resultTypes": ["violations"],
    "rules": {"label-content-name-mismatch": {"enabled": True}},
}


def violations(page: Any) -> list[str]:
    return axe_violations(page, always=ALWAYS, options=OPTIONS)


@pytest.fixture
def studio(browser_user: Callable[..., Any]) -> dict[str, Project]:
    """A Conversation project with labeled data (entity chips of several colours)
    and a deployment, a knowledge base and an orchestration project linking both."""
    conv = ProjectFactory.create(name="Travel")
    kb = KbProjectFactory.create(name="Faq")
    orch = OrchestrationProjectFactory.create(name="Router")
    user = browser_user("ada")
    for project in (conv, kb, orch):
        ProjectMembership.objects.create(project=project, user=user, role="admin")
    book = Intent.objects.create(project=conv, name="Book")
    entities = [EntityFactory.create(project=conv, name=f"Entity{i}") for i in range(8)]
    for i, entity in enumerate(entities):
        utterance = UtteranceFactory.create(
            project=conv, intent=book, text=f"fly to city{i} tomorrow"
        )
        EntitySpanFactory.create(utterance=utterance, entity=entity, offset=7, length=5)
    QnaPairFactory.create(project=kb, questions=["opening hours"], answer="9 to 5")
    Intent.objects.create(
        project=orch,
        name="Travel",
        target_kind="Conversation",
        target_project_name="Travel",
        target_deployment_name="production",
    )
    Intent.objects.create(project=orch, name="Chitchat")
    make_trained_model(
        conv, "m1", TRAVEL + WEATHER, ["Book"] * len(TRAVEL) + ["None"] * len(WEATHER)
    )
    deploy_jobs.deploy_start(
        project_name="Travel",
        deployment_name="production",
        body={"trainedModelLabel": "m1"},
    )
    return {"conv": conv, "kb": kb, "orch": orch}


PAGES = [
    "/",
    "/projects/new",
    "/projects/Travel/",
    "/projects/Faq/",
    "/projects/Router/",
    "/projects/Travel/data/",
    "/projects/Travel/schema/",
    "/projects/Router/orchestration/",
    "/projects/Travel/train/",
    "/projects/Travel/models/",
    "/projects/Travel/deployments/",
    "/projects/Travel/settings/",
    "/projects/Travel/playground/",
]


def test_studio_screens_have_no_serious_axe_violation(
    browser_page: StudioPage, studio: dict[str, Project]
) -> None:
    page = browser_page.page
    browser_page.sign_in("ada")
    found: dict[str, list[str]] = {}
    for path in PAGES:
        browser_page.goto(path)
        page.wait_for_load_state("networkidle")
        if problems := violations(page):
            found[path] = problems
    # The playground with an answer: the raw JSON region scrolls.
    browser_page.goto("/projects/Travel/playground/")
    page.locator("#playground-text").fill("book a flight to paris " * 20)
    page.get_by_role("button", name="Send").click()
    page.locator("#raw-json").wait_for()
    if problems := violations(page):
        found["playground with a result"] = problems
    assert found == {}


def test_table_headers_stay_on_one_line(
    browser_page: StudioPage, studio: dict[str, Project]
) -> None:
    page = browser_page.page
    browser_page.sign_in("ada")
    page.set_viewport_size({"width": 760, "height": 900})
    browser_page.goto("/")
    lines = page.evaluate(
        """() => Array.from(document.querySelectorAll('#project-table th')).map(th => {
          const range = document.createRange();
          range.selectNodeContents(th);
          const rects = Array.from(range.getClientRects());
          const tops = new Set(rects.map(r => Math.round(r.top)));
          return [th.textContent.trim(), tops.size];
        })"""
    )
    assert [name for name, count in lines if count > 1] == []


def test_the_site_header_stays_on_one_line(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    long_name = "Customer-Support-Routing-For-Northern-Europe-2026"
    project = ProjectFactory.create(name=long_name)
    browser_user("ada", role="admin", project=project)
    page = browser_page.page
    browser_page.sign_in("ada")
    page.set_viewport_size({"width": 640, "height": 800})
    browser_page.goto(f"/projects/{long_name}/")
    rows = page.evaluate(
        """() => ['.site-header__bar', '.project-tabs ul'].map(sel => {
          const bar = document.querySelector(sel);
          const boxes = Array.from(bar.children)
            .map(c => c.getBoundingClientRect())
            .filter(b => b.height > 0);
          // One line: every item starts above the bottom of every other item.
          const lowestTop = Math.max(...boxes.map(b => b.top));
          const highestBottom = Math.min(...boxes.map(b => b.bottom));
          return [sel, lowestTop < highestBottom];
        })"""
    )
    assert rows == [[".site-header__bar", True], [".project-tabs ul", True]]
    assert page.evaluate("document.documentElement.scrollWidth") <= 640
