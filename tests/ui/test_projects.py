"""Projects screens: list, create, import (job + progress), overview, export, delete,
sign in/out and the layout; permissions per role on each."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jobs.models import Job
from projects.models import (
    Project,
    ProjectMembership,
    QnaPair,
    ReplacedProject,
    Utterance,
)
from tests.factories import QnaPairFactory, UtteranceFactory
from tests.ui.conftest import HTMX, PASSWORD, UiProjects, UiUsers, make_user

pytestmark = pytest.mark.django_db

ClientFor = Callable[[str], Client]


def conversation_file(name: str = "Imported", kind: str = "Conversation") -> bytes:
    document = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {"projectKind": kind, "projectName": name, "language": "en-us"},
        "assets": {
            "projectKind": kind,
            "intents": [{"category": "None"}, {"category": "Greet"}],
            "utterances": [
                {"text": "hello there", "intent": "Greet", "dataset": "Train"},
                {"text": "good morning", "intent": "Greet"},
            ],
        },
    }
    return json.dumps(document).encode()


QNA_TSV = (
    b"Question\tAnswer\tSource\tMetadata\n"
    b"How do I reset my password?\tUse the reset link.\tfaq\t\n"
    b"Where is the office?\tIn Lisbon.\tfaq\t\n"
)


# ------------------------------------------------------------------ sign in / layout


def test_anonymous_users_are_sent_to_sign_in(
    client: Client, ui_projects: UiProjects
) -> None:
    for url in ["/", "/projects/new", "/projects/import", "/projects/conv/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")


def test_sign_in_page_uses_the_layout_and_signs_in(
    client: Client, users: UiUsers
) -> None:
    page = client.get("/accounts/login/")
    signed_in = client.post(
        "/accounts/login/",
        {"username": "alice-admin", "password": PASSWORD, "next": "/"},
    )

    assert b'href="/static/css/studio.css"' in page.content
    assert b'<label for="id_username">' in page.content
    assert signed_in.status_code == 302
    assert client.get("/").status_code == 200


def test_sign_out_is_a_post_form_in_the_header(admin_client_ui: Client) -> None:
    page = admin_client_ui.get("/").content.decode()
    signed_out = admin_client_ui.post("/accounts/logout/")

    assert 'action="/accounts/logout/"' in page
    assert signed_out.status_code == 302
    assert admin_client_ui.get("/").status_code == 302


def test_layout_serves_htmx_from_static_files_and_sends_csrf_with_it(
    admin_client_ui: Client,
) -> None:
    page = admin_client_ui.get("/").content.decode()

    assert "/static/django_htmx/" in page or "/static/htmx" in page
    assert "cdn" not in page.lower()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert 'id="shortcut-help"' in page
    assert "/static/js/studio.js" in page


# ------------------------------------------------------------------ list


def test_the_list_shows_only_the_users_projects_with_counts(
    client_for: ClientFor, users: UiUsers, ui_projects: UiProjects
) -> None:
    UtteranceFactory.create_batch(3, project=ui_projects.conv)
    QnaPairFactory.create(project=ui_projects.kb)
    hidden = Project.objects.create(name="secret", kind="Conversation", language="en")
    ProjectMembership.objects.create(
        project=hidden, user_id=users.admin.pk, role="admin"
    )
    ProjectMembership.objects.filter(
        user_id=users.viewer.pk, project=ui_projects.orch
    ).delete()

    viewer_page = client_for("viewer").get("/").content.decode()
    outsider_page = client_for("outsider").get("/").content.decode()
    super_page = client_for("superuser").get("/").content.decode()

    assert 'href="/projects/conv/"' in viewer_page
    assert 'href="/projects/kb/"' in viewer_page
    assert "/projects/orch/" not in viewer_page
    assert "secret" not in viewer_page
    row = viewer_page.split(f'id="project-{ui_projects.conv.pk}"')[1].split("</tr>")[0]
    assert '<td class="num">3</td>' in row  # utterances
    kb_row = viewer_page.split(f'id="project-{ui_projects.kb.pk}"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in kb_row  # QnA pairs
    assert "not a member of any project" in outsider_page
    assert "/projects/secret/" in super_page


def test_the_list_uses_a_fixed_number_of_queries(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    users: UiUsers,
    django_assert_max_num_queries: Any,
) -> None:
    for i in range(10):
        project = Project.objects.create(
            name=f"more-{i}", kind="Conversation", language="en"
        )
        ProjectMembership.objects.create(
            project=project, user_id=users.admin.pk, role="viewer"
        )
    with django_assert_max_num_queries(6):
        assert admin_client_ui.get("/").status_code == 200


# ------------------------------------------------------------------ create


def create_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "kind": "Conversation",
        "name": "Travel",
        "language": "en-us",
        "description": "trips",
        "confidence_threshold": "0.4",
    }
    data.update(overrides)
    return data


def test_create_makes_the_creator_admin_and_redirects(
    outsider_client: Client, users: UiUsers
) -> None:
    response = outsider_client.post("/projects/new", create_data())

    project = Project.objects.get(name="Travel")
    assert response.status_code == 302
    assert response["Location"] == "/projects/Travel/"
    assert project.confidence_threshold == 0.4
    assert project.intents.filter(name="None").exists()
    assert ProjectMembership.objects.get(project=project).role == "admin"
    assert ProjectMembership.objects.get(project=project).user_id == users.outsider.pk


def test_create_with_htmx_redirects_the_client(viewer_client: Client) -> None:
    response = viewer_client.post(
        "/projects/new",
        create_data(
            kind="QuestionAnswering",
            name="Faq",
            language="en",
            default_answer="Sorry, no idea.",
        ),
        **HTMX,
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/projects/Faq/"
    assert Project.objects.get(name="Faq").default_answer == "Sorry, no idea."


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "bad name!"}, "name", "name"),
        ({"name": "global"}, "name", "reserved"),
        ({"name": ""}, "name", "required"),
        ({"language": "english please"}, "language", "language"),
        ({"confidence_threshold": "1.5"}, "confidence_threshold", "1"),
        ({"kind": "Other"}, "kind", "valid choice"),
        ({"name": "conv"}, "name", "already exists"),
        ({"name": "CONV"}, "name", "already exists"),
    ],
)
def test_create_refuses_bad_input_next_to_the_field_and_keeps_what_was_typed(
    admin_client_ui: Client, overrides: dict[str, str], field: str, message: str
) -> None:
    before = Project.objects.count()
    data = create_data(**overrides)

    page = admin_client_ui.post("/projects/new", data)
    fragment = admin_client_ui.post("/projects/new", data, **HTMX)

    assert page.status_code == fragment.status_code == 422
    assert Project.objects.count() == before
    html = fragment.content.decode()
    assert "<html" not in html  # the form fragment only
    assert f'id="id_{field}_error"' in html
    error = html.split(f'id="id_{field}_error"')[1].split("</ul>")[0]
    assert message.lower() in error.lower()
    assert 'value="trips"' not in html  # description is a textarea:
    assert "trips</textarea>" in html  # what was typed comes back
    assert 'aria-invalid="true"' in html


def test_an_existing_project_is_never_changed_by_create(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    admin_client_ui.post(
        "/projects/new", create_data(name="conv", description="hijack")
    )

    assert Project.objects.get(name="conv").description == ""


# ------------------------------------------------------------------ import


def test_import_runs_as_a_job_and_makes_the_importer_admin(
    viewer_client: Client, users: UiUsers, django_capture_on_commit_callbacks: Any
) -> None:
    upload = SimpleUploadedFile("p.json", conversation_file(), "application/json")
    with django_capture_on_commit_callbacks(execute=True):
        response = viewer_client.post(
            "/projects/import", {"file_format": "conversation", "file": upload}
        )

    job = Job.objects.get(kind="import")
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.job_id}/"
    assert job.status == "succeeded"
    assert Utterance.objects.filter(project__name="Imported").count() == 2
    assert (
        ProjectMembership.objects.get(project__name="Imported").user_id
        == users.viewer.pk
    )
    page = viewer_client.get(response["Location"]).content.decode()
    assert 'href="/projects/Imported/"' in page
    assert 'value="100"' in page


def test_import_with_htmx_returns_the_polling_progress_fragment(
    admin_client_ui: Client,
) -> None:
    upload = SimpleUploadedFile("faq.tsv", QNA_TSV, "text/tab-separated-values")

    response = admin_client_ui.post(
        "/projects/import",
        {"file_format": "qna-tsv", "name": "Faq", "file": upload},
        **HTMX,
    )  # no on-commit: the job stays queued

    job = Job.objects.get(kind="import")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f'hx-get="/jobs/{job.job_id}/"' in html
    assert 'hx-trigger="every 1s"' in html
    poll = admin_client_ui.get(f"/jobs/{job.job_id}/", **HTMX).content.decode()
    assert "<html" not in poll
    assert "hx-trigger" in poll


def test_a_finished_import_stops_polling_and_links_the_project(
    admin_client_ui: Client, django_capture_on_commit_callbacks: Any
) -> None:
    upload = SimpleUploadedFile("faq.tsv", QNA_TSV, "text/tab-separated-values")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_ui.post(
            "/projects/import",
            {"file_format": "qna-tsv", "name": "Faq", "file": upload},
        )
    job = Job.objects.get(kind="import")

    poll = admin_client_ui.get(f"/jobs/{job.job_id}/", **HTMX).content.decode()

    assert QnaPair.objects.filter(project__name="Faq").count() == 2
    assert "hx-trigger" not in poll
    assert 'href="/projects/Faq/"' in poll


def test_a_failed_import_shows_its_errors(
    admin_client_ui: Client, django_capture_on_commit_callbacks: Any
) -> None:
    broken = json.loads(conversation_file())
    broken["assets"]["utterances"][0]["intent"] = "Nowhere"
    upload = SimpleUploadedFile(
        "p.json", json.dumps(broken).encode(), "application/json"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_ui.post(
            "/projects/import", {"file_format": "conversation", "file": upload}
        )

    page = admin_client_ui.get(response["Location"]).content.decode()
    assert Job.objects.get(kind="import").status == "failed"
    assert "The job failed" in page
    assert "Nowhere" in page
    assert not Project.objects.filter(name="Imported").exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"file_format": "conversation", "content": b"{not json"},
            "file",
            "not valid JSON",
        ),
        ({"file_format": "conversation", "content": b"\xff\xfe\x00"}, "file", "UTF-8"),
        (
            {"file_format": "conversation", "content": b"[1, 2]"},
            "file",
            "exported project",
        ),
        ({"file_format": "qna-tsv", "content": QNA_TSV}, "name", "project name"),
        (
            {"file_format": "qna-tsv", "name": "bad name!", "content": QNA_TSV},
            "name",
            "",
        ),
        ({"file_format": "xml", "content": QNA_TSV}, "file_format", "valid choice"),
        (
            {"file_format": "conversation", "name": "kb", "content": None},
            "file_format",
            "knowledge base",
        ),
        (
            {"file_format": "qna-tsv", "name": "conv", "content": QNA_TSV},
            "name",
            "already used",
        ),
    ],
)
def test_import_refuses_bad_input_next_to_the_field(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    data: dict[str, Any],
    field: str,
    message: str,
) -> None:
    content = data.pop("content") or conversation_file(name="kb")
    data["file"] = SimpleUploadedFile("upload.bin", content)

    response = admin_client_ui.post("/projects/import", data, **HTMX)

    html = response.content.decode()
    assert response.status_code == 422, html
    assert not Job.objects.exists()
    error = html.split(f'id="id_{field}_error"')[1].split("</ul>")[0]
    assert message.lower() in error.lower()


def test_import_may_not_replace_a_project_the_user_does_not_administer(
    client_for: ClientFor, ui_projects: UiProjects
) -> None:
    # A member learns why; a non-member only that the name is not available.
    for role, reason in [
        ("analyst", b"you do not administer"),
        ("outsider", b"not available"),
    ]:
        upload = SimpleUploadedFile("p.json", conversation_file(name="conv"))
        response = client_for(role).post(
            "/projects/import", {"file_format": "conversation", "file": upload}
        )
        assert response.status_code == 422
        assert reason in response.content
    assert not Job.objects.exists()


def _conv_with_data(ui_projects: UiProjects) -> None:
    intent = ui_projects.conv.intents.get(name="None")
    UtteranceFactory.create_batch(5, project=ui_projects.conv, intent=intent)


@pytest.mark.parametrize("confirm", [None, "", "Conv", "conv2"])
def test_replacing_a_project_by_import_asks_for_its_name_first(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Any,
    confirm: str | None,
) -> None:
    _conv_with_data(ui_projects)
    data: dict[str, Any] = {
        "file_format": "conversation",
        "file": SimpleUploadedFile("p.json", conversation_file(name="conv")),
    }
    if confirm is not None:
        data["confirm"] = confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_ui.post("/projects/import", data, **HTMX)

    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_confirm_error"' in html
    assert "importing replaces all of its content. Type conv to confirm." in html
    assert "restorable from its page for 7 days" in html
    assert Utterance.objects.filter(project__name="conv").count() == 5
    assert not Job.objects.exists()
    assert not ReplacedProject.objects.exists()


def test_an_admin_may_replace_their_project_by_import_and_restore_it(
    admin_client_ui: Client,
    client_for: ClientFor,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _conv_with_data(ui_projects)
    upload = SimpleUploadedFile("p.json", conversation_file(name="conv"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_ui.post(
            "/projects/import",
            {"file_format": "conversation", "file": upload, "confirm": "conv"},
        )

    assert response.status_code == 302
    assert Utterance.objects.filter(project__name="conv").count() == 2
    (snapshot,) = ReplacedProject.objects.all()
    overview = admin_client_ui.get("/projects/conv/").content.decode()
    assert "5 utterances in 1 intent" in overview
    restore = f"/projects/conv/restore/{snapshot.pk}"
    assert restore in overview
    analyst = client_for("analyst")
    assert "5 utterances in 1 intent" in analyst.get("/projects/conv/").content.decode()
    assert restore not in analyst.get("/projects/conv/").content.decode()
    assert analyst.post(restore).status_code in (403, 404)

    with django_capture_on_commit_callbacks(execute=True):
        restored = admin_client_ui.post(restore)

    assert restored.status_code == 302
    job = Job.objects.get(job_id=restored["Location"].split("/")[2])
    assert job.status == "succeeded", job.errors
    assert Utterance.objects.filter(project__name="conv").count() == 5


def test_job_pages_are_only_for_their_starter_or_project_members(
    client_for: ClientFor, ui_projects: UiProjects
) -> None:
    admin = client_for("admin")
    upload = SimpleUploadedFile("p.json", conversation_file(name="Brand-new"))
    job_url = admin.post(
        "/projects/import", {"file_format": "conversation", "file": upload}
    )["Location"]

    assert admin.get(job_url).status_code == 200
    assert client_for("viewer").get(job_url).status_code == 404  # project not there yet
    assert client_for("outsider").get(job_url).status_code == 404
    assert client_for("outsider").get("/jobs/nope/").status_code == 404


# ------------------------------------------------------------------ overview / export


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer", "superuser"])
def test_members_see_the_overview_with_tabs_for_the_kind(
    client_for: ClientFor, ui_projects: UiProjects, role: str
) -> None:
    client = client_for(role)

    conv = client.get("/projects/conv/").content.decode()
    kb = client.get("/projects/kb/").content.decode()
    orch = client.get("/projects/orch/").content.decode()

    assert 'href="/projects/conv/data/"' in conv
    assert 'href="/projects/conv/kb/"' not in conv
    assert 'href="/projects/conv/orchestration/"' not in conv
    assert 'href="/projects/kb/kb/"' in kb
    assert 'href="/projects/kb/data/"' not in kb
    assert 'href="/projects/orch/orchestration/"' in orch
    assert 'aria-current="page"' in conv
    assert ("Delete…" in conv) == (role in ("admin", "superuser"))


def test_non_members_get_404_for_every_project_page(
    outsider_client: Client, ui_projects: UiProjects
) -> None:
    for url in [
        "/projects/conv/",
        "/projects/conv/export",
        "/projects/conv/delete",
        "/projects/kb/",
        "/projects/missing/",
    ]:
        assert outsider_client.get(url).status_code == 404, url
        assert outsider_client.get(url, **HTMX).status_code == 404, url


def test_export_downloads_azure_json_and_kb_tsv(
    viewer_client: Client, ui_projects: UiProjects
) -> None:
    UtteranceFactory.create(project=ui_projects.conv, text="hello")
    QnaPairFactory.create(project=ui_projects.kb, questions=["q?"], answer="a.")

    conv = viewer_client.get("/projects/conv/export")
    kb_json = viewer_client.get("/projects/kb/export?format=json")
    kb_tsv = viewer_client.get("/projects/kb/export?format=tsv")

    assert conv["Content-Disposition"] == 'attachment; filename="conv.json"'
    assert json.loads(conv.content)["assets"]["utterances"][0]["text"] == "hello"
    assert json.loads(kb_json.content)["assets"]["qnas"][0]["answer"] == "a."
    assert kb_tsv["Content-Type"].startswith("text/tab-separated-values")
    assert b"q?" in kb_tsv.content
    assert viewer_client.get("/projects/conv/export?format=xml").status_code == 404


# ------------------------------------------------------------------ delete


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_may_delete(
    client_for: ClientFor, ui_projects: UiProjects, role: str
) -> None:
    client = client_for(role)

    assert client.get("/projects/conv/delete").status_code == 403
    assert client.post("/projects/conv/delete", {"confirm": "conv"}).status_code == 403
    assert Project.objects.filter(name="conv").exists()


def test_delete_needs_the_name_typed_and_runs_as_a_job(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Any,
) -> None:
    wrong = admin_client_ui.post("/projects/conv/delete", {"confirm": "con"}, **HTMX)
    with django_capture_on_commit_callbacks(execute=True):
        right = admin_client_ui.post(
            "/projects/conv/delete", {"confirm": "conv"}, **HTMX
        )

    assert wrong.status_code == 422
    assert b'id="id_confirm_error"' in wrong.content
    assert b'value="con"' in wrong.content
    assert right.status_code == 200
    assert b'hx-get="/jobs/' in right.content  # the progress fragment
    assert not Project.objects.filter(name="conv").exists()
    job = Job.objects.get(kind="project_delete")
    page = admin_client_ui.get(f"/jobs/{job.job_id}/").content.decode()
    assert "The project was deleted" in page


def test_a_second_deletion_while_one_is_queued_is_refused(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    admin_client_ui.post("/projects/conv/delete", {"confirm": "conv"})

    again = admin_client_ui.post("/projects/conv/delete", {"confirm": "conv"})

    assert again.status_code == 422
    assert b"in progress" in again.content


def test_a_deactivated_member_sees_nothing(
    users: UiUsers, ui_projects: UiProjects
) -> None:
    user = make_user("gone")
    ProjectMembership.objects.create(
        project=ui_projects.conv, user_id=user.pk, role="admin"
    )
    client = Client()
    client.force_login(user)
    user.is_active = False
    user.save()

    assert client.get("/projects/conv/").status_code in (302, 404)


def test_forbidden_and_not_found_pages_use_the_layout(
    viewer_client: Client, ui_projects: UiProjects, settings: Any
) -> None:
    settings.DEBUG = False

    forbidden = viewer_client.get("/projects/conv/delete")
    missing = viewer_client.get("/projects/nowhere/")

    assert forbidden.status_code == 403
    assert b"does not allow this action (admin)" in forbidden.content
    assert b"/static/css/studio.css" in forbidden.content
    assert missing.status_code == 404
    assert b"not a member of" in missing.content


def _ui_project_routes() -> list[str]:
    """Every studio URL of one project (all areas, all helpers), with the project
    ``conv`` and placeholder values for the other parameters."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: list[Any], prefix: str) -> list[str]:
        found: list[str] = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))
        return found

    ui = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "ui"
    )
    routes = []
    for route in walk(ui.url_patterns, "/"):
        if "<str:name>" not in route:
            continue
        url = route.replace("<str:name>", "conv")
        url = re.sub(r"<int:[a-z_]+>", "1", url)
        url = re.sub(r"<(?:str|slug|path):[a-z_]+>", "x", url)
        routes.append(url)
    return routes


def test_every_project_screen_is_a_404_for_non_members_and_needs_sign_in(
    outsider_client: Client, client: Client, ui_projects: UiProjects
) -> None:
    """View by view, every helper's: a non-member learns nothing about a project
    (404, or 405 for a method the view never takes, whoever asks), and anonymous
    users are sent to sign in."""
    routes = _ui_project_routes()
    leaks = []
    for url in routes:
        for method in ("get", "post"):
            for extra in ({}, HTMX):
                answer = getattr(outsider_client, method)(url, **extra).status_code
                if answer not in (404, 405):
                    leaks.append(f"outsider {method.upper()} {url} -> {answer}")
                anonymous = getattr(client, method)(url, **extra)
                to_sign_in = anonymous.status_code == 302 or (
                    extra and "HX-Redirect" in anonymous
                )
                if not to_sign_in and anonymous.status_code != 405:
                    leaks.append(
                        f"anonymous {method.upper()} {url} -> {anonymous.status_code}"
                    )

    assert len(routes) >= 8
    assert leaks == []


def test_an_import_larger_than_the_api_body_limit_is_refused_unread(
    admin_client_ui: Client, settings: Any
) -> None:
    content = conversation_file()
    settings.STUDIO_MAX_REQUEST_BYTES = len(content) - 1  # one limit, studio and API
    upload = SimpleUploadedFile("p.json", content)

    response = admin_client_ui.post(
        "/projects/import", {"file_format": "conversation", "file": upload}, **HTMX
    )

    assert response.status_code == 422
    assert b'id="id_file_error"' in response.content
    assert f"the limit is 0.0 MB ({len(content) - 1:,} bytes)".encode() in (
        response.content
    )
    assert not Job.objects.exists()


def test_an_htmx_request_without_a_session_is_sent_to_sign_in_by_the_client(
    client: Client, ui_projects: UiProjects
) -> None:
    poll = client.get(
        "/projects/conv/settings/", HTTP_HX_CURRENT_URL="http://testserver/x/", **HTMX
    )
    job = client.get("/jobs/abc/", **HTMX)

    assert poll.status_code == 200
    assert poll["HX-Redirect"] == "/accounts/login/?next=/x/"
    assert job["HX-Redirect"] == "/accounts/login/?next=/jobs/abc/"
