"""Reads used by the API and the labeling screens."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects import services
from projects.models import Project
from projects.selectors import authoring as selectors
from studio.errors import NotFound, ProjectNotFound
from tests.projects.helpers import email_doc, orchestration_doc

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    return services.project_import(name="EmailApp", document=email_doc())


def test_project_get_filters_by_kind_and_names_missing_project(
    project: Project,
) -> None:
    assert selectors.project_get(name="EmailApp") == project
    with pytest.raises(ProjectNotFound, match="'EmailApp'"):
        selectors.project_get(name="EmailApp", kinds=["QuestionAnswering"])
    with pytest.raises(ProjectNotFound, match="'Nope'"):
        selectors.project_get(name="Nope")


def test_project_list_by_kind(project: Project) -> None:
    services.qna_project_create_or_update(name="kb", data={})
    assert [p.name for p in selectors.project_list()] == ["EmailApp", "kb"]
    assert [p.name for p in selectors.project_list(kinds=["QuestionAnswering"])] == [
        "kb"
    ]


def test_utterance_filters(project: Project) -> None:
    def texts(**kwargs: Any) -> list[str]:
        return [u.text for u in selectors.utterance_list(project=project, **kwargs)]

    assert texts(search="EMAIL") == ["Open Blake's email", "Delete email 3 from 😀 Ann"]
    assert texts(intent="Read") == ["Open Blake's email", "read it"]
    assert texts(dataset="Test") == ["Delete email 3 from 😀 Ann"]
    assert texts(dataset="none") == ["read it"]
    assert texts(has_entities=False) == ["read it"]
    assert texts(has_entities=True, entity="Number") == ["Delete email 3 from 😀 Ann"]


def test_a_page_of_utterances_with_spans_costs_two_queries(project: Project) -> None:
    services.utterances_bulk_create(
        project=project,
        items=[
            {
                "text": f"mail from Bo {i}",
                "intent": "Read",
                "entities": [{"category": "Sender", "offset": 10, "length": 2}],
            }
            for i in range(60)
        ],
    )
    with CaptureQueriesContext(connection) as queries:
        page = [
            selectors.utterance_as_azure(utterance=u)
            for u in selectors.utterance_list(project=project, has_entities=True)[:50]
        ]
    assert len(page) == 50
    assert len(queries) == 2
    assert page[-1]["entities"] == [{"category": "Sender", "offset": 10, "length": 2}]


def test_link_target_resolves_only_existing_projects_of_the_right_kind(
    project: Project,
) -> None:
    router = services.project_import(name="Router", document=orchestration_doc())
    email = router.intents.get(name="EmailIntent")
    assert selectors.intent_link_target(intent=email) == project
    assert (
        selectors.intent_link_target(intent=router.intents.get(name="QnaIntent"))
        is None
    )
    assert selectors.intent_link_target(intent=router.intents.get(name="None")) is None


def test_metadata_shapes(project: Project) -> None:
    body = selectors.project_metadata_as_azure(project=project)
    assert body["projectKind"] == "Conversation"
    assert body["settings"] == {"confidenceThreshold": 0.7}
    assert body["createdDateTime"].endswith("Z")
    assert "lastTrainedDateTime" not in body
    kb, _ = services.qna_project_create_or_update(
        name="kb", data={"settings": {"defaultAnswer": "?"}}
    )
    assert selectors.project_metadata_as_azure(project=kb)["settings"] == {
        "defaultAnswer": "?"
    }


def test_getters_raise_not_found(project: Project) -> None:
    with pytest.raises(NotFound):
        selectors.intent_get(project=project, name="Nope")
    with pytest.raises(NotFound):
        selectors.entity_get(project=project, name="Nope")
    with pytest.raises(NotFound):
        selectors.utterance_get(project=project, pk=10**9)
