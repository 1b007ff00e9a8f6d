"""Shared helpers for the projects tests."""

from __future__ import annotations

import copy
from typing import Any

from projects.models import (
    Entity,
    EntitySpan,
    Intent,
    KbSynonymGroup,
    Project,
    QnaPair,
    Utterance,
)


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
