"""Offsets and lengths in Azure's three string index types.

Inside the studio every offset counts Unicode code points (Python ``str`` indices).
Azure clients send and expect one of:

- ``UnicodeCodePoint``: code points, the same as ours;
- ``Utf16CodeUnit``: UTF-16 code units, so characters outside the BMP (most emoji)
  count twice — what .NET and JavaScript strings index by;
- ``TextElements_v8``: extended grapheme clusters (Unicode 8 text elements), so a
  letter with combining marks or an emoji ZWJ sequence counts once.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

import regex


class StringIndexType(StrEnum):
    UTF16_CODE_UNIT = "Utf16CodeUnit"
    UNICODE_CODE_POINT = "UnicodeCodePoint"
    TEXT_ELEMENTS_V8 = "TextElements_v8"


DEFAULT_INDEX_TYPE = StringIndexType.TEXT_ELEMENTS_V8

_GRAPHEME = regex.compile(r"\X")


class OffsetError(ValueError):
    """An offset/length pair that does not fall on the text's unit boundaries."""


def parse_index_type(value: str | None) -> StringIndexType:
    """The enum for an Azure ``stringIndexType`` value; ``None`` gives the default."""
    if value is None:
        return DEFAULT_INDEX_TYPE
    try:
        return StringIndexType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in StringIndexType)
        raise OffsetError(
            f"Unknown stringIndexType {value!r}; expected one of {allowed}."
        ) from None


# Bounded small: one entry of a 5,000-character text holds ~200 KB of boundaries, and
# request texts come from clients. A span conversion re-uses its text's entry for every
# span of that text, which is what the cache is for.
@lru_cache(maxsize=256)
def _boundaries(text: str, index_type: StringIndexType) -> tuple[int, ...]:
    """Code-point position of every unit boundary, ``len(units) + 1`` entries.

    ``result[i]`` is the code-point index where unit ``i`` starts; the last entry is
    ``len(text)``. For code points this is the identity.
    """
    if index_type is StringIndexType.UNICODE_CODE_POINT:
        return tuple(range(len(text) + 1))
    bounds = [0]
    if index_type is StringIndexType.UTF16_CODE_UNIT:
        for i, ch in enumerate(text):
            bounds.append(i + 1)
            if ord(ch) > 0xFFFF:
                # The low surrogate starts no character: it maps to the same boundary
                # as the next code point would, but offsets may not land on it.
                bounds[-1] = -1
                bounds.append(i + 1)
        return tuple(bounds)
    for match in _GRAPHEME.finditer(text):
        bounds.append(match.end())
    return tuple(bounds)


def _unit_count(text: str, index_type: StringIndexType) -> int:
    return len(_boundaries(text, index_type)) - 1


def to_code_points(
    text: str, offset: int, length: int, index_type: StringIndexType
) -> tuple[int, int]:
    """Convert an (offset, length) in ``index_type`` units to code points.

    Raises ``OffsetError`` when the span leaves the text or splits a unit (half of a
    surrogate pair, part of a grapheme cluster).
    """
    if offset < 0 or length < 0:
        raise OffsetError(f"offset {offset} and length {length} must not be negative")
    if index_type is StringIndexType.UNICODE_CODE_POINT:
        if offset + length > len(text):
            raise OffsetError(
                f"span {offset}+{length} runs past the end of the text "
                f"({len(text)} code points)"
            )
        return offset, length
    bounds = _boundaries(text, index_type)
    units = len(bounds) - 1
    if offset + length > units:
        raise OffsetError(
            f"span {offset}+{length} runs past the end of the text "
            f"({units} {index_type} units)"
        )
    start, end = bounds[offset], bounds[offset + length]
    if start < 0 or end < 0:
        raise OffsetError(f"span {offset}+{length} splits a surrogate pair")
    return start, end - start


def from_code_points(
    text: str, offset: int, length: int, index_type: StringIndexType
) -> tuple[int, int]:
    """Convert a code-point (offset, length) to ``index_type`` units.

    For grapheme clusters a span that starts or ends inside a cluster is widened to
    the cluster's boundaries, which is what a reader of the text would call it.
    """
    if index_type is StringIndexType.UNICODE_CODE_POINT:
        return offset, length
    if index_type is StringIndexType.UTF16_CODE_UNIT:
        start = offset + sum(1 for ch in text[:offset] if ord(ch) > 0xFFFF)
        width = length + sum(
            1 for ch in text[offset : offset + length] if ord(ch) > 0xFFFF
        )
        return start, width
    bounds = _boundaries(text, index_type)
    end_cp = offset + length
    start_unit = 0
    end_unit = len(bounds) - 1
    for i, b in enumerate(bounds):
        if b <= offset:
            start_unit = i
        if b >= end_cp:
            end_unit = i
            break
    return start_unit, end_unit - start_unit


def text_length(text: str, index_type: StringIndexType) -> int:
    """Length of ``text`` in ``index_type`` units."""
    if index_type is StringIndexType.UNICODE_CODE_POINT:
        return len(text)
    if index_type is StringIndexType.UTF16_CODE_UNIT:
        return len(text.encode("utf-16-le")) // 2
    return _unit_count(text, index_type)
