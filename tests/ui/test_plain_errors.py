"""No message a person reads in the studio names an API field path.

The services word their messages for the REST API (``list.sublists[2].listKey``,
``[0].value.answer``, ``firstDeploymentName``); the studio shows them through
``studio.plain_errors.plain_message``. This drives the studio's forms with bad
input and reads every error message in the answers: none may look like a path.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jobs.models import Job
from projects.models import Entity
from studio.plain_errors import LABELS, plain_message
from tests.factories import EntityFactory
from tests.training.model_helpers import make_trained_model
from tests.ui.conftest import HTMX, UiProjects
from tests.ui.training_helpers import TRAVEL, WEATHER

pytestmark = pytest.mark.django_db

# What an API path looks like inside a sentence.
PATH_LIKE = re.compile(
    r"\w+\[\d+\]|(?<![\w.])\[\d+\]|(?<![\w./])(?!www\.)[A-Za-z_]\w*\.[A-Za-z_]\w*\.|"
    + r"\b(?:"
    + "|".join(name for name in LABELS if re.search("[A-Z]", name))
    + r")\b"
)


class _Messages(HTMLParser):
    """The text of the error messages in a page: elements whose class names an
    error or a message, or whose role is alert."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.stack: list[bool] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"input", "br", "img", "meta", "link", "hr"}:
            return
        values = dict(attrs)
        classes = values.get("class") or ""
        is_message = (
            "error" in classes
            or "message" in classes.split()
            or values.get("role") == "alert"
            or (values.get("id") or "").endswith("-error")
        )
        self.stack.append(is_message)
        if is_message:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        void = tag in {"input", "br", "img", "meta", "link", "hr"}
        if self.stack and not void and self.stack.pop():
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth > 0 and data.strip():
            self.found.append(data.strip())


def messages_in(html: str) -> list[str]:
    parser = _Messages()
    parser.feed(html)
    return parser.found


@pytest.fixture
def city(ui_projects: UiProjects) -> Entity:
    entity: Entity = EntityFactory.create(
        project=ui_projects.conv,
        name="City",
        list_sublists=[
            {"listKey": "Paris", "synonyms": [{"language": "en-us", "values": ["x"]}]}
        ],
    )
    return entity


def bad_posts(projects: UiProjects, city: Entity) -> list[tuple[str, dict[str, Any]]]:
    conv, orch, kb = projects.conv.name, projects.orch.name, projects.kb.name
    entity = f"/projects/{conv}/schema/entities/{city.pk}/"
    return [
        ("/projects/new", {"kind": "Conversation", "name": "a/b", "language": "en"}),
        (f"/projects/{conv}/schema/intents/add", {"category": "a" * 200}),
        (f"/projects/{conv}/schema/entities/add", {"category": "bad/name"}),
        (entity + "list/add", {"listKey": "Paris", "synonyms": "y"}),
        (entity + "list/add", {"listKey": "", "synonyms": "y"}),
        (entity + "regex/add", {"regexKey": "r", "regexPattern": "("}),
        (entity + "regex/add", {"regexKey": "", "regexPattern": "a"}),
        (entity + "prebuilts/add", {"category": "NotAPrebuilt"}),
        (
            f"/projects/{orch}/orchestration/intents/add",
            {"category": "Route", "target_kind": "Luis", "luis_app_id": "x" * 300},
        ),
        (
            f"/projects/{orch}/orchestration/intents/add",
            {"category": "Route", "target_kind": "Conversation", "project_name": kb},
        ),
        (
            f"/projects/{orch}/orchestration/intents/add",
            {"category": "Route", "target_kind": "Http", "http_url": "ftp://x"},
        ),
        (f"/projects/{kb}/kb/qnas/add", {"questions": "What?", "answer": "  "}),
        (f"/projects/{kb}/kb/qnas/add", {"questions": "", "answer": "Yes"}),
        (f"/projects/{conv}/deployments/swap", {"first": "a", "second": "a"}),
        (f"/projects/{conv}/deployments/swap", {"first": "", "second": "b"}),
        (
            f"/projects/{conv}/deployments/deploy",
            {"deployment_name": "bad name!", "model_label": "m1"},
        ),
        (
            f"/projects/{conv}/deployments/deploy",
            {"deployment_name": "prod", "model_label": "missing"},
        ),
        (f"/projects/{conv}/train/start", {"model_label": "bad label!"}),
        (f"/projects/{conv}/settings/general", {"language": "", "description": ""}),
        (
            f"/projects/{conv}/settings/general",
            {"language": "en-us", "confidence_threshold": "7"},
        ),
    ]


def test_no_studio_message_names_an_api_path(
    ui_projects: UiProjects, city: Entity, client_for: Any
) -> None:
    make_trained_model(
        ui_projects.conv,
        "m1",
        TRAVEL + WEATHER,
        ["Travel"] * len(TRAVEL) + ["Weather"] * len(WEATHER),
    )
    client: Client = client_for("admin")
    seen = 0
    leaks: list[tuple[str, str]] = []
    statuses: list[tuple[str, int]] = []
    for url, data in bad_posts(ui_projects, city):
        for extra in ({}, HTMX):
            response = client.post(url, data, **extra)
            statuses.append((url, response.status_code))
            if response.status_code == 302:
                response = client.get(response["Location"])
            for message in messages_in(response.content.decode()):
                seen += 1
                if PATH_LIKE.search(message):
                    leaks.append((url, message))
    assert seen >= len(bad_posts(ui_projects, city))  # the forms did answer errors
    assert [s for s in statuses if s[1] not in (200, 302, 422)] == []
    assert leaks == [], "\n".join(f"{u}: {m}" for u, m in leaks)


@pytest.mark.parametrize(
    ("message", "plain"),
    [
        ("[0].value.answer must not be empty.", "Answer must not be empty."),
        (
            "list.sublists[2].listKey 'Paris' is repeated.",
            "Normalized value (list 3) 'Paris' is repeated.",
        ),
        (
            "firstDeploymentName and secondDeploymentName must name two different "
            "deployments.",
            "First deployment and second deployment must name two different "
            "deployments.",
        ),
        (
            "assets.utterances[12].entities[0].offset is outside the text.",
            "Start (utterance 13, entity 1) is outside the text.",
        ),
        ("assets.intents[3] is repeated.", "Intent 4 is repeated."),
        (
            "orchestration.luisOrchestration.appId is 300 characters long.",
            "LUIS app ID is 300 characters long.",
        ),
        # Names the user typed (quoted), numbers and host names stay as they are.
        ("Intent 'a.b[0]' is unknown.", "Intent 'a.b[0]' is unknown."),
        ("See example.com, e.g. at 0.5.", "See example.com, e.g. at 0.5."),
        # An apostrophe is not a quote: the path after it is still rewritten.
        (
            "The project's deploymentName isn't 'prod'.",
            "The project's deployment isn't 'prod'.",
        ),
    ],
)
def test_plain_message_says_paths_in_words(message: str, plain: str) -> None:
    assert plain_message(message) == plain


def test_a_failed_import_job_names_no_api_path(
    admin_client_ui: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.ui.test_projects import conversation_file

    broken = json.loads(conversation_file())
    broken["assets"]["utterances"][0]["text"] = ""
    broken["assets"]["utterances"][1]["intent"] = "Nowhere"
    upload = SimpleUploadedFile(
        "p.json", json.dumps(broken).encode(), "application/json"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_ui.post(
            "/projects/import", {"file_format": "conversation", "file": upload}
        )
    assert Job.objects.get(kind="import").status == "failed"
    page = admin_client_ui.get(response["Location"]).content.decode()
    shown = messages_in(page)
    # Where each problem is in the file, in words: there is no field to show it by.
    assert "Utterance text must not be empty or whitespace only (utterance 1)." in shown
    assert [m for m in shown if PATH_LIKE.search(m)] == []
