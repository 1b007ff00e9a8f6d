"""Out-of-scope signals for advanced mode, compared on the validation side.

    python -m bench.oos_signals [--data PATH] [--encoder NAME]
                                [--embedding-cache DIR] [--strengths 0.35,0.7,1.4]

Fits one advanced model on CLINC150 ``train`` and scores ``val``, ``oos_val``,
CLINC's ``oos_train`` (out-of-scope utterances a project could own) and, for
reference only, ``test`` / ``oos_test``. For each familiarity signal it prints how
well the signal alone separates rightly classified ``val`` utterances from the
out-of-scope ones (AUROC over ``oos_val`` + ``oos_train``), then, per rule, the
right decisions on ``val`` + ``oos_val`` and on ``val`` + ``oos_val`` + ``oos_train``
at the threshold chosen on each (what a rule would be chosen by), and the test
in-scope accuracy and OOS recall at the first threshold.

A rule flattens the logits by ``exp(-a * max(0, (reference - value) / (median -
reference)))``, reference and median being the 10th and 50th percentiles of the
training utterances' leave-one-out values: the strength ``a`` in units of that
spread, so it means the same for every encoder (``a`` = 0.7 is about the engine's
power rule). Signals: cosine to the top intent's centroid (the engine's), the
same on centred embeddings, the mean of the 3 largest cosines to the top intent's
training utterances (k-NN), the share of known words (standard mode's), and
products of two. Nothing here changes the engine.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.data import default_data_dir, load_clinc150
from training.engine import intents
from training.engine.embeddings import (
    CACHE_DIR_ENV,
    default_cache,
    embed_texts,
    load_encoder,
    set_encode_threads,
)
from training.engine.intents import IntentClassifier, choose_oos_threshold

_SPLITS = ("val", "oos_val", "oos_train", "test", "oos_test")


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half."""
    values = np.concatenate([positive, negative])
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):  # average ranks of ties
        same = values == value
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def centroid_signal(
    train: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    rows: np.ndarray,
    top: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out cosines of the training rows to their own intent's centroid,
    and the cosines of ``rows`` to their top intent's centroid."""
    sums = np.zeros((n_classes, train.shape[1]))
    np.add.at(sums, y, train)
    loo = np.einsum("ij,ij->i", train, _unit(sums[y] - train))
    return loo, np.einsum("ij,ij->i", rows, _unit(sums)[top])


def knn_signal(
    train: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    rows: np.ndarray,
    top: np.ndarray,
    k: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the ``k`` largest cosines to the (top) intent's training rows,
    leaving a training row itself out."""
    loo = np.empty(len(train))
    members = [np.flatnonzero(y == c) for c in range(n_classes)]
    for idx in members:
        if len(idx) < 2:
            loo[idx] = 1.0
            continue
        gram = train[idx] @ train[idx].T
        np.fill_diagonal(gram, -np.inf)
        kk = min(k, len(idx) - 1)
        loo[idx] = np.sort(gram, axis=1)[:, -kk:].mean(axis=1)
    values = np.empty(len(rows))
    for i, (row, label) in enumerate(zip(rows, top, strict=True)):
        sims = train[members[label]] @ row
        kk = min(k, len(sims))
        values[i] = np.partition(sims, -kk)[-kk:].mean()
    return loo, values


def spread_factor(loo: np.ndarray, values: np.ndarray, strength: float) -> np.ndarray:
    """The flattening of the module docstring, floored like the engine's."""
    reference = float(np.percentile(loo, 10.0))
    scale = max(float(np.percentile(loo, 50.0)) - reference, 1e-12)
    z = np.maximum(0.0, (reference - values) / scale)
    return np.maximum(np.exp(-strength * z), intents._MIN_FAMILIARITY)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.oos_signals")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--encoder", default="minilm-l6-en")
    parser.add_argument("--embedding-cache", type=Path, default=None)
    parser.add_argument("--strengths", default="0.35,0.7,1.4")
    args = parser.parse_args(argv)
    if args.embedding_cache is not None:
        os.environ[CACHE_DIR_ENV] = str(args.embedding_cache)
    set_encode_threads(os.cpu_count() or 1)
    data_dir = args.data or default_data_dir()
    data = load_clinc150(data_dir)
    raw = json.loads((data_dir / "clinc150" / "data_full.json").read_text("utf-8"))
    texts = {
        "val": data.val.texts,
        "oos_val": data.oos_val.texts,
        "oos_train": [str(row[0]) for row in raw["oos_train"]],
        "test": data.test.texts,
        "oos_test": data.oos_test.texts,
    }
    model = IntentClassifier.fit(
        data.train.texts, data.train.labels, mode="advanced", encoder=args.encoder
    )
    encoder = load_encoder(args.encoder)
    index = {label: k for k, label in enumerate(model.labels)}
    y = np.asarray([index[label] for label in data.train.labels])
    n = len(model.labels)
    train = embed_texts(data.train.texts, encoder=encoder, cache=default_cache())
    train = train.astype(np.float64)
    rows = {
        s: embed_texts(t, encoder=encoder, cache=default_cache()).astype(np.float64)
        for s, t in texts.items()
    }
    linear = model._linear
    assert linear is not None  # noqa: S101 - more than one intent
    scores = {
        s: np.asarray(model._design_matrix(t, rows[s]) @ linear.coef) + linear.intercept
        for s, t in texts.items()
    }
    top = {s: v.argmax(axis=1) for s, v in scores.items()}
    val_y = np.asarray([index[label] for label in data.val.labels])
    test_y = np.asarray([index[label] for label in data.test.labels])

    signals: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}

    def add(
        name: str,
        fn: Callable[..., tuple[np.ndarray, np.ndarray]],
        train_rows: np.ndarray,
        split_rows: dict[str, np.ndarray],
    ) -> None:
        loo, values = np.empty(0), {}
        for s in _SPLITS:
            loo, values[s] = fn(train_rows, y, n, split_rows[s], top[s])
        signals[name] = (loo, values)

    add("centroid", centroid_signal, train, rows)
    add("knn3", knn_signal, train, rows)
    mean = train.mean(axis=0)
    centred = {s: _unit(v - mean) for s, v in rows.items()}
    add("centroid, centred", centroid_signal, _unit(train - mean), centred)
    known, coverage_reference = intents._fit_coverage(data.train.texts)
    coverage = {
        s: np.asarray([intents._coverage(intents._words(x), known) for x in t])
        for s, t in texts.items()
    }
    right_val = top["val"] == val_y
    print("signal               AUROC right val vs oos_val + oos_train")
    for name, (_, values) in [*signals.items(), ("coverage", (None, coverage))]:
        out = np.concatenate([values["oos_val"], values["oos_train"]])
        print(f"{name:20s} {100 * auroc(values['val'][right_val], out):.2f}")

    def decide(factor: dict[str, np.ndarray], label: str) -> None:
        top_p = {
            s: intents._softmax_rows(
                scores[s] * (factor[s] / model.temperature)[:, None]
            ).max(axis=1)
            for s in _SPLITS
        }
        results = []
        for oos in (
            top_p["oos_val"],
            np.concatenate([top_p["oos_val"], top_p["oos_train"]]),
        ):
            threshold = choose_oos_threshold(
                top_p["val"], oos, in_scope_correct=right_val
            )
            right = np.sum(right_val & (top_p["val"] >= threshold)) + np.sum(
                oos < threshold
            )
            results.append((threshold, 100.0 * right / (len(right_val) + len(oos))))
        threshold = results[0][0]
        right_test = top["test"] == test_y
        inside = 100.0 * np.mean(right_test & (top_p["test"] >= threshold))
        recall = 100.0 * np.mean(top_p["oos_test"] < threshold)
        print(
            f"{label:40s} {results[0][1]:7.2f} {results[1][1]:7.2f}"
            f"   {inside:6.2f} {recall:6.1f}",
            flush=True,
        )

    ones = {s: np.ones(len(texts[s])) for s in _SPLITS}
    cov = {
        s: intents._familiarity_factor(coverage[s], coverage_reference, 2.0)
        for s in _SPLITS
    }
    print(
        "\nrule                                     right % (val+oos_val, +oos_train)"
        "   test in-scope %, OOS recall % (reference)"
    )
    decide(ones, "none")
    strengths = [float(a) for a in args.strengths.split(",")]
    factors: dict[str, dict[str, np.ndarray]] = {}
    for name, (loo, values) in signals.items():
        for a in strengths:
            factors[f"{name} a={a:g}"] = {
                s: spread_factor(loo, values[s], a) for s in _SPLITS
            }
            decide(factors[f"{name} a={a:g}"], f"{name} a={a:g}")
    for a in strengths:
        both = (
            {
                s: factors[f"centroid a={a / 2:g}"][s] * factors[f"knn3 a={a / 2:g}"][s]
                for s in _SPLITS
            }
            if f"centroid a={a / 2:g}" in factors
            else None
        )
        if both is not None:
            decide(both, f"centroid x knn3, a={a / 2:g} each")
        decide(
            {s: factors[f"centroid a={a:g}"][s] * cov[s] for s in _SPLITS},
            f"centroid a={a:g} x coverage (power 2)",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
