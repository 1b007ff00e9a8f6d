"""The runtime's request schemas (``runtime/schemas.py``): every fault of a body is
Azure's 400 naming the field, worded from the field's declaration, and the fault
named does not depend on the order in which the client sent the keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runtime.parsing import (
    analyze_request_parse,
    conversation_calling_options_check,
    qna_options_parse,
    text_request_parse,
)
from studio.errors import InvalidArgument, InvalidRequest, StudioError


def _analyze(**parameters: Any) -> dict[str, Any]:
    return {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "u", "text": "hi"}
        },
        "parameters": {"projectName": "p", "deploymentName": "d", **parameters},
    }


def _fault(
    parse: Callable[[dict[str, Any]], object], body: dict[str, Any]
) -> StudioError:
    with pytest.raises(StudioError) as caught:
        parse(body)
    return caught.value


@pytest.mark.parametrize(
    ("parse", "body", "target", "message"),
    [
        (
            analyze_request_parse,
            _analyze(verbose=1),
            "parameters.verbose",
            "must be true or false.",
        ),
        (
            analyze_request_parse,
            _analyze(projectName=""),
            "parameters.projectName",
            "must be a non-empty string.",
        ),
        (
            analyze_request_parse,
            _analyze(stringIndexType=3),
            "parameters.stringIndexType",
            "must be a string.",
        ),
        (
            analyze_request_parse,
            _analyze(targetProjectParameters={"F a": 3}),
            "parameters.targetProjectParameters.F a",
            "must be an object.",
        ),
        (
            analyze_request_parse,
            _analyze(targetProjectParameters={"F": {"targetProjectKind": "Http"}}),
            "parameters.targetProjectParameters.F.targetProjectKind",
            "must be one of Luis, Conversation, QuestionAnswering, NonLinked.",
        ),
        (
            qna_options_parse,
            {"question": "x", "qnaId": True},
            "qnaId",
            "must be an integer of at least 0.",
        ),
        (
            qna_options_parse,
            {"question": "x", "confidenceScoreThreshold": 2},
            "confidenceScoreThreshold",
            "must be a number between 0 and 1.",
        ),
        (
            qna_options_parse,
            {"question": "x", "rankerType": "Z"},
            "rankerType",
            "must be 'Default' or 'QuestionOnly'.",
        ),
        (
            qna_options_parse,
            {"question": "x", "context": {"previousQnaId": -1}},
            "context.previousQnaId",
            "must be an integer of at least 0.",
        ),
        (
            text_request_parse,
            {"question": "q", "records": {}},
            "records",
            "must be a non-empty list.",
        ),
        (
            text_request_parse,
            {"question": "q", "records": [{"id": "a", "text": "t"}, 3]},
            "records[1]",
            "must be an object.",
        ),
    ],
)
def test_a_wrong_value_is_a_400_worded_from_its_declaration(
    parse: Callable[[dict[str, Any]], object],
    body: dict[str, Any],
    target: str,
    message: str,
) -> None:
    fault = _fault(parse, body)
    assert isinstance(fault, InvalidArgument)
    assert fault.target == target
    assert fault.message == f"{target} {message}"


def test_null_is_absent_a_required_null_is_missing() -> None:
    body = _analyze()
    body["analysisInput"]["conversationItem"]["participantId"] = None
    fault = _fault(analyze_request_parse, body)
    assert isinstance(fault, InvalidRequest)
    assert fault.target == "analysisInput.conversationItem.participantId"
    assert fault.message.endswith(" is required.")
    assert (
        analyze_request_parse(_analyze(verbose=None, directTarget=None)).verbose
        is False
    )


def test_the_fault_named_follows_the_declared_order_not_the_clients_key_order() -> None:
    forward = {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "", "participantId": "u", "text": "x"}
        },
        "parameters": {"projectName": 5},
    }
    backward = {key: forward[key] for key in reversed(forward)}
    for body in (forward, backward):
        fault = _fault(analyze_request_parse, body)
        assert fault.target == "analysisInput.conversationItem.id"
    reordered = {"rankerType": "Z", "top": 0, "question": "x"}
    assert _fault(qna_options_parse, reordered).target == "top"


def test_a_prefix_places_the_fault_inside_the_request() -> None:
    prefix = "parameters.targetProjectParameters.Clu.callingOptions"
    with pytest.raises(InvalidArgument) as caught:
        conversation_calling_options_check({"verbose": "yes"}, prefix)
    assert caught.value.target == f"{prefix}.verbose"
