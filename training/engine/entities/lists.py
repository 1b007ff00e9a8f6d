"""The list component: synonyms matched on token boundaries, longest match first.

Synonyms and text are compared token by token after ``normalize`` (case and
diacritics folded), so "Cafe" in a list matches "café" in an utterance, while "lamp"
never matches inside "lamps". At each position the longest synonym wins, and the
scan resumes after it, so "living room lamp 1" is one match, not "lamp 1" too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..text import normalize
from .definitions import EntityDefinition, language_matches
from .tokens import Token, tokenize


@dataclass(frozen=True, slots=True)
class ListHit:
    category: str
    key: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Entry:
    category: str
    key: str
    language: str


class ListMatcher:
    """Every list synonym of every entity, indexed by its normalized token tuple."""

    def __init__(self, definitions: Sequence[EntityDefinition]) -> None:
        self._entries: dict[tuple[str, ...], list[_Entry]] = {}
        self.max_tokens = 0
        for definition in definitions:
            for sublist in definition.list_sublists:
                for language, values in sublist.synonyms.items():
                    for value in values:
                        key = tuple(normalize(t.text) for t in tokenize(value))
                        if not key:
                            continue
                        entry = _Entry(definition.category, sublist.key, language)
                        bucket = self._entries.setdefault(key, [])
                        if entry not in bucket:
                            bucket.append(entry)
                        self.max_tokens = max(self.max_tokens, len(key))

    def match(
        self, tokens: Sequence[Token], normalized: Sequence[str], language: str
    ) -> list[ListHit]:
        """Longest-first matches; each entity scans independently so that two
        entities listing the same words both match."""
        if not self._entries:
            return []
        hits: list[ListHit] = []
        # Next free token position per entity: a match hides shorter ones inside it
        # for the same entity only.
        free_from: dict[str, int] = {}
        n = len(tokens)
        for i in range(n):
            upper = min(self.max_tokens, n - i)
            for length in range(upper, 0, -1):
                entries = self._entries.get(tuple(normalized[i : i + length]))
                if not entries:
                    continue
                for entry in entries:
                    if free_from.get(entry.category, 0) > i:
                        continue
                    if not language_matches(entry.language, language):
                        continue
                    hits.append(
                        ListHit(
                            entry.category,
                            entry.key,
                            tokens[i].start,
                            tokens[i + length - 1].end,
                        )
                    )
                    free_from[entry.category] = i + length
        return _dedupe(hits)


def _dedupe(hits: list[ListHit]) -> list[ListHit]:
    """One hit per (entity, span): the first key listed wins when two sublists of
    one entity share a synonym."""
    seen: set[tuple[str, int, int]] = set()
    kept: list[ListHit] = []
    for hit in hits:
        ident = (hit.category, hit.start, hit.end)
        if ident not in seen:
            seen.add(ident)
            kept.append(hit)
    return kept
