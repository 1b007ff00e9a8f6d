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
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pycrfsuite
import regex

from ..types import Span
from .tokens import Token, tokenize

if TYPE_CHECKING:
    from ..static_vectors import StaticVectors

OUTSIDE = "O"
# L-BFGS iterations of the CRF, chosen on a validation fold (ATIS train split
# 80/20 by intent, seed 0; never its Test set): 30 iterations val F1 94.51 in 22 CPU
# s, 50: 95.37 in 35 s, 100: 95.18 in 66 s. The sequence model is ~90% of
# standard training with entities, so this halves it (issue 15 item 5).
MAX_ITERATIONS = 50
# Neighbour words seen on each side, chosen on the same validation fold (table and
# command in bench/README.md, "Learned entity features"): window 2 gave val F1
# 95.37, 3: 96.03, 4: 96.20 for ~4% more training CPU.
WINDOW = 4
# Sizes of the word classes learned from training texts (``WordClusters.fit``,
# not used by the engine).
CLUSTER_SIZES = (32, 128)
# Word classes of the static word vector table (``vector_classes``): 16 groups,
# each split in 16 (classes at 16 and 256), chosen on the validation folds
# (bench/README.md, "Learned entity features").
VECTOR_BRANCHING = (16, 16)
# L1 and L2 penalties of the CRF. c1 0.02 (was 0.05) scored higher on all three
# validation sets with the word classes (ATIS 96.35 -> 96.49, EmailAppDemo 74.14
# -> 74.85, HomeAutomationDemo 89.02 -> 89.38; each alone within noise, the same
# direction without the classes on ATIS); c2 0.1 scored lower on all three.
C1 = 0.02
C2 = 0.01
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


def _is_symbol(text: str) -> bool:
    """A token with no letter, mark or digit: punctuation, an emoji, a symbol."""
    return _NOT_WORD.match(text) is not None


class WordClusters:
    """Word classes at a few granularities: word -> one class id per size.

    Words the CRF saw rarely or never ("boise") then share a feature with
    frequent words of the same kind ("boston"), so their labels generalise. Words
    without a class get no class feature. Two sources:

    * ``from_vectors``: the static word vector table's rows (general-domain,
      fixed, ~22k English words), grouped by hierarchical k-means. The engine
      uses these (``vector_classes``) when the project's language has a table.
    * ``fit``: the training utterances' own contexts: each word described by the
      words seen just before and after it (positive PMI), reduced by a truncated
      SVD and grouped by k-means, much as Brown clusters group words that occur
      in the same places. Only words of the training texts get a class. Not used
      by the engine (it lost 4.4 F1 on EmailAppDemo's validation folds).
    """

    def __init__(
        self,
        table: dict[str, tuple[int, ...]],
        sizes: tuple[int, ...],
        key: str = "",
    ):
        self.table = table
        self.sizes = sizes
        # Names classes that depend on a static table alone (its sha256 and the
        # branching): every model trained with them holds an equal copy, which
        # ``shared_clusters`` lets the models a process loads share.
        self.key = key

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        sizes: tuple[int, ...] = CLUSTER_SIZES,
        dimensions: int = 50,
        seed: int = 0,
    ) -> WordClusters | None:
        """Clusters of the normalized words of ``texts``; ``None`` when there are
        too few distinct words to group."""
        from scipy import sparse
        from sklearn.cluster import KMeans
        from sklearn.decomposition import TruncatedSVD
        from sklearn.preprocessing import normalize as l2_normalize

        from ..text import normalize

        vocabulary: dict[str, int] = {}
        contexts: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for text in texts:
            words = [normalize(t.text) for t in tokenize(text)]
            padded = ["<s>", *words, "</s>"]
            for i, word in enumerate(words, start=1):
                row = vocabulary.setdefault(word, len(vocabulary))
                for side, other in (("L", padded[i - 1]), ("R", padded[i + 1])):
                    rows.append(row)
                    cols.append(contexts.setdefault(f"{side}:{other}", len(contexts)))
        if len(vocabulary) < 2 * max(sizes, default=1):
            return None
        counts = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)),
            shape=(len(vocabulary), len(contexts)),
        )
        total = counts.sum()
        row_sums = np.asarray(counts.sum(axis=1)).ravel()
        col_sums = np.asarray(counts.sum(axis=0)).ravel()
        pmi = counts.tocoo()
        values = np.log(pmi.data * total / (row_sums[pmi.row] * col_sums[pmi.col]))
        ppmi = sparse.csr_matrix(
            (np.maximum(values, 0.0), (pmi.row, pmi.col)), shape=counts.shape
        )
        ppmi.eliminate_zeros()
        k = max(1, min(dimensions, min(ppmi.shape) - 1))
        vectors = l2_normalize(
            TruncatedSVD(n_components=k, random_state=seed).fit_transform(ppmi)
        )
        # Words with the same contexts have the same vector; k-means cannot make
        # more groups than there are distinct points.
        distinct = len(np.unique(vectors.round(6), axis=0))
        labels = [
            KMeans(
                n_clusters=min(size, distinct), n_init=1, random_state=seed
            ).fit_predict(vectors)
            for size in sizes
        ]
        words = list(vocabulary)
        table = {
            word: tuple(int(column[row]) for column in labels)
            for row, word in enumerate(words)
        }
        return cls(table, tuple(sizes))

    @classmethod
    def from_vectors(
        cls,
        words: Sequence[str],
        vectors: np.ndarray,
        *,
        branching: tuple[int, ...] = VECTOR_BRANCHING,
        seed: int = 0,
        key: str = "",
    ) -> WordClusters:
        """Classes of ``words`` from their vectors (one row each): k-means on the
        unit vectors into ``branching[0]`` groups, each group split again into
        ``branching[1]``, and so on, so the class of a level refines the one
        above (like a prefix of a Brown cluster's path). The levels' sizes are
        the running products (16, 256...). Splitting small groups costs a
        fraction of one k-means with as many classes on the whole table."""
        from sklearn.cluster import KMeans
        from sklearn.preprocessing import normalize as l2_normalize
        from threadpoolctl import threadpool_limits

        points = l2_normalize(np.asarray(vectors, dtype=np.float64))
        ids = np.zeros(len(words), dtype=np.int64)
        levels: list[np.ndarray] = []
        sizes: list[int] = []
        size = 1
        # One thread: spinning OpenMP threads only cost CPU on a busy machine,
        # and the groups are small.
        with threadpool_limits(limits=1):
            for branch in branching:
                refined = np.zeros_like(ids)
                for group in np.unique(ids):
                    members = np.flatnonzero(ids == group)
                    # k-means cannot make more groups than distinct points.
                    distinct = len(np.unique(points[members].round(6), axis=0))
                    k = min(branch, distinct)
                    if k > 1:
                        refined[members] = group * branch + KMeans(
                            n_clusters=k, n_init=1, random_state=seed
                        ).fit_predict(points[members])
                    else:
                        refined[members] = group * branch
                ids = refined
                size *= branch
                levels.append(ids.copy())
                sizes.append(size)
        table = {
            word: tuple(int(level[row]) for level in levels)
            for row, word in enumerate(words)
        }
        return cls(table, tuple(sizes), key)

    def features(self, word: str, prefix: str = "") -> list[str]:
        ids = self.table.get(word)
        if ids is None:
            return []
        return [
            f"{prefix}c{size}={cid}" for size, cid in zip(self.sizes, ids, strict=True)
        ]


_vector_classes: dict[tuple[str, tuple[int, ...]], WordClusters] = {}
_vector_classes_lock = threading.Lock()
# The classes of a static table, one object per process whatever number of loaded
# models carry a copy (50,000 words: ~7 MB of dict each).
_shared: weakref.WeakValueDictionary[str, WordClusters] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def shared_clusters(clusters: WordClusters | None) -> WordClusters | None:
    """``clusters``, or the equal copy this process already holds (same key and
    sizes): an unpickled model drops its own copy for the shared one."""
    key = getattr(clusters, "key", "")  # absent from artifacts written before
    if clusters is None or not key:
        return clusters
    with _shared_lock:
        held = _shared.get(key)
        if (
            held is not None
            and held.sizes == clusters.sizes
            and len(held.table) == len(clusters.table)
        ):
            return held
        _shared[key] = clusters
        return clusters


def vector_classes(
    table: StaticVectors, branching: tuple[int, ...] = VECTOR_BRANCHING
) -> WordClusters:
    """The word classes of a static word vector table (``WordClusters.
    from_vectors`` of its rows), computed once per process and table: the
    classes depend on the table alone, so every fit of a worker shares them."""
    key = (table.spec.sha256, tuple(branching))
    with _vector_classes_lock:
        classes = _vector_classes.get(key)
        if classes is None:
            classes = WordClusters.from_vectors(
                table.words,
                table.rows,
                branching=branching,
                key=f"{table.spec.sha256}:{'x'.join(map(str, branching))}",
            )
            _vector_classes[key] = classes
        return classes


def token_features(
    tokens: Sequence[Token],
    normalized: Sequence[str],
    memberships: Sequence[Sequence[str]],
    *,
    window: int = WINDOW,
    clusters: WordClusters | None = None,
) -> list[list[str]]:
    """Feature strings for each token. ``memberships[i]`` names the non-learned
    components that cover token ``i`` (``list:Device``, ``pb:DateTime``...).

    The words see the utterance without the symbols at its edges: "köln 🙂" and
    "köln!" give "köln" the same features as "köln" at the end of a sentence, so
    an emoji or a "?" a user adds neither moves a learned span onto itself nor
    hides the entity before it."""
    n = len(tokens)
    words = [t.text.lower() for t in tokens]
    shapes = [_shape(t.text) for t in tokens]
    symbol = [_is_symbol(t.text) for t in tokens]
    first = next((i for i in range(n) if not symbol[i]), n)
    last = next((i for i in range(n - 1, -1, -1) if not symbol[i]), -1)
    offsets = [d for d in range(-window, window + 1) if d]
    features: list[list[str]] = []
    for i, token in enumerate(tokens):
        # Core words look only at the core; edge symbols see everything.
        low, high = (first, last + 1) if first <= i <= last else (0, n)
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
        if symbol[i]:
            f.append("punct")
        f.extend("m=" + m for m in memberships[i])
        if clusters is not None:
            f.extend(clusters.features(norm))
            for d in (-2, -1, 1, 2):
                if low <= i + d < high:
                    f.extend(clusters.features(normalized[i + d], f"{d}"))
        for d in offsets:
            j = i + d
            if low <= j < high:
                f.append(f"{d}w={words[j]}")
                if abs(d) == 1:
                    f.append(f"{d}sh={shapes[j]}")
                    f.extend(f"{d}m={m}" for m in memberships[j])
            elif abs(d) == 1:
                f.append("BOS" if d < 0 else "EOS")
        if i > low:
            f.append(f"bi-={words[i - 1]}|{word}")
        if i + 1 < high:
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
    """A trainer that reports every L-BFGS iteration to ``progress``.

    python-crfsuite 0.9 parses its log into events (``on_iteration``...) only in
    verbose mode, so a quiet trainer never reported anything and a long fit looked
    frozen. This one feeds the parser itself and calls ``progress`` on every event,
    without printing. Whatever ``progress`` raises (a cancelled job) stops the
    native training loop: the wrapper turns it into a C++ exception and back.
    """

    def __init__(
        self,
        progress: Callable[[float], None] | None,
        iterations: int,
        algorithm: str = "lbfgs",
    ):
        super().__init__(algorithm=algorithm, verbose=False)
        self._progress = progress
        self._iterations = max(1, iterations)
        self._fraction = 0.0

    def message(self, message: str) -> None:
        event = self.logparser.feed(message)
        if self._progress is None or event is None:
            return
        if event == "iteration":
            info = self.logparser.last_iteration
            self._fraction = min(1.0, info.get("num", 0) / self._iterations)
        # Every other event (feature generation, preparation, the end) repeats the
        # last fraction: no progress, but still a point to notice a cancel.
        self._progress(self._fraction)


def _edge_symbol_categories(
    sequences: Sequence[tuple[list[list[str]], list[str]]],
) -> frozenset[str]:
    """Categories whose labelled spans begin or end on a symbol token ("C++",
    "$5"): only those may keep one at an edge when predicted."""
    found: set[str] = set()
    for features, labels in sequences:
        for i, label in enumerate(labels):
            if label == OUTSIDE:
                continue
            category = label[2:]
            first = label.startswith("B-")
            last = i + 1 == len(labels) or labels[i + 1] != "I-" + category
            if (first or last) and "punct" in features[i]:
                found.add(category)
    return frozenset(found)


class LearnedTagger:
    """A fitted CRF; ``categories`` are the entities it can return.

    ``edge_symbols`` are the categories trained with a symbol token at a span's
    edge; every other category's predicted spans are trimmed of leading and
    trailing symbol tokens, because the chain readily extends a span over the
    emoji or "!" that follows it ("köln 🙂" must stay "köln").
    """

    def __init__(
        self,
        model: bytes,
        categories: frozenset[str],
        edge_symbols: frozenset[str] = frozenset(),
        clusters: WordClusters | None = None,
    ) -> None:
        self._model = model
        self.categories = categories
        self.edge_symbols = edge_symbols
        self.clusters = clusters
        self._tagger = self._open(model)
        # A Tagger keeps the last tagged sequence for ``marginal``: one at a time.
        self._lock = threading.Lock()

    @staticmethod
    def _open(model: bytes) -> pycrfsuite.Tagger:
        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(model)
        return tagger

    def __getstate__(self) -> dict[str, Any]:
        return {
            "model": self._model,
            "categories": self.categories,
            "edge_symbols": self.edge_symbols,
            "clusters": self.clusters,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._model = state["model"]
        self.categories = state["categories"]
        # Artifacts written before edge trimming existed trim every category.
        self.edge_symbols = state.get("edge_symbols", frozenset())
        # Artifacts written before word clusters existed were trained without.
        self.clusters = shared_clusters(state.get("clusters"))
        self._tagger = self._open(self._model)
        self._lock = threading.Lock()

    @classmethod
    def fit(
        cls,
        sequences: Sequence[tuple[list[list[str]], list[str]]],
        *,
        max_iterations: int = MAX_ITERATIONS,
        progress: Callable[[float], None] | None = None,
        c1: float = C1,
        c2: float = C2,
        clusters: WordClusters | None = None,
        algorithm: str = "lbfgs",
        params: dict[str, Any] | None = None,
    ) -> LearnedTagger | None:
        """Train on (features, labels) per utterance; ``None`` when no utterance
        has a label (then the project has no learned component at all).
        ``algorithm`` and ``params`` pick another crfsuite trainer and its
        settings (``ap``, ``pa``...; ``c1``/``c2`` apply to L-BFGS only): the
        engine trains with L-BFGS, ``bench.entity_features`` compares the rest."""
        categories = frozenset(
            label[2:] for _, labels in sequences for label in labels if label != OUTSIDE
        )
        if not categories:
            return None
        trainer = _Trainer(progress, max_iterations, algorithm)
        for features, labels in sequences:
            if features:
                trainer.append(features, labels)
        settings: dict[str, Any] = {
            "max_iterations": max_iterations,
            "feature.possible_transitions": True,
        }
        if algorithm == "lbfgs":
            settings.update({"c1": c1, "c2": c2})
        settings.update(params or {})
        trainer.set_params(settings)
        # crfsuite writes its model to a file only; keep the bytes, drop the file.
        handle, path = tempfile.mkstemp(suffix=".crfsuite")
        os.close(handle)
        try:
            trainer.train(path)
            with open(path, "rb") as stream:
                model = stream.read()
        finally:
            os.unlink(path)
        return cls(model, categories, _edge_symbol_categories(sequences), clusters)

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
            first, last = i, j
            if category not in self.edge_symbols:
                while first < last and _is_symbol(tokens[first].text):
                    first += 1
                while last > first and _is_symbol(tokens[last - 1].text):
                    last -= 1
            if first < last:
                hits.append(
                    LearnedHit(
                        category,
                        tokens[first].start,
                        tokens[last - 1].end,
                        round(sum(marginals[first:last]) / (last - first), 4),
                    )
                )
            i = j
        return hits
