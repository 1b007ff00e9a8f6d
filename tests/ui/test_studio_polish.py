"""Smaller studio defects (issue #12 item 8): the projects list is searched and
sorted, times under a minute read "just now", a knowledge base is never said to be
"never trained", an orchestration target's deployment is picked from the target's
deployments and each target kind shows only its own fields."""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from projects.models import Intent, Project
from studio.templatetags.studio_time import ago
from tests.ui.conftest import HTMX, UiProjects
from training.models import Deployment

pytestmark = pytest.mark.django_db


def listed(html: str) -> list[str]:
    return re.findall(r'<tr id="project-\d+">\s*<td><a href="/projects/([^/]+)/"', html)


def test_projects_list_searches_name_and_description(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    Project.objects.filter(name="kb").update(description="Office opening hours")
    html = admin_client_ui.get("/?q=OPENING").content.decode()
    assert listed(html) == ["kb"]
    assert 'value="OPENING"' in html
    assert listed(admin_client_ui.get("/?q=or").content.decode()) == ["orch"]
    nothing = admin_client_ui.get("/?q=zzz").content.decode()
    assert listed(nothing) == []
    assert "No project matches" in nothing
    # htmx searches get the results only.
    fragment = admin_client_ui.get("/?q=conv", **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="project-results">')
    assert "<html" not in fragment
    assert listed(fragment) == ["conv"]


def test_projects_list_sorts(admin_client_ui: Client, ui_projects: UiProjects) -> None:
    now = timezone.now()
    Project.objects.filter(name="orch").update(last_trained_at=now)
    Project.objects.filter(name="conv").update(
        last_trained_at=now - timedelta(days=1), last_deployed_at=now
    )

    def order(sort: str) -> list[str]:
        return listed(admin_client_ui.get(f"/?sort={sort}").content.decode())

    assert order("name") == ["conv", "kb", "orch"]
    assert order("-name") == ["orch", "kb", "conv"]
    assert order("kind") == ["conv", "orch", "kb"]  # Conversation, Orch..., QnA
    assert order("trained") == ["orch", "conv", "kb"]  # never trained last
    assert order("deployed") == ["conv", "kb", "orch"]
    assert order("bogus") == ["conv", "kb", "orch"]
    html = admin_client_ui.get("/?sort=trained&q=o").content.decode()
    assert 'aria-sort="descending"' in html
    assert "q=o&amp;sort=kind" in html  # sorting keeps the search


def test_just_now_instead_of_zero_minutes(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    now = timezone.now()
    assert ago(now - timedelta(seconds=20)) == "just now"
    assert ago(now - timedelta(minutes=5)) == "5\xa0minutes ago"
    Project.objects.filter(name="conv").update(last_trained_at=now)
    html = admin_client_ui.get("/").content.decode()
    assert "just now" in html
    assert "0\xa0minutes ago" not in html and "0 minutes ago" not in html


def test_knowledge_base_is_not_said_never_trained(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    overview = admin_client_ui.get("/projects/kb/").content.decode()
    assert "Last trained" not in overview
    assert "needs no training" in overview
    assert "Last trained" in admin_client_ui.get("/projects/conv/").content.decode()
    html = admin_client_ui.get("/?q=kb").content.decode()
    row = re.findall(r'<tr id="project-\d+">(.*?)</tr>', html, re.S)
    assert len(row) == 1
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row[0], re.S)
    assert "never" not in cells[-2]  # Last trained: not applicable
    assert "never" in cells[-1]  # Last deployed: it may be deployed


# --- orchestration: the deployment is chosen among the target's deployments -------


def _deploy(project: Project, name: str) -> None:
    now = timezone.now()
    Deployment.objects.create(
        project=project,
        name=name,
        model_id="m1",
        artifact_name="a",
        model_trained_at=now,
        deployed_at=now,
        expires_on=dt.date(2099, 1, 1),
    )


def test_target_form_offers_the_linked_projects_deployments(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    _deploy(ui_projects.conv, "prod")
    _deploy(ui_projects.conv, "beta")
    travel = Intent.objects.create(
        project=ui_projects.orch,
        name="Travel",
        target_kind="Conversation",
        target_project_name="conv",
        target_deployment_name="prod",
    )
    url = f"/projects/orch/orchestration/intents/{travel.pk}/target"
    html = admin_client_ui.get(url, **HTMX).content.decode()
    select = html[html.index('name="deployment_name-conv"') :]
    select = select[: select.index("</select>")]
    assert '<option value="prod" selected>' in select
    assert '<option value="beta">' in select
    # kb is not deployed yet: free text, shown for it (and for no project chosen).
    assert 'name="deployment_name-kb"' not in html
    assert 'data-show-values=" kb"' in html
    # Each kind's fields are shown only for that kind.
    assert 'data-show-when="target_kind" data-show-values="Http"' in html
    assert 'data-show-when="target_kind" data-show-values="Luis"' in html
    assert (
        'data-show-when="target_kind" data-show-values="Conversation '
        'QuestionAnswering"' in html
    )

    response = admin_client_ui.post(
        url,
        {
            "target_kind": "Conversation",
            "project_name": "conv",
            "deployment_name": "",
            "deployment_name-conv": "beta",
        },
        **HTMX,
    )
    assert response.status_code == 200
    travel.refresh_from_db()
    assert travel.target_deployment_name == "beta"
    # A project without deployments: the free text is what counts.
    response = admin_client_ui.post(
        url,
        {
            "target_kind": "QuestionAnswering",
            "project_name": "kb",
            "deployment_name": "production",
            "deployment_name-conv": "beta",
        },
        **HTMX,
    )
    assert response.status_code == 200
    travel.refresh_from_db()
    assert (travel.target_project_name, travel.target_deployment_name) == (
        "kb",
        "production",
    )
