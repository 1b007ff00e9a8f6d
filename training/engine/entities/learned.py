"""The learned component: a linear-chain CRF over tokens with BIO tags.

One model labels every learned entity at once (``B-Sender``, ``I-Sender``, ``O``).
Features are the token's form (lowercase, normalized, affixes, shape), its
neighbours, and which list/regex/prebuilt components cover it, so a learned entity
can lean on "this is a known device name" or "this is a date" without depending on
it. The trained model lives in the object as bytes, so the object pickles, and a
``pycrfsuite.Tagger`` is reopened from them in memory after unpickling.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pycrfsuite
import regex

from ..types import Span
from .tokens import Token

OUTSIDE = "O"
_NOT_WORD = regex.compile(r"\W")
_SHAPE_RUNS = regex.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class LearnedHit:
    category: str
    start: int
    end: int
    confidence: float


@lru_cache(maxsize=65536)
def _shape(word: str) -> str:
    shape = "".join(
        "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        for ch in word
    )
    return _SHAPE_RUNS.sub(r"\1", shape)


def token_features(
    tokens: Sequence[Token],
    normalized: Sequence[str],
    memberships: Sequence[Sequence[str]],
) -> list[list[str]]:
    """Feature strings for each token. ``memberships[i]`` names the non-learned
    components that cover token ``i`` (``list:Device``, ``pb:DateTime``...)."""
    n = len(tokens)
    words = [t.text.lower() for t in tokens]
    shapes = [_shape(t.text) for t in tokens]
    features: list[list[str]] = []
    for i, token in enumerate(tokens):
        word, norm = words[i], normalized[i]
        f = [
            "bias",
            "w=" + word,
            "n=" + norm,
            "p3=" + norm[:3],
            "s3=" + norm[-3:],
            "s2=" + norm[-2:],
            "sh=" + shapes[i],
        ]
        if token.text[:1].isupper():
            f.append("title")
        if token.text.isupper():
            f.append("upper")
        if token.text.isdigit():
            f.append("digit")
        if _NOT_WORD.match(token.text):
            f.append("punct")
        f.extend("m=" + m for m in memberships[i])
        for d in (-2, -1, 1, 2):
            j = i + d
            if 0 <= j < n:
                f.append(f"{d}w={words[j]}")
                if abs(d) == 1:
                    f.append(f"{d}sh={shapes[j]}")
                    f.extend(f"{d}m={m}" for m in memberships[j])
            elif abs(d) == 1:
                f.append("BOS" if d < 0 else "EOS")
        if i > 0:
            f.append(f"bi-={words[i - 1]}|{word}")
        if i + 1 < n:
            f.append(f"bi+={word}|{words[i + 1]}")
        features.append(f)
    return features


def bio_labels(tokens: Sequence[Token], spans: Sequence[Span]) -> list[str]:
    """BIO tags for ``tokens``; a token belongs to a span when they overlap.
    Overlapping labels keep the earlier (then longer) span, because a linear
    chain cannot nest."""
    labels = [OUTSIDE] * len(tokens)
    for span in sorted(spans, key=lambda s: (s.offset, -s.length)):
        covered = [
            i
            for i, t in enumerate(tokens)
            if t.start < span.end and t.end > span.offset
        ]
        if not covered or any(labels[i] != OUTSIDE for i in covered):
            continue
        labels[covered[0]] = "B-" + span.category
        for i in covered[1:]:
            labels[i] = "I-" + span.category
    return labels


class _Trainer(pycrfsuite.Trainer):
    def __init__(self, progress: Callable[[float], None] | None, iterations: int):
        super().__init__(verbose=False)
        self._progress = progress
        self._iterations = iterations

    def on_iteration(self, log: Any, info: Mapping[str, Any]) -> None:
        if self._progress is not None:
            self._progress(min(1.0, info.get("num", 0) / self._iterations))


class LearnedTagger:
    """A fitted CRF; ``categories`` are the entities it can return."""

    def __init__(self, model: bytes, categories: frozenset[str]) -> None:
        self._model = model
        self.categories = categories
        self._tagger = self._open(model)
        # A Tagger keeps the last tagged sequence for ``marginal``: one at a time.
        self._lock = threading.Lock()

    @staticmethod
    def _open(model: bytes) -> pycrfsuite.Tagger:
        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(model)
        return tagger

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self._model, "categories": self.categories}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._model = state["model"]
        self.categories = state["categories"]
        self._tagger = self._open(self._model)
        self._lock = threading.Lock()

    @classmethod
    def fit(
        cls,
        sequences: Sequence[tuple[list[list[str]], list[str]]],
        *,
        max_iterations: int = 100,
        progress: Callable[[float], None] | None = None,
    ) -> LearnedTagger | None:
        """Train on (features, labels) per utterance; ``None`` when no utterance
        has a label (then the project has no learned component at all)."""
        categories = frozenset(
            label[2:] for _, labels in sequences for label in labels if label != OUTSIDE
        )
        if not categories:
            return None
        trainer = _Trainer(progress, max_iterations)
        for features, labels in sequences:
            if features:
                trainer.append(features, labels)
        trainer.set_params(
            {
                "c1": 0.05,
                "c2": 0.01,
                "max_iterations": max_iterations,
                "feature.possible_transitions": True,
            }
        )
        # crfsuite writes its model to a file only; keep the bytes, drop the file.
        handle, path = tempfile.mkstemp(suffix=".crfsuite")
        os.close(handle)
        try:
            trainer.train(path)
            with open(path, "rb") as stream:
                model = stream.read()
        finally:
            os.unlink(path)
        return cls(model, categories)

    def predict(
        self, tokens: Sequence[Token], features: list[list[str]]
    ) -> list[LearnedHit]:
        if not tokens:
            return []
        with self._lock:
            labels = self._tagger.tag(features)
            marginals = [
                self._tagger.marginal(label, k) for k, label in enumerate(labels)
            ]
        hits: list[LearnedHit] = []
        i = 0
        while i < len(labels):
            label = labels[i]
            if label == OUTSIDE:
                i += 1
                continue
            category = label[2:]
            j = i + 1
            while j < len(labels) and labels[j] == "I-" + category:
                j += 1
            hits.append(
                LearnedHit(
                    category,
                    tokens[i].start,
                    tokens[j - 1].end,
                    round(sum(marginals[i:j]) / (j - i), 4),
                )
            )
            i = j
        return hits
