"""Shared helpers for the projects tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from projects import services
from projects.models import (
    Entity,
    EntitySpan,
    Intent,
    KbSynonymGroup,
    Project,
    QnaPair,
    Utterance,
)
from studio.errors import InvalidArgument


def db_snapshot() -> dict[str, Any]:
    """Every authoring row as plain values, to prove a failed write changed nothing."""
    snap: dict[str, Any] = {}
    for model in (
        Project,
        Intent,
        Entity,
        Utterance,
        EntitySpan,
        QnaPair,
        KbSynonymGroup,
    ):
        snap[model.__name__] = sorted(
            tuple(sorted((k, repr(v)) for k, v in row.items()))
            for row in model.objects.values()
        )
    return snap


def fails(call: Callable[..., Any], **kwargs: Any) -> InvalidArgument:
    """The ``InvalidArgument`` that ``call(**kwargs)`` raises, after checking that
    it changed nothing in the database."""
    before = db_snapshot()
    with pytest.raises(InvalidArgument) as info:
        call(**kwargs)
    assert db_snapshot() == before
    return info.value


def targets(error: InvalidArgument) -> list[str | None]:
    """The targets an error names: its details', or its own."""
    return [d.target for d in error.details] or [error.target]


def clu_project(
    name: str, *, kind: str = "Conversation", language: str = "en"
) -> Project:
    """A new empty Conversation (or Orchestration) project."""
    project, _ = services.project_create_or_update(
        name=name, data={"projectName": name, "projectKind": kind, "language": language}
    )
    return project


def email_doc() -> dict[str, Any]:
    """A small Conversation project file in Azure's export format."""
    return copy.deepcopy(
        {
            "projectFileVersion": "2022-05-01",
            "stringIndexType": "Utf16CodeUnit",
            "metadata": {
                "projectKind": "Conversation",
                "settings": {"confidenceThreshold": 0.7},
                "projectName": "EmailApp",
                "multilingual": True,
                "description": "Trying out CLU",
                "language": "en-us",
            },
            "assets": {
                "projectKind": "Conversation",
                "intents": [
                    {"category": "None"},
                    {"category": "Read"},
                    {"category": "Delete"},
                ],
                "entities": [
                    {"category": "Sender", "compositionSetting": "combineComponents"},
                    {
                        "category": "Number",
                        "compositionSetting": "returnLongestOverlap",
                        "list": {
                            "sublists": [
                                {
                                    "listKey": "one",
                                    "synonyms": [
                                        {"language": "en", "values": ["one", "1"]}
                                    ],
                                }
                            ]
                        },
                        "prebuilts": [{"category": "Number"}],
                        "regex": {
                            "expressions": [
                                {
                                    "regexKey": "digits",
                                    "language": "en-us",
                                    "regexPattern": r"\d+",
                                }
                            ]
                        },
                        "requiredComponents": ["regex"],
                    },
                ],
                "utterances": [
                    {
                        "text": "Open Blake's email",
                        "intent": "Read",
                        "entities": [{"category": "Sender", "offset": 5, "length": 5}],
                        "dataset": "Train",
                    },
                    {
                        "text": "Delete email 3 from 😀 Ann",
                        "language": "en-gb",
                        "intent": "Delete",
                        "entities": [
                            {"category": "Number", "offset": 13, "length": 1},
                            {"category": "Sender", "offset": 23, "length": 3},
                        ],
                        "dataset": "Test",
                    },
                    {"text": "read it", "intent": "Read", "entities": []},
                ],
            },
        }
    )


def orchestration_doc() -> dict[str, Any]:
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Orchestration",
            "settings": {"confidenceThreshold": 0.5},
            "projectName": "Router",
            "multilingual": False,
            "description": "",
            "language": "en",
        },
        "assets": {
            "projectKind": "Orchestration",
            "intents": [
                {
                    "category": "EmailIntent",
                    "orchestration": {
                        "targetProjectKind": "Conversation",
                        "conversationOrchestration": {
                            "projectName": "EmailApp",
                            "deploymentName": "production",
                        },
                    },
                },
                {
                    "category": "QnaIntent",
                    "orchestration": {
                        "targetProjectKind": "QuestionAnswering",
                        "questionAnsweringOrchestration": {"projectName": "MyKB"},
                    },
                },
                {
                    "category": "LuisIntent",
                    "orchestration": {
                        "targetProjectKind": "Luis",
                        "luisOrchestration": {
                            "appId": "6a2a1e0c-0000-4000-8000-000000000000",
                            "appVersion": "0.1",
                            "slotName": "production",
                        },
                    },
                },
                {
                    "category": "HttpIntent",
                    "orchestration": {
                        "targetProjectKind": "Http",
                        "httpOrchestration": {
                            "url": "https://bots.example.com/predict",
                            "headers": {"X-Team": "support"},
                        },
                    },
                },
                {"category": "None"},
            ],
            "utterances": [
                {"text": "read my email", "intent": "EmailIntent", "dataset": "Train"},
                {
                    "text": "what are your hours",
                    "intent": "QnaIntent",
                    "language": "en",
                },
            ],
        },
    }
