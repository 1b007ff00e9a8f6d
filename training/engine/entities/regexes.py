"""The regex component: user patterns compiled once, matched under a time limit.

User patterns can backtrack catastrophically (``(a+)+$``), and one prediction must
never hang a worker, so every search runs with the ``regex`` module's ``timeout``;
a pattern that runs out of time counts as no match for that utterance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import regex

from .definitions import EntityDefinition, language_matches

# Per pattern and utterance; utterances are at most 1,000 characters, so a sane
# pattern finishes in microseconds.
DEFAULT_TIMEOUT_S = 0.05


@dataclass(frozen=True, slots=True)
class RegexHit:
    category: str
    key: str
    pattern: str
    start: int
    end: int


class RegexMatcher:
    def __init__(
        self,
        definitions: Sequence[EntityDefinition],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.timeout = timeout
        self._compiled: list[tuple[str, str, str, str, Any]] = [
            (
                definition.category,
                expression.key,
                expression.pattern,
                expression.language,
                regex.compile(expression.pattern),
            )
            for definition in definitions
            for expression in definition.regex
        ]

    def __getstate__(self) -> dict[str, Any]:
        # Compiled patterns pickle by source anyway; keeping the state explicit
        # makes the round trip independent of the regex module's pickling.
        return {
            "timeout": self.timeout,
            "specs": [(c, k, p, lang) for c, k, p, lang, _ in self._compiled],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.timeout = state["timeout"]
        self._compiled = [
            (c, k, p, lang, regex.compile(p)) for c, k, p, lang in state["specs"]
        ]

    def match(self, text: str, language: str) -> list[RegexHit]:
        hits: list[RegexHit] = []
        for category, key, pattern, declared, compiled in self._compiled:
            if not language_matches(declared, language):
                continue
            try:
                found = [
                    (m.start(), m.end())
                    for m in compiled.finditer(text, timeout=self.timeout)
                    if m.end() > m.start()
                ]
            except TimeoutError:
                continue
            hits.extend(RegexHit(category, key, pattern, s, e) for s, e in found)
        return hits
