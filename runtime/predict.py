"""Prediction shapes (azure-api.md §1.3, §1.4): pure functions over loaded bundles.

Nothing here touches the database or the network; ``services`` decides which bundle
to use and which target to call, these functions build the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.parsing import ConversationTurn
from training.engine.bundles import (
    ConversationBundle,
    OrchestrationBundle,
    TargetSpec,
)
from training.engine.intents import apply_threshold
from training.engine.offsets import StringIndexType, from_code_points

NONE_INTENT = "None"

# Azure's targetProjectKind has four values. Our own "Http" link embeds the external
# endpoint's JSON as-is, exactly what a "Luis" result is (an opaque object in both
# SDKs), so it reports "Luis"; the other kinds map to themselves.
AZURE_TARGET_KIND: dict[str, str] = {
    "Conversation": "Conversation",
    "QuestionAnswering": "QuestionAnswering",
    "Luis": "Luis",
    "Http": "Luis",
    "NonLinked": "NonLinked",
}


def intent_scores(
    bundle: ConversationBundle | OrchestrationBundle, text: str
) -> list[tuple[str, float]]:
    """Every intent with its confidence, best first."""
    if bundle.intents is None:
        return [(bundle.single_intent or NONE_INTENT, 1.0)]
    return bundle.intents.predict(text)


def answered_intent(
    bundle: ConversationBundle | OrchestrationBundle,
    scores: list[tuple[str, float]],
    *,
    threshold: float,
    per_intent: bool = False,
) -> str:
    """The answered intent: the top one, or ``None`` below the project's threshold,
    or with the option "per-intent thresholds" (``per_intent``) below the top
    intent's own threshold, which the model derives from the project's one."""
    thresholds = (
        bundle.intents.intent_thresholds(threshold)
        if per_intent and bundle.intents is not None
        else None
    )
    return apply_threshold(scores, threshold, NONE_INTENT, per_intent=thresholds)


def conversation_prediction(
    bundle: ConversationBundle,
    text: str,
    *,
    threshold: float,
    index_type: StringIndexType,
    language: str | None = None,
    per_intent: bool = False,
) -> dict[str, Any]:
    """A CLU prediction: all intents sorted, entities in ``index_type`` offsets.

    Below the project's confidence threshold (see :func:`answered_intent`)
    ``topIntent`` is ``None``; the scores are reported unchanged.
    """
    scores = intent_scores(bundle, text)
    entities: list[dict[str, Any]] = []
    if bundle.entities is not None:
        for match in bundle.entities.predict(text, language=language or None):
            offset, length = from_code_points(
                text, match.offset, match.length, index_type
            )
            entity: dict[str, Any] = {
                "category": match.category,
                "text": match.text,
                "offset": offset,
                "length": length,
                "confidenceScore": match.confidence,
            }
            if match.extra_information:
                entity["extraInformation"] = list(match.extra_information)
            if match.resolutions:
                entity["resolutions"] = list(match.resolutions)
            entities.append(entity)
    return {
        "projectKind": "Conversation",
        "topIntent": answered_intent(
            bundle, scores, threshold=threshold, per_intent=per_intent
        ),
        "intents": [
            {"category": category, "confidenceScore": score}
            for category, score in scores
        ],
        "entities": entities,
    }


def orchestration_intents(
    bundle: OrchestrationBundle, scores: list[tuple[str, float]]
) -> dict[str, dict[str, Any]]:
    """The ``intents`` map: every orchestration intent with its target kind and
    confidence, most confident first (intents the classifier never saw score 0)."""
    by_label = dict(scores)
    ordered = [label for label, _ in scores if label in bundle.targets]
    ordered += [label for label in bundle.targets if label not in by_label]
    return {
        label: {
            "targetProjectKind": target_kind(bundle.targets[label]),
            "confidenceScore": by_label.get(label, 0.0),
        }
        for label in ordered
    }


def target_kind(spec: TargetSpec) -> str:
    return AZURE_TARGET_KIND.get(spec.kind, "NonLinked")


def envelope(text: str, prediction: dict[str, Any]) -> dict[str, Any]:
    """Azure's response envelope (§1.2)."""
    return {
        "kind": "ConversationResult",
        "result": {"query": text, "prediction": prediction},
    }


# Every intent of a Conversation project names something to do; questions are the
# business of question answering projects, which ConversationalAI does not analyze.
CONVERSATIONAL_AI_INTENT_TYPE = "action"


def conversation_analysis(
    conversation_id: str,
    items: Sequence[ConversationTurn],
    predictions: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """A ``ConversationalAIAnalysis`` from the CLU prediction of each item (in the
    conversation's order; entity offsets already in the requested units).

    Segmentation (it reproduces Azure's 2025-11-15-preview example): an item's
    intent is its ``topIntent`` (``None`` below the project's threshold). An item
    with an intent extends the range just before it when that range has the same
    intent, else opens a range. An item without one continues the open range when
    it is a turn of the task's dialog: said by another participant than the one
    who opened the range (the bot's clarifying question, an agent's
    confirmation), or the answer to another participant's question (the previous
    item, by someone else, ends with a question mark: "Do you have any airline
    preference?" / "No."). Any other ``None`` item closes the range and joins
    none. A range is ``{offset: index of its first item, count}``; each intent is
    listed once, in order of first appearance, with all its ranges and the
    entities of their items; the entities of items in no range are the
    conversation's own ``entities`` (Azure: "matched but not associated with any
    specific intent").
    """
    intents: dict[str, dict[str, Any]] = {}
    unassigned: list[dict[str, Any]] = []
    # The range the previous item belongs to: (intent, participant who opened it).
    open_range: tuple[str, str] | None = None
    for index, (item, prediction) in enumerate(zip(items, predictions, strict=True)):
        top = prediction["topIntent"]
        entities = [
            _conversational_ai_entity(entity, item.id, index)
            for entity in prediction["entities"]
        ]
        if top == NONE_INTENT:
            if open_range is not None and _continues(items, index, open_range[1]):
                continued = intents[open_range[0]]
                continued["conversationItemRanges"][-1]["count"] += 1
                continued["entities"].extend(entities)
            else:
                open_range = None
                unassigned.extend(entities)
            continue
        intent = intents.get(top)
        if intent is None:
            intent = intents[top] = {
                "name": top,
                "type": CONVERSATIONAL_AI_INTENT_TYPE,
                "conversationItemRanges": [],
                "entities": [],
            }
        if open_range is not None and open_range[0] == top:
            intent["conversationItemRanges"][-1]["count"] += 1
        else:
            intent["conversationItemRanges"].append({"offset": index, "count": 1})
            open_range = (top, item.participant_id)
        intent["entities"].extend(entities)
    return {
        "id": conversation_id,
        "intents": list(intents.values()),
        "entities": unassigned,
    }


QUESTION_MARKS = ("?", "\uff1f", "\u061f")  # ASCII, fullwidth, Arabic


def _continues(items: Sequence[ConversationTurn], index: int, opener: str) -> bool:
    """Whether the ``None`` item at ``index`` is a turn of the open range's dialog
    (``conversation_analysis``)."""
    item = items[index]
    if item.participant_id != opener:
        return True
    previous = items[index - 1]
    return previous.participant_id != item.participant_id and (
        previous.text.rstrip().endswith(QUESTION_MARKS)
    )


def _conversational_ai_entity(
    entity: dict[str, Any], item_id: str, index: int
) -> dict[str, Any]:
    """A CLU entity as a ``ConversationalAIEntity``: ``name`` for ``category``, and
    the item it was found in (offsets are within that item's text)."""
    result: dict[str, Any] = {
        "name": entity["category"],
        "text": entity["text"],
        "confidenceScore": entity["confidenceScore"],
        "offset": entity["offset"],
        "length": entity["length"],
        "conversationItemId": item_id,
        "conversationItemIndex": index,
    }
    for optional in ("resolutions", "extraInformation"):
        if optional in entity:
            result[optional] = entity[optional]
    return result
