"""Request parsing of question-answering options (``runtime/parsing.py``): a bad
``filters`` or ``answerSpanRequest`` is a 400 naming its full path, before anything
is predicted; the engine only ever receives the typed values."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.parsing import qna_options_parse
from studio.errors import InvalidArgument
from training.engine.qna import QnaFilter, SpanRequest


@pytest.mark.parametrize(
    ("options", "target", "message"),
    [
        ({"filters": {"bogus": 1}}, "filters", "unknown field"),
        (
            {"filters": {"metadataFilter": {"metadata": [{"key": 1}]}}},
            "filters.metadataFilter.metadata[0]",
            r"metadata\[0\] needs string",
        ),
        (
            {"filters": {"logicalOperation": "XOR"}},
            "filters.logicalOperation",
            "'AND' or 'OR'",
        ),
        (
            {"filters": {"sourceFilter": "a.pdf"}},
            "filters.sourceFilter",
            "list of strings",
        ),
        (
            {"answerSpanRequest": {"enable": False}},
            "answerSpanRequest.enable",
            "enable must be true",
        ),
        (
            {"answerSpanRequest": {"topAnswersWithSpan": 11}},
            "answerSpanRequest.topAnswersWithSpan",
            "between 1 and 10",
        ),
        (
            {"answerSpanRequest": {"topAnswersWithSpan": "2"}},
            "answerSpanRequest.topAnswersWithSpan",
            "must be an integer",
        ),
    ],
)
def test_bad_filters_and_span_requests_are_400s_naming_the_field(
    options: dict[str, Any], target: str, message: str
) -> None:
    prefix = "parameters.targetProjectParameters.Faq.callingOptions."
    with pytest.raises(InvalidArgument, match=message) as caught:
        qna_options_parse({"question": "x", **options}, prefix=prefix)
    assert caught.value.target == prefix + target
    assert caught.value.message.startswith(prefix)


def test_filters_and_span_request_come_out_typed() -> None:
    options = qna_options_parse(
        {
            "question": "opening hours",
            "filters": {
                "metadataFilter": {
                    "metadata": [{"key": "Category", "value": "Hours"}],
                    "logicalOperation": "or",
                },
                "sourceFilter": ["faq.tsv"],
            },
            "answerSpanRequest": {"confidenceScoreThreshold": 0.5},
        }
    )
    assert options.filters == QnaFilter(
        metadata=(("category", "hours"),),
        metadata_op="OR",
        sources=frozenset({"faq.tsv"}),
        op="AND",
    )
    assert options.answer_span == SpanRequest(threshold=0.5, top=1)


def test_an_empty_filter_is_no_filter() -> None:
    options = qna_options_parse({"question": "x", "filters": {"sourceFilter": []}})
    assert options.filters is None
    assert options.answer_span is None
