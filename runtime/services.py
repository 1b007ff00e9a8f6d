"""The runtime's request-level services: validate, look up, predict, route, log.

``analyze_request_parse`` / ``qna_request_parse`` / ``text_request_parse`` turn a
request body into a typed request or raise Azure's 400 naming the field; the views
call them first (the project name is needed for the access check), then
``conversation_analyze`` / ``knowledgebase_query`` / ``text_query``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from runtime.errors import (
    InternalServerError,
    ServiceUnavailable,
    TooManyRequests,
)
from runtime.predict import (
    NONE_INTENT,
    conversation_prediction,
    envelope,
    intent_scores,
    orchestration_intents,
    target_kind,
)
from runtime.registry import DeployedModel, runtime
from runtime.targets import TargetError, external_call
from studio.errors import InvalidArgument, InvalidRequest, NotFound, StudioError
from studio.inputs import echo
from training.engine.bundles import (
    ConversationBundle,
    KnowledgeBaseBundle,
    OrchestrationBundle,
    TargetSpec,
)
from training.engine.intents import apply_threshold
from training.engine.offsets import OffsetError, StringIndexType, parse_index_type
from training.engine.qna import (
    QnaError,
    _parse_filters,
    _parse_span_request,
    answers_from_text,
)
from training.models import PredictionLog

logger = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 1000
# targetProjectParameters.<intent>.query: the LUIS v3 limit (azure-api.md §5).
MAX_LUIS_QUERY_LENGTH = 500
TARGET_PROJECT_KINDS = ("Luis", "Conversation", "QuestionAnswering", "NonLinked")
# :query-text: Azure documents no exact limits; these keep one request bounded.
MAX_TEXT_RECORDS = 25
MAX_TEXT_RECORD_LENGTH = 5120
CLU_KINDS = ("Conversation", "Orchestration")
QA_KINDS = ("QuestionAnswering",)
QNA_FIELDS = frozenset(
    {
        "qnaId",
        "question",
        "top",
        "userId",
        "confidenceScoreThreshold",
        "context",
        "rankerType",
        "filters",
        "answerSpanRequest",
        "includeUnstructuredSources",
    }
)


# ------------------------------------------------------------------ validation


def _missing(target: str) -> InvalidRequest:
    return InvalidRequest(f"{target} is required.", target=target)


def _object(data: Mapping[str, Any], name: str, target: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        raise _missing(target)
    if not isinstance(value, dict):
        raise InvalidArgument(f"{target} must be an object.", target=target)
    return value


def _optional_object(
    data: Mapping[str, Any], name: str, target: str
) -> dict[str, Any] | None:
    """An optional nested object: absent is ``None``, anything but a JSON object a
    400 naming its full path (so a client sees which of its nested fields is off)."""
    value = data.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidArgument(f"{target} must be an object.", target=target)
    return value


def _string(data: Mapping[str, Any], name: str, target: str) -> str:
    value = data.get(name)
    if value is None:
        raise _missing(target)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{target} must be a non-empty string.", target=target)
    return value


def _optional_string(data: Mapping[str, Any], name: str, target: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{target} must be a string.", target=target)
    return value or None


def _bool(data: Mapping[str, Any], name: str, target: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgument(f"{target} must be true or false.", target=target)
    return value


def _query_text(value: Any, target: str, *, limit: int = MAX_QUERY_LENGTH) -> str:
    if value is None:
        raise _missing(target)
    if not isinstance(value, str):
        raise InvalidArgument(f"{target} must be a string.", target=target)
    if not value.strip():
        raise InvalidArgument(f"{target} must not be empty.", target=target)
    if len(value) > limit:
        raise InvalidArgument(
            f"{target} is {len(value)} characters long; the limit is {limit}.",
            target=target,
        )
    return value


def _index_type(value: Any, target: str) -> StringIndexType:
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{target} must be a string.", target=target)
    try:
        return parse_index_type(value)
    except OffsetError as exc:
        raise InvalidArgument(str(exc), target=target) from None


@dataclass(frozen=True, slots=True)
class AnalyzeRequest:
    text: str
    language: str | None
    project_name: str
    deployment_name: str
    verbose: bool
    logging_enabled: bool
    index_type: StringIndexType
    direct_target: str | None
    target_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)


def analyze_request_parse(body: Mapping[str, Any]) -> AnalyzeRequest:
    """The ``:analyze-conversations`` body (§1.1), or a 400 naming the field."""
    kind = body.get("kind")
    if kind is None:
        raise _missing("kind")
    if kind != "Conversation":
        raise InvalidArgument(
            f"kind {echo(kind)} is not supported; this endpoint serves 'Conversation'.",
            target="kind",
        )
    analysis = _object(body, "analysisInput", "analysisInput")
    item = _object(analysis, "conversationItem", "analysisInput.conversationItem")
    where = "analysisInput.conversationItem"
    _string(item, "id", f"{where}.id")
    _string(item, "participantId", f"{where}.participantId")
    text = _query_text(item.get("text"), f"{where}.text")
    language = _optional_string(item, "language", f"{where}.language")
    parameters = _object(body, "parameters", "parameters")
    project_name = _string(parameters, "projectName", "parameters.projectName")
    deployment_name = _string(parameters, "deploymentName", "parameters.deploymentName")
    direct_target = _optional_string(
        parameters, "directTarget", "parameters.directTarget"
    )
    raw_targets = _optional_object(
        parameters, "targetProjectParameters", "parameters.targetProjectParameters"
    )
    targets: dict[str, dict[str, Any]] = {}
    if raw_targets is not None:
        for name, value in raw_targets.items():
            target = f"parameters.targetProjectParameters.{name}"
            if not isinstance(value, dict):
                raise InvalidArgument(f"{target} must be an object.", target=target)
            _optional_object(value, "callingOptions", f"{target}.callingOptions")
            kind = value.get("targetProjectKind")
            if kind is not None and kind not in TARGET_PROJECT_KINDS:
                raise InvalidArgument(
                    f"{target}.targetProjectKind must be one of "
                    + ", ".join(TARGET_PROJECT_KINDS)
                    + ".",
                    target=f"{target}.targetProjectKind",
                )
            query = value.get("query")
            if query is not None:
                _query_text(query, f"{target}.query", limit=MAX_LUIS_QUERY_LENGTH)
            targets[name] = value
    return AnalyzeRequest(
        text=text,
        language=language,
        project_name=project_name,
        deployment_name=deployment_name,
        verbose=_bool(parameters, "verbose", "parameters.verbose"),
        logging_enabled=_bool(
            parameters, "isLoggingEnabled", "parameters.isLoggingEnabled"
        ),
        index_type=_index_type(
            parameters.get("stringIndexType"), "parameters.stringIndexType"
        ),
        direct_target=direct_target,
        target_parameters=targets,
    )


@dataclass(frozen=True, slots=True)
class QnaOptions:
    """A validated ``AnswersOptions`` (§2.1)."""

    question: str | None
    qna_id: int | None
    top: int
    confidence_threshold: float
    context: dict[str, Any] | None
    ranker_type: str
    filters: dict[str, Any] | None
    answer_span: dict[str, Any] | None


def _int(value: Any, target: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(
            f"{target} must be an integer of at least {minimum}.", target=target
        )
    return value


def qna_options_parse(
    data: Mapping[str, Any],
    *,
    prefix: str = "",
    default_question: str | None = None,
) -> QnaOptions:
    """Validate a question-answering body (or orchestration ``callingOptions``)."""
    qna_id = data.get("qnaId")
    if qna_id is not None:
        qna_id = _int(qna_id, f"{prefix}qnaId", minimum=0)
    question = data.get("question")
    if question is not None or qna_id is None:
        if question is None:
            question = default_question
        question = _query_text(question, f"{prefix}question")
    top = data.get("top")
    top = 3 if top is None else _int(top, f"{prefix}top", minimum=1)
    threshold = data.get("confidenceScoreThreshold")
    if threshold is None:
        threshold = 0.0
    elif (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise InvalidArgument(
            f"{prefix}confidenceScoreThreshold must be a number between 0 and 1.",
            target=f"{prefix}confidenceScoreThreshold",
        )
    # Accepted and checked, not used: answers do not depend on them.
    _optional_string(data, "userId", f"{prefix}userId")
    _bool(data, "includeUnstructuredSources", f"{prefix}includeUnstructuredSources")
    ranker = data.get("rankerType")
    if ranker is None:
        ranker = "Default"
    elif ranker not in ("Default", "QuestionOnly"):
        raise InvalidArgument(
            f"{prefix}rankerType must be 'Default' or 'QuestionOnly'.",
            target=f"{prefix}rankerType",
        )
    context = _optional_object(data, "context", f"{prefix}context")
    if context is not None:
        if context.get("previousQnaId") is None:
            raise _missing(f"{prefix}context.previousQnaId")
        _int(context["previousQnaId"], f"{prefix}context.previousQnaId", minimum=0)
        _optional_string(
            context, "previousUserQuery", f"{prefix}context.previousUserQuery"
        )
    filters = _optional_object(data, "filters", f"{prefix}filters")
    span = _optional_object(data, "answerSpanRequest", f"{prefix}answerSpanRequest")
    # The engine's own parsers (the ones query() runs), here so that a bad filter or
    # span request is a 400 naming the full path before anything is predicted, also
    # for an orchestration's QnA intent that does not win.
    try:
        _parse_filters(filters)
        _parse_span_request(span)
    except QnaError as exc:
        message = str(exc)
        raise InvalidArgument(
            prefix + message, target=prefix + message.split(" ", 1)[0]
        ) from None
    return QnaOptions(
        question=question,
        qna_id=qna_id,
        top=top,
        confidence_threshold=float(threshold),
        context=context,
        ranker_type=ranker,
        filters=filters,
        answer_span=span,
    )


@dataclass(frozen=True, slots=True)
class KnowledgeBaseRequest:
    project_name: str
    deployment_name: str
    options: QnaOptions


def qna_request_parse(
    body: Mapping[str, Any], *, project_name: str | None, deployment_name: str | None
) -> KnowledgeBaseRequest:
    """``:query-knowledgebases`` (§2.1): names from the query string, options from
    the body."""
    if not project_name:
        raise _missing("projectName")
    if not deployment_name:
        raise _missing("deploymentName")
    return KnowledgeBaseRequest(
        project_name=project_name,
        deployment_name=deployment_name,
        options=qna_options_parse(body),
    )


@dataclass(frozen=True, slots=True)
class TextRequest:
    question: str
    records: list[tuple[str, str]]
    language: str
    index_type: StringIndexType


def text_request_parse(body: Mapping[str, Any]) -> TextRequest:
    """``:query-text`` (§2.3)."""
    question = _query_text(body.get("question"), "question")
    raw = body.get("records")
    if raw is None:
        raise _missing("records")
    if not isinstance(raw, list) or not raw:
        raise InvalidArgument("records must be a non-empty list.", target="records")
    if len(raw) > MAX_TEXT_RECORDS:
        raise InvalidArgument(
            f"records has {len(raw)} items; the limit is {MAX_TEXT_RECORDS}.",
            target="records",
        )
    records: list[tuple[str, str]] = []
    seen: set[str] = set()
    for position, record in enumerate(raw):
        target = f"records[{position}]"
        if not isinstance(record, dict):
            raise InvalidArgument(f"{target} must be an object.", target=target)
        record_id = _string(record, "id", f"{target}.id")
        text = record.get("text")
        if text is None:
            raise _missing(f"{target}.text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgument(
                f"{target}.text must be a non-empty string.", target=f"{target}.text"
            )
        if len(text) > MAX_TEXT_RECORD_LENGTH:
            raise InvalidArgument(
                f"{target}.text is {len(text)} characters long; the limit is "
                f"{MAX_TEXT_RECORD_LENGTH}.",
                target=f"{target}.text",
            )
        if record_id in seen:
            raise InvalidArgument(
                f"{target}.id {echo(record_id)} appears more than once.",
                target=f"{target}.id",
            )
        seen.add(record_id)
        records.append((record_id, text))
    language = _optional_string(body, "language", "language") or "en"
    return TextRequest(
        question=question,
        records=records,
        language=language,
        index_type=_index_type(body.get("stringIndexType"), "stringIndexType"),
    )


# ------------------------------------------------------------------ rate limits


def rate_limit_check(*, key_id: int | str) -> None:
    """Count one prediction for the key; raise 429 past the per-minute limit.

    Fixed one-minute windows in the shared cache (Redis when configured), so every
    web process counts against the same number. A cache failure lets the request
    through: the limit protects capacity, it must not take predictions down.
    """
    limit = int(settings.STUDIO_RATE_LIMIT_PER_MINUTE)
    if limit <= 0:
        return
    now = time.time()
    window = int(now // 60)
    key = f"studio:rl:{key_id}:{window}"
    try:
        if cache.add(key, 1, timeout=120):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=120)
                count = 1
    except Exception as exc:  # noqa: BLE001 (any cache backend error fails open)
        logger.warning("Rate limit cache unavailable (%s); request allowed.", exc)
        return
    if count > limit:
        retry_after = max(1, 60 - int(now % 60))
        raise TooManyRequests(
            f"Rate limit of {limit} predictions per minute exceeded for this key. "
            f"Retry after {retry_after} second(s).",
            retry_after=retry_after,
        )


# ------------------------------------------------------------------ prediction


def _bundle(model: DeployedModel, expected: type[Any]) -> Any:
    bundle = runtime().models.get(model)
    if not isinstance(bundle, expected):
        raise InternalServerError(
            f"The model {model.model_id!r} of deployment {model.deployment_name!r} "
            f"holds a {type(bundle).__name__}, not a {expected.__name__}."
        )
    return bundle


def _log(
    *,
    model: DeployedModel,
    text: str,
    language: str | None,
    top_intent: str,
    confidence: float,
    prediction: dict[str, Any],
    api_key_prefix: str,
) -> None:
    """Store a logged query; a database failure loses the row, not the answer."""
    try:
        with transaction.atomic():
            PredictionLog.objects.create(
                project_id=model.project_id,
                deployment_name=model.deployment_name,
                model_id=model.model_id,
                query=text,
                language=language or "",
                top_intent=top_intent,
                confidence=confidence,
                prediction=prediction,
                api_key_prefix=api_key_prefix,
            )
    except DatabaseError:
        logger.exception("Could not store a prediction log row for %s", model)


def _top_confidence(scores: list[tuple[str, float]]) -> float:
    return scores[0][1] if scores else 0.0


# Raises a StudioError (ProjectNotFound, Forbidden) when the caller may not
# predict with the named project; None = a resource key, which may use every project.
TargetAccess = Callable[[str], None]


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
        bundle = _bundle(model, ConversationBundle)
        prediction = conversation_prediction(
            bundle,
            request.text,
            threshold=model.confidence_threshold,
            index_type=request.index_type,
            language=request.language,
        )
        if request.logging_enabled:
            intents = prediction["intents"]
            _log(
                model=model,
                text=request.text,
                language=request.language,
                top_intent=prediction["topIntent"],
                confidence=intents[0]["confidenceScore"] if intents else 0.0,
                prediction=prediction,
                api_key_prefix=api_key_prefix,
            )
        return envelope(request.text, prediction)
    orchestration = _bundle(model, OrchestrationBundle)
    prediction = _orchestrate(
        model,
        orchestration,
        request,
        api_key_prefix=api_key_prefix,
        target_access=target_access,
    )
    return envelope(_direct_query(request), prediction)


def _direct_query(request: AnalyzeRequest) -> str:
    """``result.query`` of an orchestration answer. As in Azure's directTarget
    example, a question the caller forces on the direct target (its
    ``callingOptions.question``) is the query answered; otherwise the text."""
    if request.direct_target is None:
        return request.text
    options = request.target_parameters.get(request.direct_target, {})
    question = (options.get("callingOptions") or {}).get("question")
    return question if isinstance(question, str) and question else request.text


def _orchestrate(
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
            _optional_string(options, "language", f"{prefix}.language")
            _bool(options, "verbose", f"{prefix}.verbose")
            _bool(options, "isLoggingEnabled", f"{prefix}.isLoggingEnabled")
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
        top_intent = apply_threshold(scores, model.confidence_threshold, NONE_INTENT)
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
    if request.logging_enabled:
        _log(
            model=model,
            text=request.text,
            language=request.language,
            top_intent=top_intent,
            confidence=_top_confidence(scores),
            prediction=prediction,
            api_key_prefix=api_key_prefix,
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
        return _bundle(model, expected)
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
            index_type=request.index_type,
            language=language,
        )
        if options.get("isLoggingEnabled") is True:
            intents = prediction["intents"]
            _log(
                model=model,
                text=request.text,
                language=language,
                top_intent=prediction["topIntent"],
                confidence=intents[0]["confidenceScore"] if intents else 0.0,
                prediction=prediction,
                api_key_prefix=api_key_prefix,
            )
        return {"query": request.text, "prediction": prediction}
    if spec.kind == "QuestionAnswering":
        model = _target_model(spec, kinds=QA_KINDS, access=target_access)
        kb = _target_bundle(model, KnowledgeBaseBundle)
        if qna is None:
            qna = qna_options_parse({}, default_question=request.text)
        return {"answers": _answers(model, kb, qna)}
    return external_call(
        spec,
        text=request.text,
        language=request.language,
        parameters=parameters,
        timeout=float(settings.STUDIO_TARGET_TIMEOUT_SECONDS),
        verbose=request.verbose,
    )


def _answers(
    model: DeployedModel, bundle: KnowledgeBaseBundle, options: QnaOptions
) -> list[dict[str, Any]]:
    try:
        answers = bundle.kb.query(
            options.question,
            qna_id=options.qna_id,
            top=options.top,
            confidence_threshold=options.confidence_threshold,
            filters=options.filters,
            context=options.context,
            ranker_type=options.ranker_type,
            answer_span=options.answer_span,
        )
    except QnaError as exc:
        message = str(exc)
        raise InvalidArgument(message, target=message.split(" ", 1)[0]) from None
    # The project's default answer may change after deployment without a rebuild.
    if model.default_answer and len(answers) == 1 and answers[0].get("id") == -1:
        answers[0]["answer"] = model.default_answer
    return answers


def knowledgebase_query(request: KnowledgeBaseRequest) -> dict[str, Any]:
    """``:query-knowledgebases``: answers from a deployed knowledge base."""
    model = runtime().directory.lookup(
        request.project_name, request.deployment_name, kinds=QA_KINDS
    )
    bundle = _bundle(model, KnowledgeBaseBundle)
    return {"answers": _answers(model, bundle, request.options)}


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


def prediction_logs_purge(*, now: datetime | None = None) -> int:
    """Delete logged queries older than ``STUDIO_PREDICTION_LOG_RETENTION_DAYS``
    (0 keeps them forever); run by the worker's periodic sweep."""
    days = int(settings.STUDIO_PREDICTION_LOG_RETENTION_DAYS)
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = PredictionLog.objects.filter(created_at__lt=cutoff).delete()
    return int(deleted)
