"""The runtime's request-level services: one per endpoint.

The views parse the body first (``runtime.parsing``), check the rate limit
(``runtime.limits``), then call ``conversation_analyze`` /
``conversational_ai_analyze`` / ``knowledgebase_query`` / ``text_query`` with the
typed request. An orchestration is routed by
``runtime.routing``; logged queries are stored by ``runtime.logs``, after the
deployment's shadow model, if any, predicted the same query (``runtime.shadow``).
"""

from __future__ import annotations

from typing import Any

from runtime.bundles import deployed_bundle, kb_answers
from runtime.parsing import (
    AnalyzeRequest,
    ConversationalAIRequest,
    KnowledgeBaseRequest,
    TextRequest,
)
from runtime.predict import conversation_analysis, conversation_prediction, envelope
from runtime.registry import runtime
from runtime.routing import TargetAccess, direct_query, orchestrate
from runtime.shadow import prediction_answered
from studio.errors import InvalidArgument
from studio.vocabulary import CLU_KINDS, CONVERSATION, QA_KINDS
from training.engine.bundles import (
    ConversationBundle,
    KnowledgeBaseBundle,
    OrchestrationBundle,
)
from training.engine.qna import QnaError, answers_from_text


def conversation_analyze(
    request: AnalyzeRequest,
    *,
    api_key_prefix: str = "",
    target_access: TargetAccess | None = None,
) -> dict[str, Any]:
    """``:analyze-conversations`` for a Conversation or Orchestration deployment.

    ``target_access`` is checked for the studio project an orchestration routes to:
    a user's key gets through a link only what it could query directly (the routed
    intent then carries the same error a direct call would get, and no result).
    """
    model = runtime().directory.lookup(
        request.project_name, request.deployment_name, kinds=CLU_KINDS
    )
    if model.project_kind == "Conversation":
        if request.direct_target is not None:
            raise InvalidArgument(
                "parameters.directTarget is only valid for Orchestration projects.",
                target="parameters.directTarget",
            )
        bundle = deployed_bundle(model, ConversationBundle)
        prediction = conversation_prediction(
            bundle,
            request.text,
            threshold=model.confidence_threshold,
            per_intent=model.per_intent_thresholds,
            index_type=request.index_type,
            language=request.language,
        )
        intents = prediction["intents"]
        prediction_answered(
            model=model,
            text=request.text,
            language=request.language,
            top_intent=prediction["topIntent"],
            confidence=intents[0]["confidenceScore"] if intents else 0.0,
            prediction=prediction,
            api_key_prefix=api_key_prefix,
            logged=request.logging_enabled,
        )
        return envelope(request.text, prediction)
    orchestration = deployed_bundle(model, OrchestrationBundle)
    prediction = orchestrate(
        model,
        orchestration,
        request,
        api_key_prefix=api_key_prefix,
        target_access=target_access,
    )
    return envelope(direct_query(request), prediction)


def conversational_ai_analyze(
    request: ConversationalAIRequest, *, api_key_prefix: str = ""
) -> dict[str, Any]:
    """``:analyze-conversations`` of kind ``ConversationalAI``: every item of every
    conversation predicted with a Conversation deployment, then segmented into
    intent ranges (``runtime.predict.conversation_analysis``).

    Only Conversation projects: Azure's task takes a CLU project's parameters (no
    routing options), so an Orchestration project is a 400 saying what to send.
    With ``isLoggingEnabled`` each item is logged as one query (the review queue
    turns a query into an utterance), except an agent's items (``role: agent``):
    they are the bot's words, not what users ask.
    """
    model = runtime().directory.lookup(
        request.project_name, request.deployment_name, kinds=CLU_KINDS
    )
    if model.project_kind != CONVERSATION:
        raise InvalidArgument(
            f"kind 'ConversationalAI' analyzes Conversation projects; "
            f"{request.project_name!r} is an {model.project_kind} project "
            "(send kind 'Conversation' to route a query with it).",
            target="parameters.projectName",
        )
    bundle = deployed_bundle(model, ConversationBundle)
    conversations: list[dict[str, Any]] = []
    for conversation in request.conversations:
        predictions: list[dict[str, Any]] = []
        for item in conversation.items:
            language = item.language or conversation.language
            prediction = conversation_prediction(
                bundle,
                item.text,
                threshold=model.confidence_threshold,
                per_intent=model.per_intent_thresholds,
                index_type=request.index_type,
                language=language,
            )
            predictions.append(prediction)
            if item.role != "agent":
                # A user's item is a query like any other: logged when asked,
                # and predicted by the deployment's shadow model, if any.
                intents = prediction["intents"]
                prediction_answered(
                    model=model,
                    text=item.text,
                    language=language,
                    top_intent=prediction["topIntent"],
                    confidence=intents[0]["confidenceScore"] if intents else 0.0,
                    prediction=prediction,
                    api_key_prefix=api_key_prefix,
                    logged=request.logging_enabled,
                )
        conversations.append(
            conversation_analysis(conversation.id, conversation.items, predictions)
        )
    return {
        "kind": "ConversationalAIResult",
        "result": {"conversations": conversations, "warnings": []},
    }


def knowledgebase_query(request: KnowledgeBaseRequest) -> dict[str, Any]:
    """``:query-knowledgebases``: answers from a deployed knowledge base."""
    model = runtime().directory.lookup(
        request.project_name, request.deployment_name, kinds=QA_KINDS
    )
    bundle = deployed_bundle(model, KnowledgeBaseBundle)
    return {"answers": kb_answers(model, bundle, request.options)}


def text_query(request: TextRequest) -> dict[str, Any]:
    """``:query-text``: answers found in the caller's own text records."""
    try:
        answers = answers_from_text(
            request.question,
            request.records,
            language=request.language,
            string_index_type=request.index_type.value,
        )
    except QnaError as exc:
        raise InvalidArgument(str(exc)) from None
    return {"answers": answers}
