"""The ``api-version`` values we serve, per API family (azure-api.md §0, §6)."""

from __future__ import annotations

from enum import StrEnum


class ApiFamily(StrEnum):
    CONVERSATIONS = "conversations"
    QUESTION_ANSWERING = "questionanswering"


# Paths, verbs, LRO flow and bodies are identical across these for what we implement.
SUPPORTED_VERSIONS: dict[ApiFamily, tuple[str, ...]] = {
    ApiFamily.CONVERSATIONS: (
        "2022-05-01",
        "2023-04-01",
        "2023-04-15-preview",
        "2024-05-15-preview",
        "2024-11-15-preview",
        "2025-05-15-preview",
        "2025-11-01",
        "2025-11-15-preview",
    ),
    ApiFamily.QUESTION_ANSWERING: (
        "2021-10-01",
        "2023-04-01",
        "2023-04-15-preview",
        "2024-11-15-preview",
        "2025-05-15-preview",
        "2025-11-15-preview",
    ),
}


def has_deployment_resources(version: str) -> bool:
    """Versions with deployment resources (``assignedResources`` on deployments,
    ``:assign``, ``azureResourceIds`` on deploy)."""
    return version >= "2023-04-15-preview"


def has_data_generation(version: str) -> bool:
    """Versions whose training job result carries ``dataGenerationStatus`` (typed as
    required by azure-ai-language-conversations-authoring 1.0.0b4)."""
    return version >= "2024-11-15-preview"


# The runtime versions whose ``:analyze-conversations`` knows ``kind:
# ConversationalAI`` (multi-turn analysis): Azure's spec has its example from
# 2025-05-15-preview; azure-ai-language-conversations 2.0.0b2 sends 2025-11-15-preview.
# Listed, not compared: ``2025-11-01`` is an authoring version without it.
CONVERSATIONAL_AI_VERSIONS = ("2025-05-15-preview", "2025-11-15-preview")


def has_conversational_ai(version: str) -> bool:
    return version in CONVERSATIONAL_AI_VERSIONS
