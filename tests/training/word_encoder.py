"""A stand-in sentence encoder for static word vector tests (pure numpy): words
of one topic get vectors that point the same way, every word its own noise."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from training.engine import embeddings, static_vectors
from training.engine.embeddings import EncoderSpec, SpecNamed
from training.engine.static_vectors import TableRecipe

DIM = 24
_TOPIC_WORDS = {
    "Travel": "flight plane airline airport boarding luggage passport jet layover",
    "Music": "song melody tune album jazz lyrics playlist concert guitar",
    "Weather": "rain forecast umbrella sunny storm cloudy windy snow humid",
}
TOPICS = {topic: words.split() for topic, words in _TOPIC_WORDS.items()}
FILLER = ["i", "want", "the", "a", "please", "about", "my", "need", "show", "me"]
# In the table's vocabulary; a training word outside it ("airfare") is encoded
# at training time and kept with the model.
VOCABULARY = sorted({w for ws in TOPICS.values() for w in ws} | set(FILLER))
TOPIC_OF = {w: axis for axis, ws in enumerate(TOPICS.values()) for w in ws}


class WordEncoder(SpecNamed):
    """Topic words load on their topic's axis; every word has its own noise."""

    spec = EncoderSpec(name="words-test", version="1", weights_sha256="ab" * 32)
    dim = DIM

    def __init__(self) -> None:
        self.calls: list[int] = []

    def _word(self, word: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(word.encode()))
        vector = rng.normal(scale=0.3, size=DIM)
        axis = TOPIC_OF.get(word, {"airfare": 0}.get(word))
        if axis is not None:
            vector[axis] += 3.0
        return vector

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            vector = sum((self._word(w) for w in text.lower().split()), np.zeros(DIM))
            rows.append(vector / max(float(np.linalg.norm(vector)), 1e-12))
        return np.asarray(rows, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def stand_in_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TableRecipe]:
    """Make a :class:`WordEncoder` table the default recipe, kept in ``tmp_path``
    (for studio-level tests: the test settings turn tables off); waits for any
    background build when the test ends."""
    encoder = WordEncoder()
    monkeypatch.setitem(embeddings._encoders, encoder.spec, encoder)
    recipe = TableRecipe(
        encoder=encoder.spec,
        vocabulary=lambda: [*VOCABULARY, "email", "mail", "message", "delete"],
        dims=8,
        load_encoder=lambda: encoder,
        languages=("en",),
    )
    monkeypatch.setattr(static_vectors, "DEFAULT_RECIPE", recipe)
    monkeypatch.delenv(static_vectors.STATIC_DIR_ENV, raising=False)
    monkeypatch.setattr(static_vectors, "_configured_dir", tmp_path / "tables")
    monkeypatch.setattr(static_vectors, "_tables", {})
    monkeypatch.setattr(static_vectors, "_background", {})
    yield recipe
    for thread in static_vectors._background.values():
        thread.join(30)
