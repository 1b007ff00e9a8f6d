"""The runtime's request bodies, declared once, and Azure's 400 made in one place.

Each body of ``:analyze-conversations`` (kinds ``Conversation`` and, from
2025-05-15-preview, ``ConversationalAI``), ``:query-knowledgebases`` and
``:query-text`` (azure-api.md §1.1, §2.1, §2.3) is a msgspec ``Struct``: the wire
names (camelCase), the types, which fields are required and the bounds a type can
say (non-empty, ``>= 0``, between 0 and 1, one of a list). ``convert`` checks a
body against one and turns the first fault into Azure's 400 naming the field, with
the message the field's declaration implies ("must be an object.", "must be a
non-empty string.", ...; ``Meta(extra={"must": ...})`` when the type alone does
not say it). ``runtime/parsing.py`` then checks what no type can (a query's length
in the message, unique record ids, known index types) and builds the typed
requests the services receive. ``bench/request_parsing.py`` compares msgspec with
DRF serializers on the hot path (``runtime/README.md``, "Request schemas").

``null`` is treated as absent, as Azure does: a required field sent as ``null`` is
"is required.", an optional one takes its default. Of several faults the 400 names
the first in declared order (the order of the fields below), whatever order the
client sent the keys in; the parser's own checks come after the types.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from msgspec import Meta, Struct

from studio.errors import InvalidArgument, InvalidRequest

TARGET_PROJECT_KINDS = ("Luis", "Conversation", "QuestionAnswering", "NonLinked")

NonEmptyString = Annotated[str, Meta(min_length=1)]


def missing(target: str) -> InvalidRequest:
    """Azure's 400 for an absent (or ``null``) required field."""
    return InvalidRequest(f"{target} is required.", target=target)


def invalid(target: str, must: str) -> InvalidArgument:
    """Azure's 400 for a field whose value is wrong: ``"<target> <must>"``."""
    return InvalidArgument(f"{target} {must}", target=target)


# --- :analyze-conversations (§1.1) -------------------------------------------------


class ConversationItem(Struct, rename="camel"):
    id: NonEmptyString
    participant_id: NonEmptyString
    # A query: length and blankness are checked by the parser (the message says
    # how long it is).
    text: str
    language: str | None = None


class AnalysisInput(Struct, rename="camel"):
    conversation_item: ConversationItem


class AnalyzeParameters(Struct, rename="camel"):
    project_name: NonEmptyString
    deployment_name: NonEmptyString
    direct_target: str | None = None
    # One entry per intent name; each value is a ``TargetParameters``, converted
    # on its own so that a fault names the intent (msgspec does not report the
    # key of a faulty map value).
    target_project_parameters: dict[str, Any] | None = None
    verbose: bool | None = None
    is_logging_enabled: bool | None = None
    string_index_type: str | None = None


class AnalyzeBody(Struct, rename="camel"):
    """``kind`` is checked first by the parser, whose message echoes the value."""

    kind: Literal["Conversation"]
    analysis_input: AnalysisInput
    parameters: AnalyzeParameters


class TargetParameters(Struct, rename="camel"):
    """``parameters.targetProjectParameters.<intent>``; ``callingOptions`` are checked
    against the target's own options once its kind is known (``QnaOptionsBody``,
    ``ConversationCallingOptions``)."""

    target_project_kind: (
        Annotated[
            Literal["Luis", "Conversation", "QuestionAnswering", "NonLinked"],
            Meta(
                extra={
                    "must": "must be one of " + ", ".join(TARGET_PROJECT_KINDS) + "."
                }
            ),
        ]
        | None
    ) = None
    calling_options: dict[str, Any] | None = None
    # LUIS's query override: a query of at most 500 characters (parser).
    query: str | None = None


class ConversationCallingOptions(Struct, rename="camel"):
    """``callingOptions`` of an orchestration's Conversation target."""

    language: str | None = None
    verbose: bool | None = None
    is_logging_enabled: bool | None = None


# --- :analyze-conversations, kind ConversationalAI (2025-05-15-preview on) -------
# azure-ai-language-conversations 2.0.0b2's ``ConversationalAITask``: several
# multi-turn text conversations, analyzed with a Conversation project.


class ConversationalAIItem(Struct, rename="camel"):
    """``TextConversationItem``; ``modality`` and ``role`` are accepted and not used
    (Azure's enums are open: any string)."""

    id: NonEmptyString
    participant_id: NonEmptyString
    # Blankness and length are checked by the parser (the message says how long).
    text: str
    language: str | None = None
    modality: str | None = None
    role: str | None = None


class ConversationalAIConversation(Struct, rename="camel"):
    """``TextConversation``. ``language`` (required in the model) defaults to the
    project's; ``modality`` defaults to ``text``, the only one analyzed."""

    id: NonEmptyString
    # Items are converted one by one after their count is checked (parser).
    conversation_items: Annotated[list[Any], Meta(min_length=1)]
    language: str | None = None
    modality: (
        Annotated[
            Literal["text"],
            Meta(
                extra={"must": "must be 'text': only text conversations are analyzed."}
            ),
        ]
        | None
    ) = None
    domain: str | None = None


class ConversationalAIInput(Struct, rename="camel"):
    # Each conversation is converted on its own after the count is checked.
    conversations: Annotated[list[Any], Meta(min_length=1)]


class ConversationalAIParameters(Struct, rename="camel"):
    """``ConversationalAIActionContent``, plus ``isLoggingEnabled`` as on the
    Conversation kind (the 2.0.0b2 model lacks it; a dict body may send it)."""

    project_name: NonEmptyString
    deployment_name: NonEmptyString
    string_index_type: str | None = None
    is_logging_enabled: bool | None = None


class ConversationalAIBody(Struct, rename="camel"):
    kind: Literal["ConversationalAI"]
    analysis_input: ConversationalAIInput
    parameters: ConversationalAIParameters


# --- :query-knowledgebases (§2.1) --------------------------------------------------


class QnaContext(Struct, rename="camel"):
    previous_qna_id: Annotated[int, Meta(ge=0)]
    previous_user_query: str | None = None


class QnaOptionsBody(Struct, rename="camel"):
    """``AnswersOptions``: the body of ``:query-knowledgebases``, and the
    ``callingOptions`` of an orchestration's QuestionAnswering target."""

    qna_id: Annotated[int, Meta(ge=0)] | None = None
    question: str | None = None
    top: Annotated[int, Meta(ge=1)] | None = None
    confidence_score_threshold: Annotated[float, Meta(ge=0, le=1)] | None = None
    # Accepted and checked, not used: answers do not depend on them.
    user_id: str | None = None
    include_unstructured_sources: bool | None = None
    ranker_type: (
        Annotated[
            Literal["Default", "QuestionOnly"],
            Meta(extra={"must": "must be 'Default' or 'QuestionOnly'."}),
        ]
        | None
    ) = None
    context: QnaContext | None = None
    # Typed by the parser into the engine's QnaFilter / SpanRequest, with messages
    # of their own (tests/runtime/test_parsing.py).
    filters: dict[str, Any] | None = None
    answer_span_request: dict[str, Any] | None = None


# --- :query-text (§2.3) ------------------------------------------------------------


class TextRecord(Struct, rename="camel"):
    id: NonEmptyString
    text: NonEmptyString


class TextBody(Struct, rename="camel"):
    question: str
    # Each item is a ``TextRecord``, converted in order after the count is checked.
    records: Annotated[list[Any], Meta(min_length=1)]
    language: str | None = None
    string_index_type: str | None = None


# --- conversion ----------------------------------------------------------------------

_MISSING = re.compile(r"^Object missing required field `([^`]+)`(?: - at `\$(.*)`)?$")
_AT = re.compile(r"^(.*?)(?: - at `\$(.*)`)?$", re.DOTALL)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


def convert[T](data: Any, schema: type[T], *, at: str = "") -> T:
    """``data`` as a ``schema`` instance, or the 400 for its first fault; ``at`` is
    where ``data`` sits in the request body (prefixed to every ``target``)."""
    try:
        return msgspec.convert(data, schema)
    except msgspec.ValidationError as exc:
        raise _first_fault(data, schema, at) or _error(str(exc), schema, at) from None


def _first_fault(
    data: Any, schema: Any, at: str
) -> InvalidRequest | InvalidArgument | None:
    """The first fault of ``data`` in the order ``schema`` declares its fields (not
    the order the client sent them in), so the 400 does not depend on key order.
    Only run once a body is known to be faulty."""
    base, _ = _unwrap(schema)
    if not (isinstance(base, type) and issubclass(base, Struct)) or not isinstance(
        data, dict
    ):
        return None
    for declared in msgspec.structs.fields(base):
        where = _join(at, "." + declared.encode_name)
        value = data.get(declared.encode_name)
        if value is None:
            if declared.required:
                return missing(where)
            continue
        try:
            msgspec.convert(value, declared.type)
        except msgspec.ValidationError as exc:
            return _first_fault(value, declared.type, where) or _error(
                str(exc), declared.type, where
            )
    return None


def _join(at: str, path: str) -> str:
    if not path:
        return at
    if not at:
        return path.removeprefix(".")
    return at + path if path.startswith("[") else f"{at}{path}"


def _error(message: str, schema: type, at: str) -> InvalidRequest | InvalidArgument:
    found = _MISSING.match(message)
    if found:
        return missing(_join(at, f"{found.group(2) or ''}.{found.group(1)}"))
    found = _AT.match(message)
    path = (found.group(2) if found else None) or ""
    target = _join(at, path)
    if message.startswith("Expected ") and ", got `null`" in message:
        return missing(target)
    return invalid(target, _must(_declared_type(schema, path)))


def _declared_type(schema: Any, path: str) -> Any:
    """The type declared for ``path`` (msgspec's ``.field`` / ``[i]`` / ``[...]``
    segments) inside ``schema``."""
    current = schema
    for name, _index in _SEGMENT.findall(path):
        base, _ = _unwrap(current)
        if name:
            fields = {f.encode_name: f.type for f in msgspec.structs.fields(base)}
            current = fields[name]
        else:
            args = get_args(base)
            current = args[-1] if args else Any
    return current


def _unwrap(declared: Any) -> tuple[Any, list[Meta]]:
    """``declared`` without ``| None`` and ``Annotated``, and the ``Meta``s it had."""
    metas: list[Meta] = []
    while True:
        origin = get_origin(declared)
        if origin is Annotated:
            declared, *extras = get_args(declared)
            metas.extend(m for m in extras if isinstance(m, Meta))
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(declared) if a is not type(None)]
            declared = options[0] if len(options) == 1 else declared
            if len(options) != 1:
                return declared, metas
        else:
            return declared, metas


def _must(declared: Any) -> str:
    """What a field of type ``declared`` must be, in the words of Azure's messages."""
    base, metas = _unwrap(declared)
    for meta in metas:
        if meta.extra and "must" in meta.extra:
            return str(meta.extra["must"])
    bounds = {
        key: getattr(meta, key)
        for meta in metas
        for key in ("ge", "le", "min_length")
        if getattr(meta, key) is not None
    }
    origin = get_origin(base) or base
    if origin is Literal:
        return "must be one of " + ", ".join(map(str, get_args(base))) + "."
    if origin is bool:
        return "must be true or false."
    if origin is str:
        if bounds.get("min_length"):
            return "must be a non-empty string."
        return "must be a string."
    if origin is int:
        return f"must be an integer of at least {bounds.get('ge', 0)}."
    if origin is float:
        return f"must be a number between {bounds.get('ge')} and {bounds.get('le')}."
    if origin is list:
        return (
            "must be a non-empty list."
            if bounds.get("min_length")
            else "must be a list."
        )
    return "must be an object."
