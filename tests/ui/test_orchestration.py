"""Configure orchestration: linkable tasks (only projects the user can read), linking
one or several, Linked / Unlinked status, target deployments, unlink, routing
intents and external HTTP / LUIS targets. Pages, htmx fragments, roles, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from projects.models import Intent, Project
from studio.crypto import secret_decrypt
from tests.factories import KbProjectFactory, ProjectFactory
from tests.ui.conftest import HTMX, UiProjects, UiUsers, add_member
from training.models import Deployment

pytestmark = pytest.mark.django_db

BASE = "/projects/orch/orchestration/"


def deploy(project: Project, name: str) -> None:
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


def link_data(**rows: tuple[str, str]) -> dict[str, object]:
    data: dict[str, object] = {"task": list(rows)}
    for name, (intent, deployment) in rows.items():
        data[f"intent-{name}"] = intent
        data[f"deployment-{name}"] = deployment
    return data


def test_page_shows_readable_tasks_with_status_and_deployments(
    viewer_client: Client, ui_projects: UiProjects
) -> None:
    ProjectFactory.create(name="secret-clu")  # nobody here is a member
    deploy(ui_projects.conv, "prod")
    response = viewer_client.get(BASE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="task-conv"' in html and 'id="task-kb"' in html
    assert "secret-clu" not in html
    assert 'id="task-orch"' not in html  # orchestration projects are not tasks
    assert "Unlinked" in html
    assert 'name="task"' not in html  # viewers get no form


def test_not_deployed_yet_is_said(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    html = admin_client_ui.get(BASE).content.decode()
    row = html[html.index('id="task-conv"') :]
    assert "not deployed yet" in row[: row.index("</tr>")]
    deploy(ui_projects.conv, "prod")
    html = admin_client_ui.get(BASE).content.decode()
    row = html[html.index('id="task-conv"') :]
    row = row[: row.index("</tr>")]
    assert "not deployed yet" not in row
    # Deployed: the deployment is chosen from the project's deployments.
    assert '<select id="deployment-conv" name="deployment-conv"' in row
    assert '<option value="prod" selected>' in row
    deploy(ui_projects.conv, "production")
    html = admin_client_ui.get(BASE).content.decode()
    row = html[html.index('id="task-conv"') :]
    row = row[: row.index("</tr>")]
    assert '<option value="production" selected>' in row
    assert '<option value="prod">' in row
    assert 'type="text" id="deployment-conv"' not in row


def test_roles_and_kinds(
    ui_projects: UiProjects,
    viewer_client: Client,
    outsider_client: Client,
    client: Client,
) -> None:
    assert outsider_client.get(BASE).status_code == 404
    assert (
        outsider_client.post(BASE + "link", link_data(conv=("C", "p"))).status_code
        == 404
    )
    assert (
        viewer_client.post(BASE + "link", link_data(conv=("C", "p"))).status_code == 403
    )
    assert (
        viewer_client.post(BASE + "intents/add", {"category": "R"}).status_code == 403
    )
    assert viewer_client.get("/projects/conv/orchestration/").status_code == 404
    anonymous = client.get(BASE)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert not ui_projects.orch.intents.exclude(name="None").exists()


def test_link_several_with_htmx(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    deploy(ui_projects.conv, "prod")
    response = analyst_client.post(
        BASE + "link",
        link_data(conv=("Travel", "prod"), kb=("Faq", "production")),
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="orchestration">')
    travel = ui_projects.orch.intents.get(name="Travel")
    assert (travel.target_kind, travel.target_project_name) == ("Conversation", "conv")
    assert travel.target_deployment_name == "prod"
    faq = ui_projects.orch.intents.get(name="Faq")
    assert (faq.target_kind, faq.target_project_name) == ("QuestionAnswering", "kb")
    row = html[html.index('id="task-conv"') :]
    assert "Linked" in row[: row.index("</tr>")] and "as Travel" in row


def test_link_plain_post_redirects(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(BASE + "link", link_data(kb=("kb", "production")))
    assert response.status_code == 302 and response["Location"] == BASE
    assert ui_projects.orch.intents.filter(
        name="kb", target_kind="QuestionAnswering"
    ).exists()


def test_link_errors_are_per_row_and_nothing_is_linked(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(
        BASE + "link",
        link_data(conv=("Bad?", ""), kb=("Fine", "production")),
        **HTMX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="intent-conv-error"' in html and "forbidden character" in html
    # Typed values and checks survive.
    assert 'value="Bad?"' in html
    assert 'value="conv" id="task-check-conv" checked' in html
    assert not ui_projects.orch.intents.filter(name="Fine").exists()


def test_missing_deployment_is_shown_on_the_row(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(
        BASE + "link", link_data(conv=("Travel", "")), **HTMX
    )
    assert response.status_code == 422
    assert 'id="deployment-conv-error"' in response.content.decode()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({}, "at least one task"),
        ({"None": ("None", "prod")}, "No project you can read"),
    ],
)
def test_link_needs_a_readable_choice(
    analyst_client: Client, ui_projects: UiProjects, rows: dict, message: str
) -> None:
    response = analyst_client.post(BASE + "link", link_data(**rows), **HTMX)
    assert response.status_code == 422
    assert message in response.content.decode()


def test_cannot_link_a_project_the_user_cannot_read(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    KbProjectFactory.create(name="hidden-kb")
    response = analyst_client.post(BASE + "link", link_data(**{"hidden-kb": ("H", "")}))
    assert response.status_code == 422
    assert (
        "No project you can read is called &#x27;hidden-kb&#x27;"
        in response.content.decode()
    )
    assert not ui_projects.orch.intents.filter(name="H").exists()


def test_duplicate_intent_name_is_refused(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    Intent.objects.create(project=ui_projects.orch, name="Taken")
    response = analyst_client.post(
        BASE + "link", link_data(kb=("Taken", "production")), **HTMX
    )
    assert response.status_code == 422
    assert "already exists" in response.content.decode()


def test_routing_intent_and_external_targets(
    analyst_client: Client, admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(
        BASE + "intents/add", {"category": "Chitchat", "target_kind": ""}, **HTMX
    )
    assert response.status_code == 200
    assert not ui_projects.orch.intents.get(name="Chitchat").is_linked
    # External targets are for admins (test_orchestration_secrets.py).
    response = admin_client_ui.post(
        BASE + "intents/add",
        {
            "category": "Weather",
            "target_kind": "Http",
            "http_url": "https://weather.test/predict",
            "http_headers": "X-Api: 1\nX-Other: two",
            "http_key": "s3cret",
        },
    )
    assert response.status_code == 302
    weather = ui_projects.orch.intents.get(name="Weather")
    assert weather.http_url == "https://weather.test/predict"
    headers = {k: secret_decrypt(v) for k, v in weather.http_headers.items()}
    assert headers == {"X-Api": "1", "X-Other": "two"}
    assert secret_decrypt(weather.http_key) == "s3cret"
    response = admin_client_ui.post(
        BASE + "intents/add",
        {
            "category": "Legacy",
            "target_kind": "Luis",
            "luis_app_id": "app-1",
            "luis_slot_name": "production",
        },
        **HTMX,
    )
    assert response.status_code == 200
    legacy = ui_projects.orch.intents.get(name="Legacy")
    assert (legacy.target_kind, legacy.luis_app_id) == ("Luis", "app-1")
    html = analyst_client.get(BASE).content.decode()
    assert "routing intent" in html and "weather.test" in html and "app-1" in html


@pytest.mark.parametrize(
    ("data", "error_id"),
    [
        ({"category": "", "target_kind": ""}, "orch-add-name-error"),
        ({"category": "x" * 51, "target_kind": ""}, "orch-add-name-error"),
        (
            {"category": "W", "target_kind": "Http", "http_url": "ftp://x"},
            "orch-add-url-error",
        ),
        (
            {
                "category": "W",
                "target_kind": "Http",
                "http_url": "https://x.test",
                "http_headers": "no colon here",
            },
            "orch-add-headers-error",
        ),
        (
            {"category": "W", "target_kind": "Luis", "luis_app_id": ""},
            "orch-add-app-error",
        ),
        ({"category": "W", "target_kind": "Conversation"}, "orch-add-kind-error"),
        ({"category": "W", "target_kind": "Teleport"}, "orch-add-kind-error"),
    ],
)
def test_add_intent_bad_input(
    admin_client_ui: Client, ui_projects: UiProjects, data: dict, error_id: str
) -> None:
    # An admin: LUIS and HTTP targets are theirs (test_orchestration_secrets.py).
    before = ui_projects.orch.intents.count()
    response = admin_client_ui.post(BASE + "intents/add", data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="{error_id}"' in html
    assert f'value="{data["category"]}"' in html
    assert ui_projects.orch.intents.count() == before


def test_change_target_deployment_and_unlink(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    deploy(ui_projects.conv, "prod")
    deploy(ui_projects.conv, "beta")
    analyst_client.post(BASE + "link", link_data(conv=("Travel", "prod")))
    travel = ui_projects.orch.intents.get(name="Travel")
    target_url = f"{BASE}intents/{travel.pk}/target"
    form = analyst_client.get(target_url, **HTMX)
    assert form.status_code == 200
    html = form.content.decode()
    assert html.lstrip().startswith(f'<tr id="orch-intent-{travel.pk}"')
    assert '<option value="conv" selected>' in html
    response = analyst_client.post(
        target_url,
        {
            "target_kind": "Conversation",
            "project_name": "conv",
            "deployment_name": "beta",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert "beta" in response.content.decode()
    travel.refresh_from_db()
    assert travel.target_deployment_name == "beta"
    # The plain page of the same form works too.
    assert "<html" in analyst_client.get(target_url).content.decode()
    response = analyst_client.post(f"{BASE}intents/{travel.pk}/unlink", **HTMX)
    assert response.status_code == 200
    travel.refresh_from_db()
    assert not travel.is_linked
    assert ui_projects.orch.intents.filter(name="Travel").exists()
    row = analyst_client.get(f"{BASE}intents/{travel.pk}/", **HTMX).content.decode()
    assert "Unlinked" in row


def test_change_target_bad_input_keeps_the_link(
    analyst_client: Client,
    admin_client_ui: Client,
    ui_projects: UiProjects,
    users: UiUsers,
) -> None:
    analyst_client.post(BASE + "link", link_data(conv=("Travel", "prod")))
    travel = ui_projects.orch.intents.get(name="Travel")
    target_url = f"{BASE}intents/{travel.pk}/target"
    hidden = ProjectFactory.create(name="hidden")
    for data, error_id in [
        (
            {
                "target_kind": "Conversation",
                "project_name": "conv",
                "deployment_name": "",
            },
            f"target-{travel.pk}-deployment-error",
        ),
        (
            {
                "target_kind": "Conversation",
                "project_name": "hidden",
                "deployment_name": "x",
            },
            f"target-{travel.pk}-project-error",
        ),
        (
            {"target_kind": "QuestionAnswering", "project_name": "conv"},
            f"target-{travel.pk}-project-error",
        ),
        (
            {"target_kind": "Http", "http_url": "not a url"},
            f"target-{travel.pk}-url-error",
        ),
    ]:
        # HTTP targets are an admin's; the others the analyst's.
        client = admin_client_ui if data["target_kind"] == "Http" else analyst_client
        response = client.post(target_url, data, **HTMX)
        assert response.status_code == 422, data
        assert f'id="{error_id}"' in response.content.decode(), data
    travel.refresh_from_db()
    assert (travel.target_project_name, travel.target_deployment_name) == (
        "conv",
        "prod",
    )
    # Once the analyst can read it, the project can be linked.
    add_member(hidden, users.analyst, "viewer")
    response = analyst_client.post(
        target_url,
        {
            "target_kind": "Conversation",
            "project_name": "hidden",
            "deployment_name": "x",
        },
    )
    assert response.status_code == 302
    travel.refresh_from_db()
    assert travel.target_project_name == "hidden"


def test_link_to_a_missing_project_is_flagged(
    viewer_client: Client, ui_projects: UiProjects
) -> None:
    Intent.objects.create(
        project=ui_projects.orch,
        name="Ghost",
        target_kind="Conversation",
        target_project_name="gone",
        target_deployment_name="prod",
    )
    html = viewer_client.get(BASE).content.decode()
    assert "project not found" in html


def test_schema_tab_of_an_orchestration_project_marks_linked_intents(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    analyst_client.post(BASE + "link", link_data(kb=("Faq", "production")))
    html = analyst_client.get("/projects/orch/schema/").content.decode()
    table = html[html.index('id="intent-table"') :]
    row = table[table.index("Faq") :]
    assert "Linked" in row[: row.index("</tr>")]


def test_delete_from_the_orchestration_page_comes_back_to_it(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    intent = Intent.objects.create(project=ui_projects.orch, name="Old")
    html = analyst_client.get(BASE).content.decode()
    delete_url = f"/projects/orch/schema/intents/{intent.pk}/delete?from=orchestration"
    assert delete_url in html
    page = analyst_client.get(delete_url).content.decode()
    assert f'action="{delete_url}"' in page
    response = analyst_client.post(delete_url)
    assert response.status_code == 302 and response["Location"] == BASE
    assert not Intent.objects.filter(pk=intent.pk).exists()
    other = Intent.objects.create(project=ui_projects.orch, name="Other")
    response = analyst_client.post(
        f"/projects/orch/schema/intents/{other.pk}/delete?from=https://evil.test/"
    )
    assert response["Location"] == "/projects/orch/schema/"
