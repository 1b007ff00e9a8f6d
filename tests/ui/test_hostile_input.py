"""The studio refuses what the API refuses, in plain language next to the field:
look-alike and invisible names, dot-only project names, NUL characters in form
fields, and files holding lone surrogates, NUL characters or absurd nesting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jobs.models import Job
from projects.models import Intent, Project, Utterance
from tests.ui.conftest import HTMX, UiProjects

pytestmark = pytest.mark.django_db


def field_error(html: str, field_id: str) -> str:
    return html.split(f'id="{field_id}"')[1].split("</ul>")[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("none", "too much like intent &#x27;None&#x27;"),
        ("\uff2e\uff4f\uff4e\uff45", "too much like intent &#x27;None&#x27;"),
        ("Bo\u200bok", "invisible character U+200B (ZERO WIDTH SPACE)"),
        ("a\x00b", "invisible character U+0000 (a control character)"),
    ],
)
def test_intent_names_that_look_like_another_or_hide_characters_are_refused(
    analyst_client: Client, ui_projects: UiProjects, name: str, message: str
) -> None:
    before = Intent.objects.count()
    response = analyst_client.post(
        "/projects/conv/schema/intents/add", {"category": name}, **HTMX
    )
    assert response.status_code == 422
    error = field_error(response.content.decode(), "intent-add-name-error")
    assert message in error
    assert "category" not in error  # plain language, not an API field path
    assert Intent.objects.count() == before


@pytest.mark.parametrize(
    ("name", "message"), [("...", "dots only"), ("CONV", "already exists")]
)
def test_dot_only_and_case_variant_project_names_are_refused(
    admin_client_ui: Client, ui_projects: UiProjects, name: str, message: str
) -> None:
    response = admin_client_ui.post(
        "/projects/new",
        {"name": name, "kind": "Conversation", "language": "en"},
        **HTMX,
    )
    assert response.status_code == 422
    assert message in field_error(response.content.decode(), "id_name_error")
    assert Project.objects.count() == 3


def test_a_nul_in_a_form_field_is_refused_next_to_it(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(
        "/projects/conv/data/add/", {"text": "hi\x00 there", "intent": "None"}, **HTMX
    )
    assert response.status_code == 422
    assert "Null characters are not allowed" in response.content.decode()
    assert not Utterance.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"metadata": {"description": "\\ud800"}}', "lone UTF-16 surrogate"),
        (b'{"metadata": {"description": "a\\u0000b"}}', "NUL character"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper than"),
    ],
)
def test_an_import_file_with_surrogates_nul_or_deep_nesting_is_refused(
    admin_client_ui: Client, ui_projects: UiProjects, content: bytes, message: str
) -> None:
    upload = SimpleUploadedFile("p.json", content, "application/json")
    response = admin_client_ui.post(
        "/projects/import",
        {"file_format": "conversation", "name": "fresh", "file": upload},
        **HTMX,
    )
    assert response.status_code == 422
    assert message in field_error(response.content.decode(), "id_file_error")
    assert not Job.objects.exists()


def test_a_tsv_import_with_a_nul_is_refused(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    tsv = b"Question\tAnswer\tSource\tMetadata\nq\ta\x00b\tfaq\t\n"
    upload = SimpleUploadedFile("kb.tsv", tsv, "text/tab-separated-values")
    response = admin_client_ui.post(
        "/projects/import",
        {"file_format": "qna-tsv", "name": "freshkb", "file": upload},
        **HTMX,
    )
    assert response.status_code == 422
    assert "NUL character" in response.content.decode()
    assert not Job.objects.exists()


def test_an_utterance_upload_with_a_lone_surrogate_adds_nothing(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    content = b'[{"text": "hi \\udc00", "intent": "None", "entities": []}]'
    upload = SimpleUploadedFile("u.json", content, "application/json")
    response = analyst_client.post(
        "/projects/conv/data/upload/", {"file": upload}, **HTMX
    )
    assert response.status_code == 422
    assert "lone UTF-16 surrogate" in response.content.decode()
    assert not Utterance.objects.exists()


def test_a_nul_in_a_studio_url_is_400(
    viewer_client: Client, ui_projects: UiProjects
) -> None:
    assert viewer_client.get("/projects/conv/data/?q=a%00b").status_code == 400
    assert viewer_client.get("/projects/kb/kb/?q=%00").status_code == 400


def test_an_import_under_a_case_variant_of_a_project_name_is_refused(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    content = b'{"metadata": {"projectKind": "Conversation"}, "assets": {}}'
    upload = SimpleUploadedFile("p.json", content, "application/json")
    response = admin_client_ui.post(
        "/projects/import",
        {"file_format": "conversation", "name": "CONV", "file": upload},
        **HTMX,
    )
    assert response.status_code == 422
    error = field_error(response.content.decode(), "id_name_error")
    assert "different letter case" in error
    assert not Job.objects.exists()


class BodyRead(AssertionError):
    """The body of a request refused by its announced size was parsed."""


@pytest.fixture
def body_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.http import multipartparser

    def parse(self: object) -> None:
        raise BodyRead

    monkeypatch.setattr(multipartparser.MultiPartParser, "parse", parse)


# A 20 MB upload as announced by its Content-Length; the client sends a small body
# (nothing may read it anyway).
TOO_LONG: dict[str, Any] = {
    "CONTENT_LENGTH": str(20 * 1024 * 1024),
    "HTTP_X_CSRFTOKEN": "token",
}


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/projects/conv/data/upload/", {}),
        ("/projects/import", {"file_format": "conversation", "name": "fresh"}),
    ],
)
def test_an_oversized_upload_is_refused_by_its_length_before_it_is_read(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    body_unread: None,
    path: str,
    fields: dict[str, str],
) -> None:
    """A 17 MB upload was parsed to a temporary file and read into memory before
    the size check refused it."""
    upload = SimpleUploadedFile("big.json", b"[]", "application/json")

    response = admin_client_ui.post(
        path, {**fields, "file": upload}, **HTMX, **TOO_LONG
    )

    assert response.status_code == 422
    html = response.content.decode()
    # On the file field, and only that (the empty form's other fields are not
    # "required": nothing of the form was read).
    assert "The file is 20.0 MB; the limit is 8.0 MB" in html
    assert html.count('aria-invalid="true"') == 1
    assert "This field is required" not in html
    assert not Job.objects.exists()


def test_a_plain_form_post_too_long_gets_the_413_page_unread(
    admin_client_ui: Client, ui_projects: UiProjects, body_unread: None
) -> None:
    upload = SimpleUploadedFile("big.json", b"[]", "application/json")

    response = admin_client_ui.post(
        "/projects/conv/data/upload/", {"file": upload}, **TOO_LONG
    )

    assert response.status_code == 413
    assert "The file is 20.0 MB; the limit is 8.0 MB" in response.content.decode()
    assert response["Connection"] == "close"
    assert not Job.objects.exists()
