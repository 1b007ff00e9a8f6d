"""Request parsing of the runtime: a request body in, a typed request out, or Azure's
400 (``InvalidRequest`` / ``InvalidArgument``) naming the field.

``analyze_request_parse`` / ``qna_request_parse`` / ``text_request_parse`` are called
by the views first (the project name is needed for the access check); the services
then work on the typed values only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.errors import InvalidArgument, InvalidRequest
from studio.inputs import echo
from training.engine.offsets import OffsetError, StringIndexType, parse_index_type
from training.engine.qna import QnaFilter, SpanRequest
from training.engine.text import normalize

MAX_QUERY_LENGTH = 1000
# targetProjectParameters.<intent>.query: the LUIS v3 limit (azure-api.md §5).
MAX_LUIS_QUERY_LENGTH = 500
TARGET_PROJECT_KINDS = ("Luis", "Conversation", "QuestionAnswering", "NonLinked")
# :query-text: Azure documents no exact limits; these keep one request bounded.
MAX_TEXT_RECORDS = 25
MAX_TEXT_RECORD_LENGTH = 5120
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


class _FieldError(ValueError):
    """A bad field inside question-answering options; its message starts with the
    field's path, which ``qna_options_parse`` prefixes and turns into a 400."""


def _logical(value: Any, where: str) -> str:
    if value is None:
        return "AND"
    if isinstance(value, str) and value.upper() in ("AND", "OR"):
        return value.upper()
    raise _FieldError(f"{where} must be 'AND' or 'OR', got {value!r}")


def qna_filter_parse(filters: Mapping[str, Any] | None) -> QnaFilter | None:
    """``filters`` of a question-answering request, or ``_FieldError`` naming the
    field (paths relative to the options object)."""
    if filters is None:
        return None
    if not isinstance(filters, Mapping):
        raise _FieldError("filters must be an object")
    unknown = set(filters) - {"metadataFilter", "sourceFilter", "logicalOperation"}
    if unknown:
        raise _FieldError(f"filters has unknown field(s): {', '.join(sorted(unknown))}")
    metadata: tuple[tuple[str, str], ...] | None = None
    metadata_op = "AND"
    raw_metadata = filters.get("metadataFilter")
    if raw_metadata is not None:
        if not isinstance(raw_metadata, Mapping):
            raise _FieldError("filters.metadataFilter must be an object")
        metadata_op = _logical(
            raw_metadata.get("logicalOperation"),
            "filters.metadataFilter.logicalOperation",
        )
        items = raw_metadata.get("metadata") or []
        if not isinstance(items, list):
            raise _FieldError("filters.metadataFilter.metadata must be a list")
        pairs: list[tuple[str, str]] = []
        for position, item in enumerate(items):
            if (
                not isinstance(item, Mapping)
                or not isinstance(item.get("key"), str)
                or not isinstance(item.get("value"), str)
            ):
                raise _FieldError(
                    f"filters.metadataFilter.metadata[{position}] needs string "
                    "'key' and 'value'"
                )
            pairs.append((normalize(item["key"]), normalize(item["value"])))
        metadata = tuple(pairs) or None
    sources: frozenset[str] | None = None
    raw_sources = filters.get("sourceFilter")
    if raw_sources is not None:
        if not isinstance(raw_sources, list) or not all(
            isinstance(s, str) for s in raw_sources
        ):
            raise _FieldError("filters.sourceFilter must be a list of strings")
        sources = frozenset(raw_sources) or None
    op = _logical(filters.get("logicalOperation"), "filters.logicalOperation")
    if metadata is None and sources is None:
        return None
    return QnaFilter(metadata, metadata_op, sources, op)


def span_request_parse(answer_span: Mapping[str, Any] | None) -> SpanRequest | None:
    """``answerSpanRequest``, or ``_FieldError`` naming the field."""
    if answer_span is None:
        return None
    if not isinstance(answer_span, Mapping):
        raise _FieldError("answerSpanRequest must be an object")
    # Azure treats a span request without ``enable`` as enabled (200): sending
    # the object is the request. Only an explicit non-true value is refused.
    if answer_span.get("enable", True) is not True:
        raise _FieldError(
            "answerSpanRequest.enable must be true when the object is sent"
        )
    threshold = answer_span.get("confidenceScoreThreshold", 0.0)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise _FieldError(
            "answerSpanRequest.confidenceScoreThreshold must be between 0 and 1"
        )
    top = answer_span.get("topAnswersWithSpan", 1)
    if isinstance(top, bool) or not isinstance(top, int):
        raise _FieldError(
            f"answerSpanRequest.topAnswersWithSpan must be an integer, got {top!r}"
        )
    if not 1 <= top <= 10:
        raise _FieldError(
            "answerSpanRequest.topAnswersWithSpan must be between 1 and 10"
        )
    return SpanRequest(float(threshold), top)


@dataclass(frozen=True, slots=True)
class QnaOptions:
    """A validated ``AnswersOptions`` (§2.1)."""

    question: str | None
    qna_id: int | None
    top: int
    confidence_threshold: float
    context: dict[str, Any] | None
    ranker_type: str
    filters: QnaFilter | None
    answer_span: SpanRequest | None


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
    raw_filters = _optional_object(data, "filters", f"{prefix}filters")
    raw_span = _optional_object(data, "answerSpanRequest", f"{prefix}answerSpanRequest")
    # Parsed here, so that a bad filter or span request is a 400 naming the full path
    # before anything is predicted, also for an orchestration's QnA intent that does
    # not win; the engine receives the typed values.
    try:
        filters = qna_filter_parse(raw_filters)
        span = span_request_parse(raw_span)
    except _FieldError as exc:
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


def conversation_calling_options_check(options: Mapping[str, Any], prefix: str) -> None:
    """The ``callingOptions`` of an orchestration's Conversation target: checked up
    front (a bad option is the caller's mistake whichever intent wins)."""
    _optional_string(options, "language", f"{prefix}.language")
    _bool(options, "verbose", f"{prefix}.verbose")
    _bool(options, "isLoggingEnabled", f"{prefix}.isLoggingEnabled")
