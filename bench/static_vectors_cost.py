"""What the static word vectors of standard mode cost to train on a large set, and
whether a cheaper weight choice keeps the accuracy (issue 15 item 4).

    python -m bench.static_vectors_cost --static-vectors DIR [--data PATH]
                                        [--sets clinc150,banking77]
                                        [--variants vectors,weight1,fit64,fit32]

Standard training with the table tries two weights on large sets (1 and 0: one
held-out probe fit each, the first with the dense block) and then fits the chosen
one; TF-IDF alone fits one probe and the final model. This fits, in one process
and one run, per set: TF-IDF alone (the baseline), the weights (1, 0) (what
standard does), weight 1 alone (no TF-IDF-alone probe, no fallback to weight 0)
and the block fitted in its top 64 or 32 principal directions (fewer dense
columns in each SVM fit; the weights are mapped back, predictions use the full
block). It prints process CPU seconds (ratios against the baseline of the same run)
and the accuracy on validation data only, never a test split: CLINC150 ``val``
(in-scope, no threshold) and a BANKING77 80/20 split of its train set (seed 0).
The encoder that encodes the training words the table lacks is loaded before
timing (its load is printed apart), so no variant pays it alone.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import Split, load_banking77, load_clinc150
from training.engine import intents
from training.engine.embeddings import get_encoder
from training.engine.intents import IntentClassifier
from training.engine.static_vectors import (
    StaticVectors,
    build_table,
    configure_static_dir,
)


def _cpu() -> float:
    return time.process_time()


@contextmanager
def _large_sets(weights: tuple[float, ...], fit_dims: int | None) -> Iterator[None]:
    saved = intents._STATIC_WEIGHTS_LARGE, intents._STATIC_FIT_DIMS
    intents._STATIC_WEIGHTS_LARGE, intents._STATIC_FIT_DIMS = weights, fit_dims
    try:
        yield
    finally:
        intents._STATIC_WEIGHTS_LARGE, intents._STATIC_FIT_DIMS = saved


def _banking_fold(train: Split) -> tuple[Split, Split]:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(train.texts))
    cut = int(0.8 * len(order))

    def pick(rows: np.ndarray) -> Split:
        return Split([train.texts[i] for i in rows], [train.labels[i] for i in rows])

    return pick(order[:cut]), pick(order[cut:])


def _run(
    name: str,
    fit: Split,
    val: Split,
    table: StaticVectors | None,
    weights: tuple[float, ...] = (1.0, 0.0),
    fit_dims: int | None = None,
) -> dict[str, object]:
    with _large_sets(weights, fit_dims):
        start = _cpu()
        model = IntentClassifier.fit(
            fit.texts, fit.labels, mode="standard", static_vectors=table
        )
        cpu = _cpu() - start
    predicted = model.predict_batch(val.texts)
    accuracy = float(
        np.mean([p == g for p, g in zip(predicted, val.labels, strict=True)])
    )
    return {
        "variant": name,
        "cpuS": round(cpu, 1),
        "valAccuracyPct": round(100 * accuracy, 2),
        "weightChosen": model.embedding_weight if model.static_spec else 0.0,
        "selection": model.static_selection,
    }


# name -> (what it is, _run's options)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "tfidf": ("tfidf alone", {}),
    "vectors": ("vectors, weights 1 and 0", {}),
    "weight1": ("vectors, weight 1 only", {"weights": (1.0,)}),
    "fit64": ("vectors, fitted in 64 directions", {"fit_dims": 64}),
    "fit32": ("vectors, fitted in 32 directions", {"fit_dims": 32}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--static-vectors", required=True, help="the table folder")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--sets", default="clinc150,banking77")
    parser.add_argument(
        "--variants",
        default="vectors,weight1,fit64,fit32",
        help="besides TF-IDF alone (always first, the baseline)",
    )
    args = parser.parse_args()
    configure_static_dir(args.static_vectors)
    table = build_table()
    start = _cpu()
    get_encoder(table.encoder)
    print(f"[bench] encoder loaded in {_cpu() - start:.1f} CPU s (not counted below)")
    sets: dict[str, tuple[Split, Split]] = {}
    if "clinc150" in args.sets:
        clinc = load_clinc150(args.data)
        sets["clinc150"] = (clinc.train, clinc.val)
    if "banking77" in args.sets:
        sets["banking77"] = _banking_fold(load_banking77(args.data).train)
    results = []
    for set_name, (fit, val) in sets.items():
        rows = [
            _run(
                VARIANTS[v][0],
                fit,
                val,
                table if v != "tfidf" else None,
                **VARIANTS[v][1],
            )
            for v in ["tfidf", *args.variants.split(",")]
        ]
        base = float(rows[0]["cpuS"])  # type: ignore[arg-type]
        for row in rows:
            row["set"] = set_name
            row["cpuRatio"] = round(float(row["cpuS"]) / base, 2)  # type: ignore[arg-type]
            print(json.dumps(row), flush=True)
        results.extend(rows)


if __name__ == "__main__":
    main()
