"""Playground: a query goes through the runtime's own parser and predictor (no API
key, the session user's read access) and shows the top intent, a confidence bar per
intent, entities or the routed target's answer, and the raw JSON; bad input next to
the field; roles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from runtime.registry import runtime_reset
from runtime.views import highlight
from tests.factories import QnaPairFactory
from tests.training.model_helpers import make_trained_model
from tests.ui.conftest import HTMX, UiProjects, add_member, make_user
from tests.ui.training_helpers import TRAVEL, WEATHER, run_jobs
from training import deploy_jobs
from training.engine.bundles import TargetSpec

pytestmark = pytest.mark.django_db

LABELS = ["Travel"] * len(TRAVEL) + ["Weather"] * len(WEATHER)


@pytest.fixture
def deployed(
    ui_projects: UiProjects, django_capture_on_commit_callbacks: Callable[..., Any]
) -> UiProjects:
    """conv and kb deployed as production; orch routes Travel to conv, Faq to kb."""
    make_trained_model(ui_projects.conv, "m1", TRAVEL + WEATHER, LABELS)
    QnaPairFactory.create(
        project=ui_projects.kb,
        questions=["what are the opening hours"],
        answer="9 to 5",
    )
    make_trained_model(
        ui_projects.orch,
        "r1",
        TRAVEL + ["when are you open", "what are the opening hours", "opening times"],
        ["Travel"] * len(TRAVEL) + ["Faq"] * 3,
        targets={
            "Travel": TargetSpec(
                kind="Conversation", project_name="conv", deployment_name="production"
            ),
            "Faq": TargetSpec(
                kind="QuestionAnswering",
                project_name="kb",
                deployment_name="production",
            ),
        },
    )
    with run_jobs(django_capture_on_commit_callbacks):
        for project in ("conv", "orch"):
            label = "m1" if project == "conv" else "r1"
            deploy_jobs.deploy_start(
                project_name=project,
                deployment_name="production",
                body={"trainedModelLabel": label},
            )
        deploy_jobs.kb_deploy_start(project_name="kb", deployment_name="production")
    runtime_reset()
    return ui_projects


def ask(client: Client, project: str, text: str, deployment: str = "production") -> Any:
    return client.post(
        f"/projects/{project}/playground/query",
        {"text": text, "deployment": deployment},
        **HTMX,
    )


def test_page_lists_deployments(viewer_client: Client, deployed: UiProjects) -> None:
    html = viewer_client.get("/projects/conv/playground/").content.decode()
    assert '<option value="production" selected>' in html


def test_conversation_query_shows_intents_and_raw_json(
    viewer_client: Client, deployed: UiProjects
) -> None:
    response = ask(viewer_client, "conv", "book a flight to rome")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<strong id="top-intent">Travel</strong>' in html
    assert 'data-intent="Travel"' in html and 'data-intent="Weather"' in html
    raw = html.split('id="raw-json"')[1].split("<code>")[1].split("</code>")[0]
    import html as html_lib

    body = json.loads(html_lib.unescape(raw))
    assert body["kind"] == "ConversationResult"
    assert body["result"]["prediction"]["topIntent"] == "Travel"
    assert 'value="book a flight to rome"' in html  # the typed text stays


def test_orchestration_routes_to_the_conversation_target_and_the_kb(
    analyst_client: Client, deployed: UiProjects
) -> None:
    html = ask(analyst_client, "orch", "book a flight to paris").content.decode()
    assert '<strong id="top-intent">Travel</strong>' in html
    assert "Routed to Travel" in html and 'id="target-top-intent">Travel<' in html
    faq = ask(analyst_client, "orch", "what are the opening hours").content.decode()
    assert "Routed to Faq" in faq and "9 to 5" in faq


def test_links_reach_only_projects_the_user_may_read(
    deployed: UiProjects,
) -> None:
    # A member of the router alone: the routed intent carries the error a direct
    # query would get, and no target result (as for a user's API key).
    user = make_user("rita-router-only")
    add_member(deployed.orch, user, "viewer")
    client = Client()
    client.force_login(user)
    response = ask(client, "orch", "book a flight to paris")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<strong id="top-intent">Travel</strong>' in html
    assert "was not found" in html.split("Routed to Travel")[1]
    assert 'id="target-top-intent"' not in html


def test_knowledge_base_answers(viewer_client: Client, deployed: UiProjects) -> None:
    html = ask(viewer_client, "kb", "opening hours?").content.decode()
    assert 'id="answers"' in html and "9 to 5" in html


def test_plain_post_renders_the_page(
    viewer_client: Client, deployed: UiProjects
) -> None:
    response = viewer_client.post(
        "/projects/conv/playground/query",
        {"text": "will it rain", "deployment": "production"},
    )
    assert response.status_code == 200
    assert (
        "<html" in response.content.decode()
        and 'id="top-intent"' in response.content.decode()
    )


@pytest.mark.parametrize(
    ("data", "error_id", "message"),
    [
        (
            {"text": "", "deployment": "production"},
            "playground-text-error",
            "Type something",
        ),
        (
            {"text": "   ", "deployment": "production"},
            "playground-text-error",
            "Type something",
        ),
        (
            {"text": "x" * 1001, "deployment": "production"},
            "playground-text-error",
            "At most 1000",
        ),
        (
            {"text": "hello", "deployment": "nope"},
            "playground-deployment-error",
            "Choose one",
        ),
        (
            {"text": "hello", "deployment": ""},
            "playground-deployment-error",
            "Choose one",
        ),
    ],
)
def test_bad_input(
    viewer_client: Client,
    deployed: UiProjects,
    data: dict[str, str],
    error_id: str,
    message: str,
) -> None:
    response = viewer_client.post("/projects/conv/playground/query", data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html.split(f'id="{error_id}"')[1].split("</p>")[0]
    assert 'id="playground-result"' not in html


def test_other_projects_deployments_are_not_reachable(
    viewer_client: Client, outsider_client: Client, client: Client, deployed: UiProjects
) -> None:
    # A deployment name of another project is not one of this project's.
    response = ask(viewer_client, "kb", "book a flight", deployment="production")
    assert response.status_code == 200  # kb has its own production
    assert ask(outsider_client, "conv", "book a flight").status_code == 404
    assert outsider_client.get("/projects/conv/playground/").status_code == 404
    assert client.get("/projects/conv/playground/").status_code == 302


def test_highlight_code_points_and_overlaps() -> None:
    text = "fly 🛫 to Paris from Rome"
    entities = [
        {"category": "City", "offset": 9, "length": 5},
        {"category": "Place", "offset": 9, "length": 2},  # overlaps: listed, not drawn
        {"category": "City", "offset": 20, "length": 4},
    ]
    segments = highlight(text, entities)
    assert [(s.text, s.category) for s in segments] == [
        ("fly 🛫 to ", None),
        ("Paris", "City"),
        (" from ", None),
        ("Rome", "City"),
    ]
