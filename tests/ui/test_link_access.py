"""Reading another project through an orchestration link, in the studio (issue #10,
items 1 and 13): the screens that link (link tasks, change a target), the import
screen and the train screen, for every signed-in identity. The API side, with the
data and helpers shared here, is ``tests/api/test_link_access.py``."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jobs.models import Job
from projects.models import Intent, Project
from tests.api.test_link_access import (
    MISSING,
    SECRET_QUESTIONS,
    SECRET_TEXTS,
    conversation_link,
    make_sources,
    own_router,
    router_document,
    train_linked_router_as_resource,
)
from tests.ui.conftest import HTMX, UiProjects, UiUsers
from training.models import EvaluationResult, TrainedModel

pytestmark = pytest.mark.django_db

ClientFor = Callable[[str], Client]
BASE = "/projects/mine/"
# identity -> may it read the source projects ``conv`` and ``kb``?
IDENTITIES = {"outsider": False, "viewer": True, "superuser": True}
TRAIN = {
    "model_label": "m1",
    "training_mode": "standard",
    "split_kind": "percentage",
    "training_percent": "50",
    "testing_percent": "50",
}
# (ok, status, the error messages shown, the target's name replaced)
Outcome = tuple[bool, int, list[str]]
_ERRORS = re.compile(
    r'<(?:ul|div)[^>]*(?:class="errorlist[^"]*"|role="alert")[^>]*>(.*?)</(?:ul|div)>',
    re.S,
)


@pytest.fixture
def ui_projects(db: None) -> UiProjects:
    return make_sources()


def _messages(text: str, target: str) -> list[str]:
    found = []
    for block in _ERRORS.findall(text):
        for item in re.findall(r"<(?:li|p)>(.*?)</(?:li|p)>", block, re.S):
            found.append(html.unescape(item).strip().replace(repr(target), "<name>"))
    return found


def _outcome(response: Any, target: str) -> Outcome:
    ok = response.status_code in (200, 302) and not _messages(
        response.content.decode(), target
    )
    return ok, response.status_code, _messages(response.content.decode(), target)


def link_tasks(client: Client, target: str, capture: Any) -> Outcome:
    data = {
        "task": [target],
        f"intent-{target}": "Linked",
        f"deployment-{target}": "production",
    }
    return _outcome(client.post(BASE + "orchestration/link", data, **HTMX), target)


def change_target(client: Client, target: str, capture: Any) -> Outcome:
    plain = Intent.objects.get(project__name="mine", name="Plain")
    data = {
        "target_kind": "QuestionAnswering",
        "project_name": target,
        "deployment_name": "production",
    }
    url = f"{BASE}orchestration/intents/{plain.pk}/target"
    return _outcome(client.post(url, data, **HTMX), target)


def import_file(client: Client, target: str, capture: Any) -> Outcome:
    document = router_document(Linked=conversation_link(target))
    upload = SimpleUploadedFile("mine.json", json.dumps(document).encode())
    with capture(execute=True):
        response = client.post(
            "/projects/import",
            # Replacing the user's own router: confirmed by its name.
            {"file_format": "conversation", "file": upload, "confirm": "mine"},
        )
    assert response.status_code == 302, response.content
    job = Job.objects.filter(kind=Job.Kind.IMPORT).latest("created_at")
    page = client.get(response["Location"]).content.decode()
    errors = [str(e["message"]).replace(repr(target), "<name>") for e in job.errors]
    assert all(html.escape(e.split("<name>")[0]) in page for e in errors)
    return job.status == Job.Status.SUCCEEDED, 302, errors


def train(client: Client, target: str, capture: Any) -> Outcome:
    Intent.objects.filter(project__name="mine", name="Plain").update(
        target_kind="Conversation",
        target_project_name=target,
        target_deployment_name="production",
    )
    with capture(execute=True):
        outcome = _outcome(client.post(BASE + "train/start", TRAIN), target)
    job = Job.objects.filter(kind=Job.Kind.TRAIN).first()
    if job is not None:
        return outcome[0] and job.status == Job.Status.SUCCEEDED, *outcome[1:]
    return outcome


# route -> (how, the existing project it links)
ROUTES = {
    "link tasks": (link_tasks, "conv"),
    "change target": (change_target, "kb"),
    "import": (import_file, "conv"),
    "train": (train, "conv"),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("identity", IDENTITIES)
def test_the_studio_links_imports_and_trains_only_what_the_user_may_read(
    client_for: ClientFor,
    users: UiUsers,
    identity: str,
    route: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    own_router(users, identity)
    client = client_for(identity)
    act, target = ROUTES[route]

    real = act(client, target, django_capture_on_commit_callbacks)

    if IDENTITIES[identity]:
        assert real[0], real
        return
    assert not real[0], real
    assert real[2], "the refusal is explained"
    assert not any("intents[" in m or "orchestration." in m for m in real[2])
    assert not EvaluationResult.objects.filter(
        text__in=[*SECRET_TEXTS, *SECRET_QUESTIONS]
    ).exists()
    assert not TrainedModel.objects.exists()
    linked = Intent.objects.filter(project__name="mine", target_project_name=target)
    assert list(linked.values_list("name", flat=True)) == (
        ["Plain"] if route == "train" else []
    )
    assert act(client, MISSING, django_capture_on_commit_callbacks) == real


def test_a_link_the_user_cannot_read_is_shown_as_not_found(
    client_for: ClientFor, users: UiUsers
) -> None:
    """Someone who could read ``conv`` linked it; the router's other admin, who
    cannot, sees the same badge as for a project that does not exist."""
    own_router(users, "outsider")
    Intent.objects.filter(project__name="mine", name="Plain").update(
        target_kind="Conversation",
        target_project_name="conv",
        target_deployment_name="production",
    )
    plain = Intent.objects.get(project__name="mine", name="Plain")

    page = client_for("outsider").get(BASE + "orchestration/").content.decode()
    row = client_for("outsider").get(f"{BASE}orchestration/intents/{plain.pk}/", **HTMX)

    assert "project not found" in page
    assert "project not found" in row.content.decode()
    assert "project not found" not in (
        client_for("superuser").get(BASE + "orchestration/").content.decode()
    )


# ------------------------------------------------------------------ item 13


def test_creating_a_taken_name_tells_a_non_member_only_that_it_is_not_available(
    client_for: ClientFor, ui_projects: UiProjects
) -> None:
    data = {"kind": "Conversation", "language": "en-us", "description": ""}
    taken = client_for("outsider").post("/projects/new", {**data, "name": "kb"})
    member = client_for("viewer").post("/projects/new", {**data, "name": "kb"})

    assert taken.status_code == member.status_code == 422
    assert _messages(taken.content.decode(), "kb") == [
        "The name <name> is not available; choose another name."
    ]
    assert _messages(member.content.decode(), "kb") == [
        "A project called <name> already exists; choose another name."
    ]
    assert Project.objects.get(name="kb").kind == Project.Kind.QUESTION_ANSWERING


def test_importing_over_a_taken_name_tells_a_non_member_only_that_it_is_not_available(
    client_for: ClientFor, ui_projects: UiProjects
) -> None:
    document = router_document()
    upload = SimpleUploadedFile("p.json", json.dumps(document).encode())

    response = client_for("outsider").post(
        "/projects/import",
        {"file_format": "conversation", "file": upload, "name": "conv"},
    )

    assert response.status_code == 422
    assert _messages(response.content.decode(), "conv") == [
        "The name <name> is not available; choose another name."
    ]
    assert not Job.objects.exists()


@pytest.mark.parametrize("identity", IDENTITIES)
def test_model_pages_show_linked_utterances_only_to_readers_of_their_project(
    client_for: ClientFor,
    users: UiUsers,
    identity: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    train_linked_router_as_resource(
        own_router(users, identity), django_capture_on_commit_callbacks
    )
    client = client_for(identity)

    detail = client.get(BASE + "models/m1/").content.decode()
    cells = "".join(
        client.get(
            BASE + "models/m1/cell",
            {"expected": "Plain", "predicted": predicted},
            **HTMX,
        ).content.decode()
        for predicted in ("Plain", "Own", "None")
    )

    shown = [t for t in SECRET_TEXTS if t in detail + cells]
    assert bool(shown) == IDENTITIES[identity]
