"""``studio.inputs``: the one decoder for text and JSON entering the studio."""

from __future__ import annotations

import pytest

from studio.errors import InvalidArgument, InvalidRequest, clip
from studio.inputs import MAX_JSON_DEPTH, echo, json_loads, text_decode


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": "\\ud800"}', "lone UTF-16 surrogate (U+D800)"),
        (b'{"a": ["x", {"b": "\\udfff"}]}', "lone UTF-16 surrogate (U+DFFF)"),
        (b'{"\\u0000": 1}', "NUL character"),
        ('{"a": "\ud800"}', "lone UTF-16 surrogate"),  # a str with a raw surrogate
        (b'{"a": NaN}', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": "\x00"}', "NUL character"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested deeper"),
    ],
)
def test_json_loads_refuses_with_the_reason(raw: str | bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        json_loads(raw, what="The file", target="file")
    assert message in info.value.message
    assert info.value.target == "file"


def test_json_loads_accepts_pairs_escapes_and_the_depth_limit() -> None:
    deepest = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_loads(b'\xef\xbb\xbf{"a": "\\ud83d\\ude00 \\\\u0000"}') == {
        "a": "\U0001f600 \\u0000"
    }
    assert json_loads(deepest) is not None


def test_text_decode_refuses_nul() -> None:
    assert text_decode("héllo".encode()) == "héllo"
    with pytest.raises(InvalidRequest, match="NUL"):
        text_decode(b"a\x00b")


def test_echo_and_clip_cut_long_values() -> None:
    assert echo("short") == "'short'"
    long = echo("x" * 1_000)
    assert len(long) < 130 and long.endswith("(1002 characters)")
    assert len(clip("y" * 100_000)) < 1_100
    error = InvalidArgument("z" * 100_000, target="t" * 100_000)
    assert len(str(error.as_azure())) < 3_500  # message twice, and the target
