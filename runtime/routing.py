"""Orchestration routing of the runtime: score an orchestration's intents, then call
the routed intent's target only (azure-api.md §4): a studio Conversation or
QuestionAnswering deployment (checked with the caller's access) or an external LUIS /
Http target (``runtime.targets``). A target's failure is reported on its intent,
never raised."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from runtime.bundles import deployed_bundle, kb_answers
from runtime.errors import InternalServerError, ServiceUnavailable
from runtime.parsing import (
    AnalyzeRequest,
    QnaOptions,
    conversation_calling_options_check,
    qna_options_parse,
)
from runtime.predict import (
    answered_intent,
    conversation_prediction,
    intent_scores,
    orchestration_intents,
    target_kind,
)
from runtime.registry import DeployedModel, runtime
from runtime.shadow import prediction_answered
from runtime.targets import TargetError, external_call
from studio.errors import InvalidArgument, NotFound, StudioError
from studio.inputs import echo
from studio.vocabulary import QA_KINDS
from training.engine.bundles import (
    ConversationBundle,
    KnowledgeBaseBundle,
    OrchestrationBundle,
    TargetSpec,
)

logger = logging.getLogger(__name__)

# Raises a StudioError (ProjectNotFound, Forbidden) when the caller may not
# predict with the named project; None = a resource key, which may use every project.
TargetAccess = Callable[[str], None]


def direct_query(request: AnalyzeRequest) -> str:
    """``result.query`` of an orchestration answer. As in Azure's directTarget
    example, a question the caller forces on the direct target (its
    ``callingOptions.question``) is the query answered; otherwise the text."""
    if request.direct_target is None:
        return request.text
    options = request.target_parameters.get(request.direct_target, {})
    question = (options.get("callingOptions") or {}).get("question")
    return question if isinstance(question, str) and question else request.text


def orchestrate(
    model: DeployedModel,
    bundle: OrchestrationBundle,
    request: AnalyzeRequest,
    *,
    api_key_prefix: str,
    target_access: TargetAccess | None,
) -> dict[str, Any]:
    """Score every intent; call the routed intent's target only (§4)."""
    if request.direct_target is not None and request.direct_target not in (
        bundle.targets
    ):
        raise InvalidArgument(
            f"parameters.directTarget {echo(request.direct_target)} is not an "
            f"intent of project {model.project_name!r}.",
            target="parameters.directTarget",
        )
    # callingOptions of QnA and CLU targets are validated up front: a bad option is
    # the caller's mistake (400) whichever intent wins.
    qna_options: dict[str, QnaOptions] = {}
    for name, parameters in request.target_parameters.items():
        spec = bundle.targets.get(name)
        prefix = f"parameters.targetProjectParameters.{name}.callingOptions"
        options = parameters.get("callingOptions") or {}
        if spec is not None and spec.kind == "QuestionAnswering":
            qna_options[name] = qna_options_parse(
                options, prefix=prefix + ".", default_question=request.text
            )
        elif spec is not None and spec.kind == "Conversation":
            conversation_calling_options_check(options, prefix)
    if request.direct_target is not None:
        # Routing is skipped, so there is nothing to score: as in Azure's example,
        # the forced intent is the only one listed, with confidence 1.
        top_intent = request.direct_target
        scores = [(top_intent, 1.0)]
        intents = {
            top_intent: {
                "targetProjectKind": target_kind(bundle.targets[top_intent]),
                "confidenceScore": 1.0,
            }
        }
    else:
        scores = intent_scores(bundle, request.text)
        intents = orchestration_intents(bundle, scores)
        top_intent = answered_intent(
            bundle,
            scores,
            threshold=model.confidence_threshold,
            per_intent=model.per_intent_thresholds,
        )
    spec = bundle.targets.get(top_intent)
    if spec is not None and spec.kind != "NonLinked" and top_intent in intents:
        entry = intents[top_intent]
        try:
            entry["result"] = _target_result(
                spec,
                request,
                request.target_parameters.get(top_intent, {}),
                qna_options.get(top_intent),
                api_key_prefix=api_key_prefix,
                target_access=target_access,
            )
        except TargetError as exc:
            logger.warning(
                "Orchestration %s/%s: target of intent %r failed: %s",
                model.project_name,
                model.deployment_name,
                top_intent,
                exc.message,
            )
            entry["error"] = exc.as_azure()
        except StudioError:
            raise  # the caller's mistake (a 400), not the target's failure
        # A target never fails the request: an unforeseen failure of a nested model
        # is reported like any other target failure (and logged with its traceback).
        except Exception as exc:  # noqa: BLE001
            logger.exception(
                "Orchestration %s/%s: target of intent %r raised",
                model.project_name,
                model.deployment_name,
                top_intent,
            )
            entry["error"] = TargetError(
                "InternalServerError", f"The target failed: {exc!r}"
            ).as_azure()
    prediction = {
        "projectKind": "Orchestration",
        "topIntent": top_intent,
        "intents": intents,
    }
    if request.direct_target is None or request.logging_enabled:
        # A forced intent was not scored: nothing for a shadow to compare.
        prediction_answered(
            model=model if request.direct_target is None else _unshadowed(model),
            text=request.text,
            language=request.language,
            top_intent=top_intent,
            confidence=_top_confidence(scores),
            prediction=prediction,
            api_key_prefix=api_key_prefix,
            logged=request.logging_enabled,
        )
    return prediction


def _target_model(
    spec: TargetSpec, *, kinds: tuple[str, ...], access: TargetAccess | None
) -> DeployedModel:
    if access is not None:
        try:
            access(spec.project_name)
        except StudioError as exc:
            raise TargetError(exc.code, exc.message) from exc
        except DatabaseError as exc:
            raise TargetError(
                "ServiceUnavailable", "The database is unavailable. Retry shortly."
            ) from exc
    deployment = spec.deployment_name or "production"
    try:
        return runtime().directory.lookup(spec.project_name, deployment, kinds=kinds)
    except NotFound as exc:
        raise TargetError("NotFound", f"Target unavailable: {exc.message}") from exc
    except InvalidArgument as exc:
        raise TargetError("InvalidRequest", exc.message) from exc
    except ServiceUnavailable as exc:
        raise TargetError("ServiceUnavailable", exc.message) from exc


def _target_bundle(model: DeployedModel, expected: type[Any]) -> Any:
    try:
        return deployed_bundle(model, expected)
    except InternalServerError as exc:
        raise TargetError("InternalServerError", exc.message) from exc


def _target_result(
    spec: TargetSpec,
    request: AnalyzeRequest,
    parameters: Mapping[str, Any],
    qna: QnaOptions | None,
    *,
    api_key_prefix: str,
    target_access: TargetAccess | None,
) -> Any:
    options = parameters.get("callingOptions") or {}
    if spec.kind == "Conversation":
        model = _target_model(spec, kinds=("Conversation",), access=target_access)
        bundle = _target_bundle(model, ConversationBundle)
        language = options.get("language") or request.language  # validated above
        prediction = conversation_prediction(
            bundle,
            request.text,
            threshold=model.confidence_threshold,
            per_intent=model.per_intent_thresholds,
            index_type=request.index_type,
            language=language,
        )
        intents = prediction["intents"]
        prediction_answered(
            model=model,
            text=request.text,
            language=language,
            top_intent=prediction["topIntent"],
            confidence=intents[0]["confidenceScore"] if intents else 0.0,
            prediction=prediction,
            api_key_prefix=api_key_prefix,
            logged=options.get("isLoggingEnabled") is True,
        )
        return {"query": request.text, "prediction": prediction}
    if spec.kind == "QuestionAnswering":
        model = _target_model(spec, kinds=QA_KINDS, access=target_access)
        kb = _target_bundle(model, KnowledgeBaseBundle)
        if qna is None:
            qna = qna_options_parse({}, default_question=request.text)
        return {"answers": kb_answers(model, kb, qna)}
    return external_call(
        spec,
        text=request.text,
        language=request.language,
        parameters=parameters,
        timeout=float(settings.STUDIO_TARGET_TIMEOUT_SECONDS),
        verbose=request.verbose,
    )


def _unshadowed(model: DeployedModel) -> DeployedModel:
    return dataclasses.replace(model, shadow=None)


def _top_confidence(scores: list[tuple[str, float]]) -> float:
    return scores[0][1] if scores else 0.0
