from __future__ import annotations

import pytest

from training.engine.offsets import (
    OffsetError,
    StringIndexType,
    from_code_points,
    parse_index_type,
    text_length,
    to_code_points,
)

# "👍" is outside the BMP (two UTF-16 units); "e\u0301" is one grapheme of two
# code points; the family emoji is one grapheme of five code points (three astral).
TEXT = "I 👍 cafe\u0301 with 👨\u200d👩\u200d👧 now"


def test_lengths_differ_per_index_type() -> None:
    assert text_length(TEXT, StringIndexType.UNICODE_CODE_POINT) == len(TEXT)
    assert text_length(TEXT, StringIndexType.UTF16_CODE_UNIT) == len(TEXT) + 4
    # 5 code points of the family collapse into 1, e + accent into 1.
    assert text_length(TEXT, StringIndexType.TEXT_ELEMENTS_V8) == len(TEXT) - 5


@pytest.mark.parametrize("index_type", list(StringIndexType))
@pytest.mark.parametrize("word", ["now", "cafe\u0301", "👍", "I"])
def test_round_trip_for_every_index_type(
    index_type: StringIndexType, word: str
) -> None:
    start = TEXT.index(word)
    offset, length = from_code_points(TEXT, start, len(word), index_type)
    assert to_code_points(TEXT, offset, length, index_type) == (start, len(word))


def test_known_values_after_astral_and_combining_characters() -> None:
    start = TEXT.index("now")
    assert from_code_points(TEXT, start, 3, StringIndexType.UTF16_CODE_UNIT) == (
        start + 4,
        3,
    )
    assert from_code_points(TEXT, start, 3, StringIndexType.TEXT_ELEMENTS_V8) == (
        start - 5,
        3,
    )
    accented = TEXT.index("cafe")
    assert from_code_points(TEXT, accented, 5, StringIndexType.TEXT_ELEMENTS_V8) == (
        accented,
        4,
    )


def test_offset_inside_a_surrogate_pair_is_refused() -> None:
    with pytest.raises(OffsetError, match="surrogate"):
        to_code_points(TEXT, 3, 1, StringIndexType.UTF16_CODE_UNIT)


@pytest.mark.parametrize("index_type", list(StringIndexType))
def test_span_past_the_end_is_refused(index_type: StringIndexType) -> None:
    with pytest.raises(OffsetError, match="past the end"):
        to_code_points(TEXT, 2, 500, index_type)


def test_negative_offsets_are_refused() -> None:
    with pytest.raises(OffsetError):
        to_code_points(TEXT, -1, 2, StringIndexType.UNICODE_CODE_POINT)


def test_index_type_names() -> None:
    assert parse_index_type(None) is StringIndexType.TEXT_ELEMENTS_V8
    assert parse_index_type("Utf16CodeUnit") is StringIndexType.UTF16_CODE_UNIT
    with pytest.raises(OffsetError, match="Unknown stringIndexType"):
        parse_index_type("Utf8")
