"""Orchestration links: building Azure's orchestration object from form values,
linking several studio projects at once (all or nothing), and the linkable tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from projects import services
from projects.models import Intent, Project
from studio.errors import InvalidArgument
from tests.factories import (
    IntentFactory,
    KbProjectFactory,
    OrchestrationProjectFactory,
    ProjectFactory,
)
from training.models import Deployment

pytestmark = pytest.mark.django_db


def deploy(project: Project, name: str) -> Deployment:
    now = timezone.now()
    return Deployment.objects.create(
        project=project,
        name=name,
        model_id="m1",
        artifact_name="a",
        model_trained_at=now,
        deployed_at=now,
        expires_on=dt.date(2099, 1, 1),
    )


def test_orchestration_link_shapes_each_kind() -> None:
    assert services.orchestration_link(target_kind="") is None
    assert services.orchestration_link(
        target_kind="Conversation", project_name="Clu", deployment_name="prod"
    ) == {
        "targetProjectKind": "Conversation",
        "conversationOrchestration": {"projectName": "Clu", "deploymentName": "prod"},
    }
    qa = services.orchestration_link(target_kind="QuestionAnswering", project_name="Kb")
    assert qa is not None
    assert qa["questionAnsweringOrchestration"]["deploymentName"] == "production"
    assert services.orchestration_link(target_kind="Luis", luis_app_id="abc") == {
        "targetProjectKind": "Luis",
        "luisOrchestration": {"appId": "abc"},
    }
    http = services.orchestration_link(
        target_kind="Http", http_url="https://x.test/p", http_headers={"A": "b"}
    )
    assert http == {
        "targetProjectKind": "Http",
        "httpOrchestration": {"url": "https://x.test/p", "headers": {"A": "b"}},
    }


def test_link_several_tasks_creates_linked_intents() -> None:
    orch = OrchestrationProjectFactory.create(name="Router")
    ProjectFactory.create(name="Clu")
    KbProjectFactory.create(name="Kb")
    intents = services.intents_link_tasks(
        project=orch,
        links=[
            services.TaskLink("Clu", "Conversation", "Clu", "prod"),
            services.TaskLink("Faq", "QuestionAnswering", "Kb"),
        ],
    )
    assert [i.name for i in intents] == ["Clu", "Faq"]
    clu = orch.intents.get(name="Clu")
    assert (clu.target_kind, clu.target_project_name) == ("Conversation", "Clu")
    assert clu.target_deployment_name == "prod"
    assert orch.intents.get(name="Faq").target_deployment_name == "production"


def test_link_several_is_all_or_nothing_with_an_error_per_row() -> None:
    orch = OrchestrationProjectFactory.create(name="Router")
    ProjectFactory.create(name="Clu")
    with pytest.raises(InvalidArgument) as info:
        services.intents_link_tasks(
            project=orch,
            links=[
                services.TaskLink("Good", "Conversation", "Clu", "prod"),
                services.TaskLink("Bad?", "Conversation", "Clu", "prod"),
                services.TaskLink("NoDeployment", "Conversation", "Clu", ""),
            ],
        )
    targets = {d.target for d in info.value.details}
    assert "links[1].category" in targets
    assert "links[2].deploymentName" in targets
    assert not orch.intents.filter(name="Good").exists()


def test_link_to_a_project_of_the_wrong_kind_is_refused() -> None:
    orch = OrchestrationProjectFactory.create(name="Router")
    KbProjectFactory.create(name="Kb")
    with pytest.raises(InvalidArgument):
        services.intents_link_tasks(
            project=orch,
            links=[services.TaskLink("Kb", "Conversation", "Kb", "prod")],
        )
    assert not orch.intents.filter(name="Kb").exists()


def test_linking_needs_an_orchestration_project() -> None:
    clu = ProjectFactory.create(name="Clu")
    with pytest.raises(InvalidArgument):
        services.intents_link_tasks(
            project=clu,
            links=[services.TaskLink("X", "Conversation", "Clu", "prod")],
        )
    with pytest.raises(InvalidArgument):
        services.intents_link_tasks(
            project=OrchestrationProjectFactory.create(), links=[]
        )


def test_link_set_and_unlink_keep_the_intent() -> None:
    orch = OrchestrationProjectFactory.create(name="Router")
    intent = IntentFactory.create(project=orch, name="Route")
    services.intent_link_set(
        intent=intent,
        orchestration=services.orchestration_link(
            target_kind="Http", http_url="https://bot.test/q"
        ),
    )
    intent.refresh_from_db()
    assert intent.is_linked and intent.http_url == "https://bot.test/q"
    services.intent_unlink(intent=intent)
    intent.refresh_from_db()
    assert not intent.is_linked
    assert intent.target_kind == Intent.TargetKind.NON_LINKED


def test_linkable_tasks_lists_deployments_and_links() -> None:
    orch = OrchestrationProjectFactory.create(name="Router")
    clu = ProjectFactory.create(name="Clu")
    kb = KbProjectFactory.create(name="Kb")
    deploy(clu, "prod")
    deploy(clu, "beta")
    services.intents_link_tasks(
        project=orch, links=[services.TaskLink("Clu", "Conversation", "Clu", "prod")]
    )
    tasks = services.linkable_tasks(project=orch, candidates=[kb, clu, orch])
    assert [t.project.name for t in tasks] == ["Clu", "Kb"]
    assert tasks[0].deployments == ["beta", "prod"]
    assert tasks[0].is_linked and [i.name for i in tasks[0].linked_intents] == ["Clu"]
    assert not tasks[1].is_linked and tasks[1].deployments == []
