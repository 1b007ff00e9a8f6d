"""Combining one entity's component matches per ``compositionSetting`` and
filtering them by ``requiredComponents`` (Azure's "entity options").

Matches of one entity that overlap form a group (overlap is transitive: A overlaps
B, B overlaps C). Then:

- ``combineComponents``: one entity per group, spanning the union of its matches,
  with every list key, regex key and resolution of the group;
- ``separateComponents``: every match is its own entity;
- ``returnLongestOverlap``: the longest match of the group, with its own extras;
- ``requireExactOverlap``: an entity only where every component the entity defines
  matched the exact same characters.

``requiredComponents``: a group missing any required component returns nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import EntityMatch
from .definitions import (
    COMBINE_COMPONENTS,
    COMPONENT_LEARNED,
    COMPONENT_LIST,
    COMPONENT_PREBUILTS,
    COMPONENT_REGEX,
    REQUIRE_EXACT_OVERLAP,
    RETURN_LONGEST_OVERLAP,
    SEPARATE_COMPONENTS,
)

# Which match wins a tie on length under returnLongestOverlap: the labelled
# context first, then the user's own lists and patterns, then the generic prebuilts.
_PRIORITY = {
    COMPONENT_LEARNED: 0,
    COMPONENT_LIST: 1,
    COMPONENT_REGEX: 2,
    COMPONENT_PREBUILTS: 3,
}


@dataclass(frozen=True, slots=True)
class ComponentMatch:
    component: str
    start: int
    end: int
    confidence: float = 1.0
    extra_information: tuple[dict[str, Any], ...] = field(default=())
    resolutions: tuple[dict[str, Any], ...] = field(default=())

    @property
    def length(self) -> int:
        return self.end - self.start


def _groups(matches: Sequence[ComponentMatch]) -> list[list[ComponentMatch]]:
    groups: list[list[ComponentMatch]] = []
    group_end = -1
    for match in sorted(matches, key=lambda m: (m.start, -m.end)):
        if groups and match.start < group_end:
            groups[-1].append(match)
            group_end = max(group_end, match.end)
        else:
            groups.append([match])
            group_end = match.end
    return groups


def _unique(items: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    kept: list[dict[str, Any]] = []
    for item in items:
        if item not in kept:
            kept.append(item)
    return tuple(kept)


def _entity(category: str, text: str, matches: Sequence[ComponentMatch]) -> EntityMatch:
    start = min(m.start for m in matches)
    end = max(m.end for m in matches)
    return EntityMatch(
        category=category,
        offset=start,
        length=end - start,
        text=text[start:end],
        confidence=max(m.confidence for m in matches),
        extra_information=_unique(x for m in matches for x in m.extra_information),
        resolutions=_unique(r for m in matches for r in m.resolutions),
    )


def compose(
    *,
    category: str,
    text: str,
    matches: Sequence[ComponentMatch],
    setting: str,
    required: frozenset[str],
    defined: frozenset[str],
) -> list[EntityMatch]:
    """The entities ``category`` returns for ``text`` given its component matches;
    ``defined`` names the components the entity has (for requireExactOverlap)."""
    if not matches:
        return []
    result: list[EntityMatch] = []
    for group in _groups(matches):
        if not required <= {m.component for m in group}:
            continue
        if setting == SEPARATE_COMPONENTS:
            seen: set[tuple[str, int, int]] = set()
            for m in group:
                if (m.component, m.start, m.end) not in seen:
                    seen.add((m.component, m.start, m.end))
                    result.append(_entity(category, text, [m]))
        elif setting == RETURN_LONGEST_OVERLAP:
            best = min(
                group,
                key=lambda m: (-m.length, _PRIORITY[m.component], m.start),
            )
            result.append(_entity(category, text, [best]))
        elif setting == REQUIRE_EXACT_OVERLAP:
            by_span: dict[tuple[int, int], list[ComponentMatch]] = {}
            for m in group:
                by_span.setdefault((m.start, m.end), []).append(m)
            for same in by_span.values():
                components = {m.component for m in same}
                if defined <= components and required <= components:
                    result.append(_entity(category, text, same))
        else:
            if setting != COMBINE_COMPONENTS:
                raise ValueError(f"unknown compositionSetting {setting!r}")
            result.append(_entity(category, text, group))
    return result
