"""Settings screen: general settings and members (admins only), a link to the account
page for API keys; page and htmx fragments, roles, bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from projects.models import Project, ProjectMembership
from studio.models import ApiKey
from tests.ui.conftest import HTMX, UiProjects, UiUsers

pytestmark = pytest.mark.django_db

ClientFor = Callable[[str], Client]
URL = "/projects/conv/settings/"


def membership(users: UiUsers, role: str, project: str = "conv") -> ProjectMembership:
    return ProjectMembership.objects.get(
        user_id=users.get(role).pk, project__name=project
    )


# ------------------------------------------------------------------ page


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
def test_every_member_sees_settings_but_only_admins_get_the_forms(
    client_for: ClientFor, ui_projects: UiProjects, role: str
) -> None:
    html = client_for(role).get(URL).content.decode()

    is_admin = role == "admin"
    assert ('action="/projects/conv/settings/general"' in html) == is_admin
    assert ('id="settings-members"' in html) == is_admin
    assert 'id="settings-keys"' in html
    assert 'href="/projects/conv/settings/"' in html  # the tab
    if not is_admin:
        assert "Only the project's admins change settings." in html


def test_non_members_and_anonymous_users_get_nothing(
    outsider_client: Client, client: Client, ui_projects: UiProjects
) -> None:
    posts = ["general", "members/add"]

    assert outsider_client.get(URL).status_code == 404
    assert outsider_client.get(URL, **HTMX).status_code == 404
    for post in posts:
        assert outsider_client.post(URL + post, {"name": "x"}).status_code == 404
        assert client.post(URL + post, {"name": "x"}).status_code == 302
    assert client.get(URL)["Location"].startswith("/accounts/login/")


def test_kb_settings_have_a_default_answer_and_no_threshold(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    html = admin_client_ui.get("/projects/kb/settings/").content.decode()

    assert 'name="default_answer"' in html
    assert 'name="confidence_threshold"' not in html


# ------------------------------------------------------------------ general


def general(**overrides: Any) -> dict[str, Any]:
    data = {
        "language": "en-gb",
        "description": "Travel bot",
        "confidence_threshold": "0.35",
    }
    data.update(overrides)
    return data


def test_admin_saves_settings_with_a_plain_post(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    response = admin_client_ui.post(URL + "general", general(multilingual="on"))

    project = Project.objects.get(name="conv")
    assert response.status_code == 302
    assert response["Location"] == URL
    assert (project.language, project.description) == ("en-gb", "Travel bot")
    assert project.confidence_threshold == 0.35
    assert project.multilingual is True
    assert "Settings saved." in admin_client_ui.get(URL).content.decode()


def test_admin_saves_settings_with_htmx_and_gets_the_section(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    response = admin_client_ui.post(URL + "general", general(), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="settings-general"')
    assert "Settings saved." in html
    assert Project.objects.get(name="conv").description == "Travel bot"


def test_kb_default_answer_is_saved(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    admin_client_ui.post(
        "/projects/kb/settings/general",
        {"language": "en", "default_answer": "No answer found."},
    )

    assert Project.objects.get(name="kb").default_answer == "No answer found."


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"language": "not a language"}, "language"),
        ({"language": ""}, "language"),
        ({"confidence_threshold": "2"}, "confidence_threshold"),
        ({"confidence_threshold": "-0.1"}, "confidence_threshold"),
        ({"confidence_threshold": "abc"}, "confidence_threshold"),
        ({"description": "x" * 2001}, "description"),
    ],
)
def test_bad_settings_are_refused_next_to_the_field_keeping_the_input(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    overrides: dict[str, str],
    field: str,
) -> None:
    data = general(**overrides)

    fragment = admin_client_ui.post(URL + "general", data, **HTMX)
    page = admin_client_ui.post(URL + "general", data)

    html = fragment.content.decode()
    assert fragment.status_code == page.status_code == 422
    assert f'id="id_{field}_error"' in html
    assert "<html" not in html
    assert "<html" in page.content.decode()
    if field != "description":
        assert "Travel bot</textarea>" in html
    project = Project.objects.get(name="conv")
    assert (project.language, project.description) == ("en-us", "")


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_change_settings(
    client_for: ClientFor, ui_projects: UiProjects, role: str
) -> None:
    response = client_for(role).post(URL + "general", general())

    assert response.status_code == 403
    assert Project.objects.get(name="conv").description == ""


# ------------------------------------------------------------------ members


def test_admin_adds_a_member_by_user_name_or_email(
    admin_client_ui: Client, users: UiUsers, ui_projects: UiProjects
) -> None:
    ProjectMembership.objects.filter(user_id=users.viewer.pk).delete()

    by_name = admin_client_ui.post(
        URL + "members/add", {"user": "oscar-outsider", "role": "analyst"}, **HTMX
    )
    by_email = admin_client_ui.post(
        URL + "members/add", {"user": "VIC-viewer@example.test", "role": "viewer"}
    )

    assert by_name.status_code == 200
    assert "oscar-outsider added as Analyst." in by_name.content.decode()
    assert by_email.status_code == 302
    assert membership(users, "outsider").role == "analyst"
    assert membership(users, "viewer").role == "viewer"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"user": "nobody", "role": "viewer"}, "user", "No active user"),
        ({"user": "", "role": "viewer"}, "user", "required"),
        ({"user": "ana-analyst", "role": "viewer"}, "user", "already a member"),
        ({"user": "oscar-outsider", "role": "owner"}, "role", "valid choice"),
    ],
)
def test_bad_member_input_is_refused_next_to_the_field(
    admin_client_ui: Client,
    users: UiUsers,
    ui_projects: UiProjects,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = ProjectMembership.objects.count()

    response = admin_client_ui.post(URL + "members/add", data, **HTMX)

    html = response.content.decode()
    assert response.status_code == 422
    assert ProjectMembership.objects.count() == before
    error = html.split(f'id="id_{field}_error"')[1].split("</ul>")[0]
    assert message in error
    if data["user"]:
        assert f'value="{data["user"]}"' in html


def test_admin_changes_a_role_and_removes_a_member(
    admin_client_ui: Client, users: UiUsers, ui_projects: UiProjects
) -> None:
    viewer = membership(users, "viewer")
    analyst = membership(users, "analyst")

    changed = admin_client_ui.post(
        URL + f"members/{viewer.pk}/role", {"role": "analyst"}, **HTMX
    )
    removed = admin_client_ui.post(URL + f"members/{analyst.pk}/remove")

    assert changed.status_code == 200
    assert "vic-viewer is now Analyst." in changed.content.decode()
    assert membership(users, "viewer").role == "analyst"
    assert removed.status_code == 302
    assert not ProjectMembership.objects.filter(pk=analyst.pk).exists()


def test_the_last_admin_can_be_neither_demoted_nor_removed(
    admin_client_ui: Client, users: UiUsers, ui_projects: UiProjects
) -> None:
    admin = membership(users, "admin")

    demoted = admin_client_ui.post(
        URL + f"members/{admin.pk}/role", {"role": "viewer"}, **HTMX
    )
    removed = admin_client_ui.post(URL + f"members/{admin.pk}/remove", **HTMX)

    assert demoted.status_code == removed.status_code == 422
    assert "must keep at least one admin" in demoted.content.decode()
    assert membership(users, "admin").role == "admin"


def test_an_admin_may_leave_when_another_admin_remains(
    admin_client_ui: Client, users: UiUsers, ui_projects: UiProjects
) -> None:
    ProjectMembership.objects.filter(pk=membership(users, "analyst").pk).update(
        role="admin"
    )
    own = membership(users, "admin")

    response = admin_client_ui.post(URL + f"members/{own.pk}/remove", **HTMX)

    assert response["HX-Redirect"] == "/"
    assert admin_client_ui.get(URL).status_code == 404


def test_members_of_another_project_cannot_be_changed_through_this_one(
    admin_client_ui: Client, users: UiUsers, ui_projects: UiProjects
) -> None:
    other = membership(users, "viewer", project="orch")

    response = admin_client_ui.post(URL + f"members/{other.pk}/role", {"role": "admin"})

    assert response.status_code == 404
    assert membership(users, "viewer", project="orch").role == "viewer"


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_manage_members(
    client_for: ClientFor, users: UiUsers, ui_projects: UiProjects, role: str
) -> None:
    client = client_for(role)
    viewer = membership(users, "viewer")

    added = client.post(
        URL + "members/add", {"user": "oscar-outsider", "role": "admin"}
    )
    promoted = client.post(URL + f"members/{viewer.pk}/role", {"role": "admin"})
    removed = client.post(URL + f"members/{viewer.pk}/remove")

    assert added.status_code == promoted.status_code == removed.status_code == 403
    assert membership(users, "viewer").role == "viewer"
    assert not ProjectMembership.objects.filter(user_id=users.outsider.pk).exists()


# ------------------------------------------------------------------ API keys


def test_settings_link_to_the_account_page_for_api_keys(
    viewer_client: Client, ui_projects: UiProjects
) -> None:
    html = viewer_client.get(URL).content.decode()
    section = html.split('id="settings-keys"')[1].split("</section>")[0]

    assert 'href="/account/"' in section
    assert "keys/create" not in html
    assert viewer_client.post(URL + "keys/create", {"name": "bot"}).status_code == 404
    assert not ApiKey.objects.exists()
