"""Benchmark data as the studio's users hand it over: Azure project import documents.

Conversation projects from labeled utterances and an orchestration project whose
intents link Conversation projects (azure-api.md §3.3), plus CLINC150's domain map
(``clinc150/domains.json``: 10 domains of 15 intents).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.data import Split, default_data_dir

PROJECT_FILE_VERSION = "2022-05-01"
LANGUAGE = "en-us"


def load_domains(data_dir: Path | None = None) -> dict[str, list[str]]:
    """CLINC150's domains in file order: ``{domain: [intent, ...]}``."""
    path = (data_dir or default_data_dir()) / "clinc150" / "domains.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(domain): [str(i) for i in intents] for domain, intents in raw.items()}


def _metadata(
    name: str, kind: str, threshold: float, description: str
) -> dict[str, Any]:
    return {
        "projectName": name,
        "projectKind": kind,
        "language": LANGUAGE,
        "multilingual": False,
        "description": description,
        "settings": {"confidenceThreshold": threshold},
    }


def conversation_document(
    name: str,
    split: Split,
    *,
    test: Split | None = None,
    threshold: float = 0.0,
    description: str = "",
) -> dict[str, Any]:
    """A Conversation project: ``split`` as Train utterances (``test`` as Test).

    Intents are the labels in order of first appearance; no entities.
    """
    rows: list[tuple[str, str, str]] = [
        (text, label, "Train")
        for text, label in zip(split.texts, split.labels, strict=True)
    ]
    if test is not None:
        rows += [
            (text, label, "Test")
            for text, label in zip(test.texts, test.labels, strict=True)
        ]
    intents = list(dict.fromkeys(label for _, label, _ in rows))
    return {
        "projectFileVersion": PROJECT_FILE_VERSION,
        "stringIndexType": "Utf16CodeUnit",
        "metadata": _metadata(name, "Conversation", threshold, description),
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": intent} for intent in intents],
            "entities": [],
            "utterances": [
                {"text": text, "intent": label, "dataset": dataset, "entities": []}
                for text, label, dataset in rows
            ],
        },
    }


def orchestration_document(
    name: str,
    links: Iterable[tuple[str, str]],
    *,
    threshold: float = 0.0,
    description: str = "",
) -> dict[str, Any]:
    """An orchestration project with no utterances of its own: one intent per
    ``(intent name, Conversation project)`` link, calling its ``production``
    deployment. Linking is enough: the router trains on the linked projects'
    utterances (DESIGN.md §1)."""
    return {
        "projectFileVersion": PROJECT_FILE_VERSION,
        "stringIndexType": "Utf16CodeUnit",
        "metadata": _metadata(name, "Orchestration", threshold, description),
        "assets": {
            "projectKind": "Orchestration",
            "intents": [
                {
                    "category": intent,
                    "orchestration": {
                        "targetProjectKind": "Conversation",
                        "conversationOrchestration": {
                            "projectName": project,
                            "deploymentName": "production",
                        },
                    },
                }
                for intent, project in links
            ],
            "utterances": [],
        },
    }


def domain_of(domains: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """``{intent: domain}``."""
    return {intent: domain for domain, intents in domains.items() for intent in intents}
