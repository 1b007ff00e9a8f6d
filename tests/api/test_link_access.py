"""Reading another project through an orchestration link (issue #10, items 1, 11
and 13), over the API.

An orchestration project trains on the data of the projects its intents link to, so
linking, importing a document that links and training with links all need read
access to every linked project, for whoever acts: a personal key acts with its
owner's roles (a superuser reads everything), a resource key (no owner) reads every
project. A caller who may not read a project gets the same answer as for a name
that does not exist, so the answers reveal neither its existence nor its kind.

The matrix test runs every route that links (fine-grained intents API, ``:import``
of an orchestration document, ``:train``) as every acting identity.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from jobs.models import Job
from projects.models import Intent, Project, ProjectMembership, Utterance
from studio.services import apikey_create
from tests.factories import (
    IntentFactory,
    OrchestrationProjectFactory,
    QnaPairFactory,
    UtteranceFactory,
)
from tests.training.test_train_service import deploy_row
from tests.ui.conftest import UiProjects, UiUsers, add_member, make_projects, make_users
from training.models import EvaluationResult, TrainedModel

pytestmark = pytest.mark.django_db

V = "2023-04-01"
CONV = "/language/authoring/analyze-conversations"
MISSING = "Nowhere"
SECRET_TEXTS = [f"secret conv utterance {n}" for n in range(6)]
SECRET_QUESTIONS = ["secret kb question one", "secret kb question two"]
# identity -> may it read the source projects ``conv`` and ``kb``?
IDENTITIES = {
    "outsider": False,  # a member of its own router only
    "viewer": True,  # a viewer of the sources, admin of its router
    "superuser": True,
    "resource": True,  # a key with no owner
}
TRAIN_BODY = {
    "modelLabel": "m1",
    "trainingMode": "standard",
    "evaluationOptions": {
        "kind": "percentage",
        "trainingSplitPercentage": 50,
        "testingSplitPercentage": 50,
    },
}


class Caller:
    """An API key (or none) with a client that runs enqueued jobs on commit."""

    def __init__(self, raw_key: str, capture: Callable[..., Any]) -> None:
        self.client = Client()
        self.key = raw_key
        self.capture = capture

    def call(self, method: str, path: str, body: Any = None) -> Any:
        sep = "&" if "?" in path else "?"
        url = path if path.startswith("/api/v1/") else f"{path}{sep}api-version={V}"
        kwargs: dict[str, Any] = {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": self.key}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = (
                "application/merge-patch+json"
                if method == "patch"
                else "application/json"
            )
        with self.capture(execute=True):
            return getattr(self.client, method)(url, **kwargs)

    def job(self, response: Any) -> dict[str, Any]:
        location = urlsplit(response["Operation-Location"])
        status = self.client.get(
            f"{location.path}?{location.query}",
            HTTP_OCP_APIM_SUBSCRIPTION_KEY=self.key,
        )
        assert status.status_code == 200, status.content
        return dict(status.json())


def make_sources() -> UiProjects:
    """``conv`` (a deployed Conversation project) and ``kb`` (a knowledge base)
    with data that must not leak, and ``orch``; every role of ``make_users`` is a
    member of the three, ``outsider`` of none."""
    projects = make_projects()
    intents = [IntentFactory(project=projects.conv, name=f"Secret{n}") for n in (0, 1)]
    for n, text in enumerate(SECRET_TEXTS):
        UtteranceFactory(project=projects.conv, text=text, intent=intents[n % 2])
    deploy_row(projects.conv, "production")
    for question in SECRET_QUESTIONS:
        QnaPairFactory(project=projects.kb, questions=[question])
    return projects


@pytest.fixture
def ui_projects(db: None) -> UiProjects:
    return make_sources()


@pytest.fixture
def users(ui_projects: UiProjects) -> UiUsers:
    return make_users(ui_projects)


@pytest.fixture
def caller_for(
    users: UiUsers, django_capture_on_commit_callbacks: Any
) -> Callable[[str], Caller]:
    def make(identity: str) -> Caller:
        owner = None if identity == "resource" else users.get(identity)
        _key, raw = apikey_create(name=f"key of {identity}", created_by=owner)
        return Caller(raw, django_capture_on_commit_callbacks)

    return make


def own_router(users: UiUsers, identity: str) -> Project:
    """``mine``: an orchestration project the identity may change and train, with a
    routing intent of its own (5 utterances) and a not-yet-linked intent ``Plain``."""
    router = OrchestrationProjectFactory.create(name="mine")
    if identity not in ("resource", "superuser"):
        add_member(router, users.get(identity), "admin")
    own = IntentFactory(project=router, name="Own")
    for n in range(5):
        UtteranceFactory(project=router, intent=own, text=f"my own text {n}")
    IntentFactory(project=router, name="Plain")
    return router


def conversation_link(name: str) -> dict[str, Any]:
    return {
        "targetProjectKind": "Conversation",
        "conversationOrchestration": {
            "projectName": name,
            "deploymentName": "production",
        },
    }


def kb_link(name: str) -> dict[str, Any]:
    return {
        "targetProjectKind": "QuestionAnswering",
        "questionAnsweringOrchestration": {"projectName": name},
    }


def router_document(**links: dict[str, Any]) -> dict[str, Any]:
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Orchestration",
            "projectName": "mine",
            "language": "en-us",
        },
        "assets": {
            "projectKind": "Orchestration",
            "intents": [
                {"category": "None"},
                {"category": "Own"},
                *({"category": k, "orchestration": v} for k, v in links.items()),
            ],
            "utterances": [
                {"text": f"my own text {n}", "intent": "Own"} for n in range(5)
            ],
        },
    }


# Each route links ``mine`` to the project named ``target`` and returns what the
# caller was told, as (ok, status, error code, messages), with the target's name
# replaced so that answers about different names compare equal.
Outcome = tuple[bool, int, str, str]


def _outcome(response: Any, target: str) -> Outcome:
    body = response.json() if response.content else {}
    error = body.get("error", {})
    messages = [error.get("message", "")] + [
        d.get("message", "") for d in error.get("details", [])
    ]
    text = " | ".join(messages).replace(repr(target), "<name>")
    ok = response.status_code < 400
    return ok, response.status_code, str(error.get("code", "")), text


def _job_outcome(caller: Caller, response: Any, target: str) -> Outcome:
    if response.status_code != 202:
        return _outcome(response, target)
    job = caller.job(response)
    messages = " | ".join(e.get("message", "") for e in job.get("errors", []))
    ok = job["status"] == "succeeded"
    return ok, 202, job["status"], messages.replace(repr(target), "<name>")


def link_by_create(caller: Caller, target: str) -> Outcome:
    response = caller.call(
        "post",
        "/api/v1/projects/mine/intents",
        {"category": "Linked", "orchestration": conversation_link(target)},
    )
    return _outcome(response, target)


def link_by_update(caller: Caller, target: str) -> Outcome:
    response = caller.call(
        "patch",
        "/api/v1/projects/mine/intents/Plain",
        {"orchestration": kb_link(target)},
    )
    return _outcome(response, target)


def link_by_import(caller: Caller, target: str) -> Outcome:
    document = router_document(Linked=conversation_link(target))
    response = caller.call("post", f"{CONV}/projects/mine/:import", document)
    return _job_outcome(caller, response, target)


def link_by_train(caller: Caller, target: str) -> Outcome:
    """The link is already there (made by someone who could read the target, or
    before the target was created); training pulls the target's data."""
    Intent.objects.filter(project__name="mine", name="Plain").update(
        target_kind="Conversation",
        target_project_name=target,
        target_deployment_name="production",
    )
    response = caller.call("post", f"{CONV}/projects/mine/:train", TRAIN_BODY)
    return _job_outcome(caller, response, target)


# route -> (how, the existing project it links)
ROUTES = {
    "v1 intent create": (link_by_create, "conv"),
    "v1 intent update": (link_by_update, "kb"),
    ":import": (link_by_import, "conv"),
    ":train": (link_by_train, "conv"),
}


def _nothing_leaked() -> None:
    leaked = EvaluationResult.objects.filter(
        text__in=[*SECRET_TEXTS, *SECRET_QUESTIONS]
    )
    assert not leaked.exists()
    assert not TrainedModel.objects.filter(project__name="mine").exists()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("identity", IDENTITIES)
def test_linking_importing_and_training_need_read_access_to_the_linked_project(
    caller_for: Callable[[str], Caller], users: UiUsers, identity: str, route: str
) -> None:
    own_router(users, identity)
    caller = caller_for(identity)
    act, target = ROUTES[route]

    real = act(caller, target)

    if IDENTITIES[identity]:
        assert real[0], real
        return
    assert not real[0], real
    _nothing_leaked()
    linked = Intent.objects.filter(project__name="mine", target_project_name=target)
    assert list(linked.values_list("name", flat=True)) == (
        ["Plain"] if route == ":train" else []  # the train route links beforehand
    )
    # Exactly the answer a name that does not exist gets: nothing says that "conv"
    # exists, nor what kind of project it is.
    assert act(caller, MISSING) == real


def test_a_non_member_cannot_read_linked_data_through_the_evaluation(
    caller_for: Callable[[str], Caller], users: UiUsers
) -> None:
    """The reported attack: a user who is a member of no project creates a router,
    links the others' projects, trains with a 50% test split and reads the
    evaluation results."""
    caller = caller_for("outsider")
    created = caller.call(
        "patch",
        f"{CONV}/projects/mine",
        {"projectName": "mine", "projectKind": "Orchestration", "language": "en-us"},
    )
    assert created.status_code == 201
    for name, link in (("Office", conversation_link("conv")), ("Faq", kb_link("kb"))):
        response = caller.call(
            "post",
            "/api/v1/projects/mine/intents",
            {"category": name, "orchestration": link},
        )
        assert response.status_code == 400, response.content
    imported = caller.call(
        "post",
        f"{CONV}/projects/mine/:import",
        router_document(Office=conversation_link("conv"), Faq=kb_link("kb")),
    )
    assert caller.job(imported)["status"] == "failed"
    Intent.objects.create(
        project=Project.objects.get(name="mine"),
        name="Faq",
        target_kind="QuestionAnswering",
        target_project_name="kb",
        target_deployment_name="production",
    )

    trained = caller.call("post", f"{CONV}/projects/mine/:train", TRAIN_BODY)
    results = caller.call(
        "get",
        f"{CONV}/projects/mine/models/m1/evaluation/result?stringIndexType=Utf16CodeUnit",
    )

    assert trained.status_code == 400, trained.content
    assert not Job.objects.filter(kind=Job.Kind.TRAIN).exists()
    assert results.status_code == 404
    _nothing_leaked()


def test_a_training_job_rechecks_access_when_it_runs(
    caller_for: Callable[[str], Caller],
    users: UiUsers,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Queued by a reader of the source whose membership is removed before a worker
    picks the job up: the job fails instead of training on the source."""
    own_router(users, "viewer")
    Intent.objects.filter(project__name="mine", name="Plain").update(
        target_kind="QuestionAnswering",
        target_project_name="kb",
        target_deployment_name="production",
    )
    caller = caller_for("viewer")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = caller.client.post(
            f"{CONV}/projects/mine/:train?api-version={V}",
            data=json.dumps(TRAIN_BODY),
            content_type="application/json",
            HTTP_OCP_APIM_SUBSCRIPTION_KEY=caller.key,
        )
    assert response.status_code == 202, response.content
    ProjectMembership.objects.filter(
        project__name="kb", user_id=users.viewer.pk
    ).delete()

    for callback in callbacks:
        callback()

    job = Job.objects.get(kind=Job.Kind.TRAIN)
    assert job.status == Job.Status.FAILED
    assert "'kb'" in json.dumps(job.errors)
    _nothing_leaked()


def test_a_link_a_caller_cannot_read_may_stay_when_an_intent_is_renamed(
    caller_for: Callable[[str], Caller], users: UiUsers
) -> None:
    """Another admin linked ``Plain`` to ``conv``; renaming the intent does not
    change the link, so it is not a new read."""
    own_router(users, "outsider")
    Intent.objects.filter(project__name="mine", name="Plain").update(
        target_kind="Conversation",
        target_project_name="conv",
        target_deployment_name="production",
    )

    response = caller_for("outsider").call(
        "patch", "/api/v1/projects/mine/intents/Plain", {"category": "Renamed"}
    )

    assert response.status_code == 200, response.content
    assert (
        Intent.objects.get(project__name="mine", name="Renamed").target_project_name
        == "conv"
    )


# ------------------------------------------------------------------ item 13


def test_link_errors_do_not_tell_a_non_member_a_projects_kind(
    caller_for: Callable[[str], Caller], users: UiUsers
) -> None:
    """``kb`` is a knowledge base; linked as a Conversation project by someone who
    cannot read it, the answer is the one for a missing name, kind unsaid."""
    own_router(users, "outsider")
    caller = caller_for("outsider")

    wrong_kind = link_by_create(caller, "kb")
    missing = link_by_create(caller, MISSING)

    assert wrong_kind == missing
    assert "QuestionAnswering" not in wrong_kind[3]


def test_a_reader_still_learns_that_a_link_has_the_wrong_kind(
    caller_for: Callable[[str], Caller], users: UiUsers
) -> None:
    own_router(users, "viewer")

    ok, status, _code, message = link_by_create(caller_for("viewer"), "kb")

    assert (ok, status) == (False, 400)
    assert "QuestionAnswering project" in message


def test_a_resource_key_may_still_link_a_project_that_does_not_exist_yet(
    caller_for: Callable[[str], Caller], users: UiUsers
) -> None:
    """Azure links by name; a resource key keeps that (the target may come later)."""
    own_router(users, "resource")

    assert link_by_create(caller_for("resource"), MISSING)[0]
    assert link_by_import(caller_for("resource"), MISSING)[0]


# ------------------------------------------------------------------ item 11


def test_a_deactivated_users_key_is_refused_with_401(
    caller_for: Callable[[str], Caller], users: UiUsers
) -> None:
    caller = caller_for("outsider")
    users.outsider.is_active = False
    users.outsider.save()

    created = caller.call(
        "patch",
        f"{CONV}/projects/Fresh",
        {"projectName": "Fresh", "projectKind": "Conversation", "language": "en-us"},
    )
    imported = caller.call("post", f"{CONV}/projects/Other/:import", router_document())
    listed = caller.call("get", f"{CONV}/projects")
    runtime = caller.call(
        "post",
        "/language/:analyze-conversations",
        {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {"id": "1", "participantId": "u", "text": "hi"}
            },
            "parameters": {"projectName": "conv", "deploymentName": "production"},
        },
    )
    v1 = caller.call("get", "/api/v1/projects/conv/intents")

    assert [r.status_code for r in (created, imported, listed, runtime, v1)] == [
        401
    ] * 5
    assert not Project.objects.filter(name__in=["Fresh", "Other"]).exists()
    assert not Job.objects.exists()
    assert not Utterance.objects.filter(project__name="Other").exists()


@pytest.mark.parametrize("identity", IDENTITIES)
def test_loading_a_snapshot_with_links_needs_read_access_like_an_import(
    caller_for: Callable[[str], Caller], users: UiUsers, identity: str
) -> None:
    """A model trained (by a resource key) while ``Plain`` linked to ``kb`` keeps
    that link in its snapshot; loading it re-creates the link."""
    router = own_router(users, identity)
    resource = caller_for("resource")
    Intent.objects.filter(project=router, name="Plain").update(
        target_kind="QuestionAnswering",
        target_project_name="kb",
        target_deployment_name="production",
    )
    assert (
        resource.job(resource.call("post", f"{CONV}/projects/mine/:train", TRAIN_BODY))[
            "status"
        ]
        == "succeeded"
    )
    Intent.objects.filter(project=router, name="Plain").update(
        target_kind="", target_project_name="", target_deployment_name=""
    )

    caller = caller_for(identity)
    response = caller.call("post", f"{CONV}/projects/mine/models/m1/:load-snapshot")
    job = caller.job(response)

    plain = Intent.objects.get(project=router, name="Plain")
    if IDENTITIES[identity]:
        assert job["status"] == "succeeded", job
        assert plain.target_project_name == "kb"
        return
    assert job["status"] == "failed"
    assert [e["message"] for e in job["errors"]] == [
        "No QuestionAnswering project you can read is called 'kb'."
    ]
    assert plain.target_project_name == ""


def train_linked_router_as_resource(router: Project, capture: Any) -> None:
    """``mine`` trained by a resource key while ``Plain`` links to ``conv``: half of
    the source's utterances land in the evaluation."""
    Intent.objects.filter(project=router, name="Plain").update(
        target_kind="Conversation",
        target_project_name="conv",
        target_deployment_name="production",
    )
    resource = Caller(apikey_create(name="resource")[1], capture)
    trained = resource.call("post", f"{CONV}/projects/mine/:train", TRAIN_BODY)
    assert resource.job(trained)["status"] == "succeeded"
    assert EvaluationResult.objects.filter(text__in=SECRET_TEXTS).exists()


@pytest.mark.parametrize("identity", IDENTITIES)
def test_evaluation_results_show_linked_data_only_to_readers_of_its_project(
    caller_for: Callable[[str], Caller],
    users: UiUsers,
    identity: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Someone who could read the source trained the router; a router member who
    cannot read the source does not get the source's utterances from it."""
    train_linked_router_as_resource(
        own_router(users, identity), django_capture_on_commit_callbacks
    )

    response = caller_for(identity).call(
        "get",
        f"{CONV}/projects/mine/models/m1/evaluation/result"
        "?stringIndexType=Utf16CodeUnit",
    )

    assert response.status_code == 200
    texts = {r["text"] for r in response.json()["value"]}
    assert {t for t in texts if t.startswith("my own text")}
    assert bool(texts & set(SECRET_TEXTS)) == IDENTITIES[identity]


def test_an_import_in_progress_does_not_hand_its_job_to_someone_else(
    caller_for: Callable[[str], Caller], users: UiUsers
) -> None:
    """Two users import a new project of the same name; the second may not learn
    the first one's job id (with it, they could poll the job of a project that does
    not exist yet, which no role protects)."""
    first, second = caller_for("viewer"), caller_for("outsider")
    document = router_document()
    path = f"{CONV}/projects/Brand/:import?api-version={V}"

    def post(caller: Caller) -> Any:  # the job is never run: it stays queued
        return caller.client.post(
            path,
            data=json.dumps(document),
            content_type="application/json",
            HTTP_OCP_APIM_SUBSCRIPTION_KEY=caller.key,
        )

    queued = post(first)
    again = post(first)
    other = post(second)

    job_id = queued["Operation-Location"].split("/jobs/")[1].split("?")[0]
    assert (again.status_code, other.status_code) == (409, 409)
    assert job_id in again.json()["error"]["message"]
    assert job_id not in other.content.decode()
    assert "not available" in other.json()["error"]["message"]


def test_a_training_job_whose_requester_was_deleted_reads_no_linked_project(
    users: UiUsers, django_capture_on_commit_callbacks: Any
) -> None:
    """The job records who asked; a user deleted before it runs must not turn into
    "nobody recorded", which is the resource key's full access."""
    from training import train_jobs

    router = own_router(users, "viewer")
    Intent.objects.filter(project=router, name="Plain").update(
        target_kind="QuestionAnswering",
        target_project_name="kb",
        target_deployment_name="production",
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = train_jobs.train_start(
            project=router, body=TRAIN_BODY, actor=users.viewer
        )
    assert job.params["owner_id"] == users.viewer.pk
    users.viewer.delete()

    for callback in callbacks:
        callback()

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.errors[0]["message"].endswith(
        "No QuestionAnswering project you can read is called 'kb'."
    )
    _nothing_leaked()
