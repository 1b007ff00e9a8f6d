"""Request parsing of the runtime: a request body in, a typed request out, or Azure's
400 (``InvalidRequest`` / ``InvalidArgument``) naming the field.

The bodies' shapes are declared once in ``runtime/schemas.py`` (msgspec structs,
whose faults become the 400s there); this module checks what a type cannot say (a
query's length, unique record ids, known index types, QnA filters and span
requests) and builds the typed requests below.

``analyze_body_parse`` (both kinds of ``:analyze-conversations``, by ``kind`` and
api-version) / ``qna_request_parse`` / ``text_request_parse`` are called
by the views first (the project name is needed for the access check); the services
then work on the typed values only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime import schemas
from runtime.schemas import convert, invalid, missing
from studio.api.versions import CONVERSATIONAL_AI_VERSIONS, has_conversational_ai
from studio.errors import InvalidArgument
from studio.inputs import echo
from training.engine.offsets import OffsetError, StringIndexType, parse_index_type
from training.engine.qna import QnaFilter, SpanRequest
from training.engine.text import normalize

MAX_QUERY_LENGTH = 1000
# targetProjectParameters.<intent>.query: the LUIS v3 limit (azure-api.md §5).
MAX_LUIS_QUERY_LENGTH = 500
# :query-text: Azure documents no exact limits; these keep one request bounded.
MAX_TEXT_RECORDS = 25
MAX_TEXT_RECORD_LENGTH = 5120
# kind ConversationalAI: Azure documents no limits for it. Each item is predicted
# as one query (at most MAX_QUERY_LENGTH characters): a request costs about one
# single-query prediction per item (a 100-item one measured 126 single queries'
# time on the shared test machine), so the items of all conversations of a
# request together are bounded, and each counts against the rate limit.
MAX_CONVERSATIONS = 10
MAX_CONVERSATION_ITEMS = 100
MAX_CONVERSATIONAL_AI_CHARACTERS = 25_000

CONVERSATION_KIND = "Conversation"
CONVERSATIONAL_AI_KIND = "ConversationalAI"


def _query_text(
    value: str | None, target: str, *, limit: int = MAX_QUERY_LENGTH
) -> str:
    """A query whose type the schema checked: present, not blank, within ``limit``."""
    if value is None:
        raise missing(target)
    if not value.strip():
        raise invalid(target, "must not be empty.")
    if len(value) > limit:
        raise invalid(target, f"is {len(value)} characters long; the limit is {limit}.")
    return value


def _index_type(value: str | None, target: str) -> StringIndexType:
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


def analysis_kinds(api_version: str) -> tuple[str, ...]:
    """The ``kind`` values ``:analyze-conversations`` serves on ``api_version``."""
    if has_conversational_ai(api_version):
        return (CONVERSATION_KIND, CONVERSATIONAL_AI_KIND)
    return (CONVERSATION_KIND,)


def _kind(body: Mapping[str, Any], kinds: tuple[str, ...], api_version: str) -> str:
    kind = body.get("kind")
    if kind is None:
        raise missing("kind")
    if kind in kinds:
        return str(kind)
    served = " and ".join(repr(k) for k in kinds)
    message = f"kind {echo(kind)} is not supported; this endpoint serves {served}"
    if api_version:
        message += f" on api-version {api_version}"
    if kind == CONVERSATIONAL_AI_KIND:
        message += (
            " ('ConversationalAI' needs api-version "
            + " or ".join(CONVERSATIONAL_AI_VERSIONS)
            + ")"
        )
    raise InvalidArgument(message + ".", target="kind")


def analyze_body_parse(
    body: Mapping[str, Any], *, api_version: str
) -> AnalyzeRequest | ConversationalAIRequest:
    """Either kind of ``:analyze-conversations`` body, as ``api_version`` allows."""
    kind = _kind(body, analysis_kinds(api_version), api_version)
    if kind == CONVERSATIONAL_AI_KIND:
        return conversational_ai_request_parse(body)
    return analyze_request_parse(body)


def analyze_request_parse(body: Mapping[str, Any]) -> AnalyzeRequest:
    """The ``:analyze-conversations`` body of kind ``Conversation`` (§1.1), or a 400
    naming the field."""
    _kind(body, (CONVERSATION_KIND,), "")
    parsed = convert(body, schemas.AnalyzeBody)
    item = parsed.analysis_input.conversation_item
    text = _query_text(item.text, "analysisInput.conversationItem.text")
    parameters = parsed.parameters
    targets: dict[str, dict[str, Any]] = {}
    for name, value in (parameters.target_project_parameters or {}).items():
        where = f"parameters.targetProjectParameters.{name}"
        target = convert(value, schemas.TargetParameters, at=where)
        if target.query is not None:
            _query_text(target.query, f"{where}.query", limit=MAX_LUIS_QUERY_LENGTH)
        targets[name] = value
    return AnalyzeRequest(
        text=text,
        language=item.language or None,
        project_name=parameters.project_name,
        deployment_name=parameters.deployment_name,
        verbose=bool(parameters.verbose),
        logging_enabled=bool(parameters.is_logging_enabled),
        index_type=_index_type(
            parameters.string_index_type, "parameters.stringIndexType"
        ),
        direct_target=parameters.direct_target or None,
        target_parameters=targets,
    )


@dataclass(frozen=True, slots=True)
class ConversationTurn:
    """One item of a multi-turn conversation."""

    id: str
    participant_id: str
    text: str
    language: str | None
    role: str | None


@dataclass(frozen=True, slots=True)
class ConversationInput:
    id: str
    language: str | None
    items: tuple[ConversationTurn, ...]


@dataclass(frozen=True, slots=True)
class ConversationalAIRequest:
    """``kind: ConversationalAI`` (2025-05-15-preview on): conversations of several
    items, analyzed with a Conversation project."""

    project_name: str
    deployment_name: str
    index_type: StringIndexType
    logging_enabled: bool
    conversations: tuple[ConversationInput, ...]


def conversational_ai_request_parse(body: Mapping[str, Any]) -> ConversationalAIRequest:
    """The ``ConversationalAITask`` body, or a 400 naming the field. Conversation ids
    are unique in the request and item ids in their conversation (results name
    them); the conversations, and the items and characters of all of them
    together, are bounded."""
    parsed = convert(body, schemas.ConversationalAIBody)
    raw_conversations = parsed.analysis_input.conversations
    if len(raw_conversations) > MAX_CONVERSATIONS:
        raise invalid(
            "analysisInput.conversations",
            f"has {len(raw_conversations)} items; the limit is {MAX_CONVERSATIONS}.",
        )
    conversations: list[ConversationInput] = []
    conversation_ids: set[str] = set()
    characters = 0
    item_count = 0
    for position, raw in enumerate(raw_conversations):
        where = f"analysisInput.conversations[{position}]"
        conversation = convert(raw, schemas.ConversationalAIConversation, at=where)
        if conversation.id in conversation_ids:
            raise invalid(
                f"{where}.id", f"{echo(conversation.id)} appears more than once."
            )
        conversation_ids.add(conversation.id)
        raw_items = conversation.conversation_items
        item_count += len(raw_items)
        if item_count > MAX_CONVERSATION_ITEMS:
            raise invalid(
                "analysisInput.conversations",
                f"hold more than {MAX_CONVERSATION_ITEMS} conversation items "
                f"together (the limit, passed at {where}).",
            )
        items: list[ConversationTurn] = []
        item_ids: set[str] = set()
        for index, raw_item in enumerate(raw_items):
            at = f"{where}.conversationItems[{index}]"
            item = convert(raw_item, schemas.ConversationalAIItem, at=at)
            if item.id in item_ids:
                raise invalid(f"{at}.id", f"{echo(item.id)} appears more than once.")
            item_ids.add(item.id)
            text = _query_text(item.text, f"{at}.text")
            characters += len(text)
            if characters > MAX_CONVERSATIONAL_AI_CHARACTERS:
                raise invalid(
                    "analysisInput.conversations",
                    "hold more than "
                    f"{MAX_CONVERSATIONAL_AI_CHARACTERS:,} characters of text "
                    f"(the limit, reached at {at}).",
                )
            items.append(
                ConversationTurn(
                    id=item.id,
                    participant_id=item.participant_id,
                    text=text,
                    language=item.language or None,
                    role=item.role or None,
                )
            )
        conversations.append(
            ConversationInput(
                id=conversation.id,
                language=conversation.language or None,
                items=tuple(items),
            )
        )
    parameters = parsed.parameters
    return ConversationalAIRequest(
        project_name=parameters.project_name,
        deployment_name=parameters.deployment_name,
        index_type=_index_type(
            parameters.string_index_type, "parameters.stringIndexType"
        ),
        logging_enabled=bool(parameters.is_logging_enabled),
        conversations=tuple(conversations),
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


def qna_options_parse(
    data: Mapping[str, Any],
    *,
    prefix: str = "",
    default_question: str | None = None,
) -> QnaOptions:
    """Validate a question-answering body (or orchestration ``callingOptions``;
    ``prefix`` is their path, ending in a dot)."""
    parsed = convert(data, schemas.QnaOptionsBody, at=prefix.removesuffix("."))
    question = parsed.question
    if question is not None or parsed.qna_id is None:
        if question is None:
            question = default_question
        question = _query_text(question, f"{prefix}question")
    # Parsed here, so that a bad filter or span request is a 400 naming the full path
    # before anything is predicted, also for an orchestration's QnA intent that does
    # not win; the engine receives the typed values.
    try:
        filters = qna_filter_parse(parsed.filters)
        span = span_request_parse(parsed.answer_span_request)
    except _FieldError as exc:
        message = str(exc)
        raise InvalidArgument(
            prefix + message, target=prefix + message.split(" ", 1)[0]
        ) from None
    threshold = parsed.confidence_score_threshold
    return QnaOptions(
        question=question,
        qna_id=parsed.qna_id,
        top=3 if parsed.top is None else parsed.top,
        confidence_threshold=0.0 if threshold is None else float(threshold),
        context=data.get("context"),
        ranker_type=parsed.ranker_type or "Default",
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
        raise missing("projectName")
    if not deployment_name:
        raise missing("deploymentName")
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
    parsed = convert(body, schemas.TextBody)
    question = _query_text(parsed.question, "question")
    if len(parsed.records) > MAX_TEXT_RECORDS:
        raise invalid(
            "records",
            f"has {len(parsed.records)} items; the limit is {MAX_TEXT_RECORDS}.",
        )
    records: list[tuple[str, str]] = []
    seen: set[str] = set()
    for position, raw in enumerate(parsed.records):
        target = f"records[{position}]"
        record = convert(raw, schemas.TextRecord, at=target)
        if not record.text.strip():
            raise invalid(f"{target}.text", "must be a non-empty string.")
        if len(record.text) > MAX_TEXT_RECORD_LENGTH:
            raise invalid(
                f"{target}.text",
                f"is {len(record.text)} characters long; the limit is "
                f"{MAX_TEXT_RECORD_LENGTH}.",
            )
        if record.id in seen:
            raise invalid(f"{target}.id", f"{echo(record.id)} appears more than once.")
        seen.add(record.id)
        records.append((record.id, record.text))
    return TextRequest(
        question=question,
        records=records,
        language=parsed.language or "en",
        index_type=_index_type(parsed.string_index_type, "stringIndexType"),
    )


def conversation_calling_options_check(options: Mapping[str, Any], prefix: str) -> None:
    """The ``callingOptions`` of an orchestration's Conversation target: checked up
    front (a bad option is the caller's mistake whichever intent wins)."""
    convert(options, schemas.ConversationCallingOptions, at=prefix)
