"""The value a prebuilt recognizer returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PrebuiltHit:
    """One recognized span: ``kind`` is the catalog category (``Quantity.Number``),
    ``resolutions`` Azure's resolution objects, ``subtype`` Azure's entity subtype
    (``datetime.date``) or "" when Azure has none for it."""

    kind: str
    start: int
    end: int
    resolutions: tuple[dict[str, Any], ...] = field(default=())
    subtype: str = ""

    @property
    def length(self) -> int:
        return self.end - self.start


def select_longest(hits: list[PrebuiltHit]) -> list[PrebuiltHit]:
    """Non-overlapping hits, longest first (earlier start, then earlier in the
    list, breaks ties), sorted by offset."""
    order = sorted(range(len(hits)), key=lambda i: (-hits[i].length, hits[i].start, i))
    taken: list[PrebuiltHit] = []
    for i in order:
        hit = hits[i]
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    return sorted(taken, key=lambda h: (h.start, h.end))
