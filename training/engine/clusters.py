"""Clusters of similar texts — the review page's "Clusters" view of unlabeled
traffic, and ``bench.active_learning``'s cluster-at-once mode. No Django.

Texts become TF-IDF vectors (word 1-2-grams and char_wb 3-5-grams, sublinear, as
the intent model reads them), reduced to ``SVD_DIMS`` latent dimensions (LSA: it
joins paraphrases that share few exact words) and L2-normalized; when sentence
embeddings are given (a project whose serving model is ``advanced``) they are
joined to them with equal weight. The model's own view joins too: each text's
intent confidences (as the serving model answered them), L2-normalized and weighted
``SCORES_WEIGHT`` — texts worded alike *and* predicted alike group together, which
is what "label this cluster at once" needs (wording alone mixes intents that share
words: "cancel my card" / "cancel my transfer"). ``AgglomerativeClustering`` with
average linkage then merges texts while their mean cosine distance stays under
``THRESHOLD``: no number of clusters to guess, and a cluster is only as loose as
the threshold says. Method, threshold and weight were chosen with
``python -m bench.clusters --choose`` on the TRAIN splits of CLINC150 and
BANKING77 (items labeled per analyst action, purity of the largest clusters); the
test splits are never looked at. At 5,000 items of traffic, threshold 0.25 with
weight 0.5 labels 6.0 (CLINC150) and 6.8 (BANKING77) items per action; tighter
settings did a little better there (0.15 with weight 1.0: 7.4 and 8.0) but leave
a small project's obvious paraphrases apart ("book a flight to paris / rome /
berlin" are 0.21 apart among a few dozen texts), and looser ones lose purity
(0.3: 5.0 on CLINC150; 0.4: 1.4). Complete linkage was no better, and slower.

Average linkage needs all pairwise distances: memory and time grow with n², so
callers cap n (the review selector clusters at most the newest 5,000 untriaged
texts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import AgglomerativeClustering
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize
from threadpoolctl import threadpool_limits

Linkage = Literal["ward", "complete", "average", "single"]

THRESHOLD = 0.25  # average cosine distance at which merging stops
SVD_DIMS = 100
SCORES_WEIGHT = 0.5
LINKAGE: Linkage = "average"
MIN_SIZE = 2  # a "cluster" of one text is no cluster
MAX_TEXTS = 5_000  # pairwise distances: ~100 MB of float64 at this size
TOP_TERMS = 4

_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True, slots=True)
class Cluster:
    """``members``: indices into the clustered texts, the most central first;
    ``cohesion``: mean cosine similarity of the members to their centroid (1.0 =
    identical); ``top_terms``: the words that set the cluster apart, best first."""

    members: list[int]
    cohesion: float
    top_terms: list[str]

    @property
    def size(self) -> int:
        return len(self.members)


def _vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    words = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1
    )
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2
    )
    return words, chars


def features(
    texts: Sequence[str],
    *,
    embeddings: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    scores_weight: float = SCORES_WEIGHT,
    random_state: int = 0,
) -> tuple[np.ndarray, sp.csr_matrix, list[str]]:
    """(dense L2-normalized rows to cluster, the word TF-IDF matrix, its terms)."""
    words, chars = _vectorizers()
    W = words.fit_transform(texts)
    try:
        C = chars.fit_transform(texts)
    except ValueError:  # no char n-gram occurs twice (tiny inputs)
        C = sp.csr_matrix((len(texts), 0))
    X = l2_normalize(sp.hstack([W, C]).tocsr())
    dims = min(SVD_DIMS, X.shape[1] - 1, len(texts) - 1)
    if dims >= 2:
        dense = TruncatedSVD(n_components=dims, random_state=random_state)
        reduced = dense.fit_transform(X)
    else:
        reduced = X.toarray()
    reduced = l2_normalize(reduced)
    if embeddings is not None and len(embeddings):
        emb = l2_normalize(np.asarray(embeddings, dtype=np.float64))
        reduced = l2_normalize(np.hstack([reduced, emb]))
    if scores is not None and scores.size and scores_weight > 0:
        block = scores_weight * l2_normalize(np.asarray(scores, dtype=np.float64))
        reduced = l2_normalize(np.hstack([reduced, block]))
    return np.asarray(reduced), W.tocsr(), list(words.get_feature_names_out())


def _top_terms(
    rows: np.ndarray, W: sp.csr_matrix, terms: list[str], stop_words: frozenset[str]
) -> list[str]:
    """The terms that set the cluster apart: in at least half of its texts, and
    rare outside it (share inside minus share outside: a function word found
    everywhere scores low), the mean TF-IDF weight breaking ties; terms with a
    word of ``stop_words`` are left out; a bigram hides the unigrams it contains
    (and the other way round)."""
    present = (W > 0).astype(np.float64).tocsc()
    inside = np.asarray(present[rows].sum(axis=0)).ravel()
    outside_n = W.shape[0] - len(rows)
    share_in = inside / len(rows)
    share_out = (
        (np.asarray(present.sum(axis=0)).ravel() - inside) / outside_n
        if outside_n
        else np.zeros_like(share_in)
    )
    weight = np.asarray(W[rows].mean(axis=0)).ravel()
    score = share_in - share_out + 0.01 * weight
    order = np.argsort(-score, kind="stable")
    picked: list[str] = []
    for k in order[: 8 * TOP_TERMS]:
        if share_in[k] < 0.5 or score[k] <= 0:
            break
        term = terms[k]
        words = term.split()
        if any(w in stop_words for w in words):
            continue
        if any(term in p.split() or p in words for p in picked):
            continue
        picked.append(term)
        if len(picked) == TOP_TERMS:
            break
    return picked


def cluster_texts(
    texts: Sequence[str],
    *,
    embeddings: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    scores_weight: float = SCORES_WEIGHT,
    threshold: float = THRESHOLD,
    linkage: Linkage = LINKAGE,
    min_size: int = MIN_SIZE,
    stop_words: frozenset[str] = frozenset(),
    random_state: int = 0,
) -> list[Cluster]:
    """Clusters of at least ``min_size`` similar texts, the largest first (ties:
    the most cohesive). Texts in no such cluster are left out. ``embeddings`` and
    ``scores`` (intent confidences, one column per intent) are optional rows
    aligned with ``texts``. Pass distinct texts: duplicates are the caller's to
    collapse (they would only weigh). ``stop_words``: words never shown as top
    terms (the language's function words, when known)."""
    if len(texts) > MAX_TEXTS:
        raise ValueError(f"At most {MAX_TEXTS} texts at once; got {len(texts)}.")
    if not 0.0 < threshold < 2.0:
        raise ValueError("threshold is a cosine distance in (0, 2).")
    if len(texts) < max(2, min_size):
        return []
    # One BLAS thread: the matrices are small (5,000 x ~100) and threads only
    # contend — measured at 5,000 texts: 2.5 s of CPU on one thread, 6.2 s on two
    # (and three times the wall time on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _cluster_texts(
            texts,
            embeddings=embeddings,
            scores=scores,
            scores_weight=scores_weight,
            threshold=threshold,
            linkage=linkage,
            min_size=min_size,
            stop_words=stop_words,
            random_state=random_state,
        )


def _cluster_texts(
    texts: Sequence[str],
    *,
    embeddings: np.ndarray | None,
    scores: np.ndarray | None,
    scores_weight: float,
    threshold: float,
    linkage: Linkage,
    min_size: int,
    stop_words: frozenset[str],
    random_state: int,
) -> list[Cluster]:
    X, W, terms = features(
        texts,
        embeddings=embeddings,
        scores=scores,
        scores_weight=scores_weight,
        random_state=random_state,
    )
    labels = AgglomerativeClustering(
        n_clusters=None,
        distance_threshold=threshold,
        metric="cosine",
        linkage=linkage,
    ).fit_predict(X)
    found: list[Cluster] = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) < min_size:
            continue
        centroid = X[rows].mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        sims = X[rows] @ (centroid / norm) if norm else np.zeros(len(rows))
        order = np.argsort(-sims, kind="stable")
        found.append(
            Cluster(
                members=[int(rows[k]) for k in order],
                cohesion=float(np.mean(sims)),
                top_terms=_top_terms(rows, W, terms, stop_words),
            )
        )
    found.sort(key=lambda c: (-c.size, -c.cohesion, c.members[0]))
    return found


def suggest_intent_name(
    top_terms: Sequence[str], taken: Sequence[str] = (), *, example: str = ""
) -> str:
    """An intent name from a cluster's top terms: the first two words joined in
    PascalCase ("exchange rate" → "ExchangeRate"), in the order they come in
    ``example`` (the cluster's most central text: "book a flight" → "BookFlight"
    even when "flight" is the better term), made unique against ``taken``
    (case-insensitive) with a number."""
    words: list[str] = []
    for term in top_terms:
        for word in _WORD.findall(term):
            if word.lower() not in (w.lower() for w in words):
                words.append(word)
        if len(words) >= 2:
            break
    words = words[:2]
    if example:
        text = example.casefold()
        found = {w: text.find(w.casefold()) for w in words}
        words.sort(key=lambda w: found[w] if found[w] >= 0 else len(text))
    base = "".join(w[:1].upper() + w[1:] for w in words)[:40] or "NewIntent"
    lower = {t.lower() for t in taken}
    name, n = base, 2
    while name.lower() in lower:
        name, n = f"{base}{n}", n + 1
    return name
