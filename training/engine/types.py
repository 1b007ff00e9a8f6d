"""Plain value types shared by the engine's components."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """A labeled entity span; ``offset`` and ``length`` count code points."""

    category: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True, slots=True)
class EntityMatch:
    """A predicted entity; offsets in code points, converted at the API edge."""

    category: str
    offset: int
    length: int
    text: str
    confidence: float = 1.0
    # Azure's extraInformation items: {"extraInformationKind": "ListKey", ...}
    extra_information: tuple[dict[str, Any], ...] = field(default=())
    # Azure's resolutions items, e.g. {"resolutionKind": "NumberResolution", ...}
    resolutions: tuple[dict[str, Any], ...] = field(default=())

    @property
    def end(self) -> int:
        return self.offset + self.length

    def as_span(self) -> Span:
        return Span(self.category, self.offset, self.length)
