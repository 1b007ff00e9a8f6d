"""What the static word vectors of standard mode cost to train on a large set, and
whether a cheaper weight choice keeps the accuracy (issue 15 item 4).

    python -m bench.static_vectors_cost --static-vectors DIR [--data PATH]
                                        [--sets clinc150,banking77]
                                        [--variants vectors,weight1,fit64,fit32]
                                        [--advanced-retrain --encoder minilm-l6-en
                                         --embedding-cache DIR]

Standard training with the table tries two weights on large sets (1 and 0: one held-
out probe fit each, the first with the dense block) and then fits the chosen one;
TF-IDF alone fits one probe and the final model. This fits, in one process and one
run, per set: TF-IDF alone (the baseline), the weights (1, 0) (what standard does:
``vectors``, the block fitted in its top 64 directions), weight 1 alone (no TF-IDF-
alone probe, no fallback to weight 0) and the block fitted in all 128 dimensions
(``fit128``: what ``vectors`` measured before the 64 were adopted) or its top 64 or
32 principal directions (fewer dense columns in each SVM fit; the weights are mapped
back, predictions use the full block). It prints process CPU seconds (ratios against
the baseline of the same run) and the accuracy on validation data only, never a test
split: CLINC150 ``val`` (in-scope, no threshold) and a BANKING77 80/20 split of its
train set (seed 0). The encoder that encodes the training words the table lacks is
loaded before timing (its load is printed apart), so no variant pays it alone.

Training speed (issue 15, task "trainspeed"): variants can also change the engine's
fit settings - ``maxiterN`` liblinear's passes per one-vs-rest problem
(``_SVM_MAX_ITER``; ``maxiter1000`` is sklearn's default, the engine before the
cap), ``probeN`` the rows of standard's calibration probe, ``charAB`` the character
n-gram range, ``embdimsN`` the directions advanced mode fits its embedding block in
(``_EMBEDDING_FIT_DIMS``, advanced only) - each on top of the table at weights (1,
0). Sets ``clinc150-10shot`` and ``banking77-10shot`` train on the first 10
utterances per intent of the same training data (validated on the same data). Each
row gives process CPU s and wall s; the load average is printed at the start and the
end. ``--advanced-retrain`` adds, per variant and full set, advanced mode with
``--encoder`` and a warm ``--embedding-cache`` (the training texts are encoded
first, not timed): a retrain after rewording 100 utterances (timed; the reworded
ones are always encoded, as after a user's edits), its validation accuracy, and its
ratio to the variant's standard fit of the set in the same run (not for TF-IDF
alone).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import Split, load_banking77, load_clinc150
from training.engine import intents
from training.engine.embeddings import (
    EmbeddingCache,
    embed_texts,
    get_encoder,
    load_encoder,
    set_encode_threads,
)
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


@contextmanager
def _setting(name: str, value: Any) -> Iterator[None]:
    saved = getattr(intents, name)
    setattr(intents, name, value)
    try:
        yield
    finally:
        setattr(intents, name, saved)


@contextmanager
def _fit_settings(
    max_iter: int | None = None,
    probe_rows: int | None = None,
    char_ngrams: tuple[int, int] | None = None,
    embedding_dims: int | None = None,
) -> Iterator[None]:
    with ExitStack() as stack:
        if embedding_dims is not None:
            stack.enter_context(_setting("_EMBEDDING_FIT_DIMS", embedding_dims))
        if max_iter is not None:
            stack.enter_context(_setting("_SVM_MAX_ITER", max_iter))
        if probe_rows is not None:
            rows = {**intents._PROBE_MAX_ROWS, "standard": probe_rows}
            stack.enter_context(_setting("_PROBE_MAX_ROWS", rows))
        if char_ngrams is not None:
            stack.enter_context(_setting("_CHAR_NGRAMS", char_ngrams))
        yield


def _variant(name: str) -> tuple[str, dict[str, Any]]:
    """(what it is, ``_run``'s options) of a named variant."""
    if name in VARIANTS:
        return VARIANTS[name]
    match = re.fullmatch(r"(maxiter|probe|embdims)(\d+)|char(\d)(\d)", name)
    if match is None:
        raise SystemExit(f"unknown variant {name!r}")
    if match.group(1) == "maxiter":
        return f"vectors, {match.group(2)} passes", {"max_iter": int(match.group(2))}
    if match.group(1) == "embdims":
        return f"vectors; advanced fits embeddings in {match.group(2)} dims", {
            "embedding_dims": int(match.group(2))
        }
    if match.group(1) == "probe":
        return f"vectors, probe of {match.group(2)} rows", {
            "probe_rows": int(match.group(2))
        }
    low, high = int(match.group(3)), int(match.group(4))
    return f"vectors, char {low}-{high}-grams", {"char_ngrams": (low, high)}


class _EditedMiss(EmbeddingCache):
    """The warm cache, except that the reworded texts are never found in it (a
    user's edits are new text) and nothing is written back."""

    def __init__(self, directory: Path | str, edited: set[str]) -> None:
        super().__init__(directory)
        self._edited = edited

    def get(self, model_id: str, text: str, dim: int) -> np.ndarray | None:
        return None if text in self._edited else super().get(model_id, text, dim)

    def put(self, model_id: str, text: str, vector: np.ndarray) -> None:
        return None


def _edited(texts: Sequence[str], count: int = 100) -> list[str]:
    """``texts`` with ``count`` of them reworded, spread evenly (as bench.engine)."""
    out = list(texts)
    step = max(1, len(out) // count)
    for i in range(0, len(out), step)[:count]:
        out[i] = f"{out[i]} please"
    return out


def _advanced_retrain(
    fit: Split, val: Split, encoder: str, cache_dir: str, **settings: Any
) -> dict[str, float]:
    """CPU and wall s of an advanced retrain after 100 edits (warm cache), and
    the retrained model's validation accuracy."""
    edited = _edited(fit.texts)
    fresh = set(edited) - set(fit.texts)
    warm = EmbeddingCache(cache_dir)
    # The unedited texts are in the cache after this (not timed).
    embed_texts(fit.texts, encoder=load_encoder(encoder), cache=warm)
    with _fit_settings(**settings):
        start, wall = _cpu(), time.perf_counter()
        model = IntentClassifier.fit(
            edited,
            fit.labels,
            mode="advanced",
            encoder=encoder,
            embedding_cache=_EditedMiss(cache_dir, fresh),
        )
        cpu, wall = _cpu() - start, time.perf_counter() - wall
    predicted = model.predict_batch(val.texts)
    return {
        "advancedRetrainCpuS": round(cpu, 1),
        "advancedRetrainWallS": round(wall, 1),
        "advancedValAccuracyPct": round(100 * _accuracy(predicted, val.labels), 2),
        "advancedWeightChosen": model.embedding_weight,
    }


def _accuracy(predicted: Sequence[str], gold: Sequence[str]) -> float:
    return float(np.mean([p == g for p, g in zip(predicted, gold, strict=True)]))


def _run(
    name: str,
    fit: Split,
    val: Split,
    table: StaticVectors | None,
    weights: tuple[float, ...] = (1.0, 0.0),
    fit_dims: int | None = intents._STATIC_FIT_DIMS,
    **settings: Any,
) -> dict[str, Any]:
    with _large_sets(weights, fit_dims), _fit_settings(**settings):
        start, wall = _cpu(), time.perf_counter()
        model = IntentClassifier.fit(
            fit.texts, fit.labels, mode="standard", static_vectors=table
        )
        cpu = _cpu() - start
        wall = time.perf_counter() - wall
    accuracy = _accuracy(model.predict_batch(val.texts), val.labels)
    return {
        "variant": name,
        "cpuS": round(cpu, 1),
        "wallS": round(wall, 1),
        "valAccuracyPct": round(100 * accuracy, 2),
        "temperature": round(model.temperature, 4),
        "weightChosen": model.embedding_weight if model.static_spec else 0.0,
        "selection": model.static_selection,
    }


# name -> (what it is, _run's options)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "tfidf": ("tfidf alone", {}),
    "vectors": ("vectors, weights 1 and 0", {}),
    "weight1": ("vectors, weight 1 only", {"weights": (1.0,)}),
    "fit128": ("vectors, fitted in all 128 dimensions", {"fit_dims": None}),
    "fit64": ("vectors, fitted in 64 directions", {"fit_dims": 64}),
    "fit32": ("vectors, fitted in 32 directions", {"fit_dims": 32}),
}


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--static-vectors", required=True, help="the table folder")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--sets", default="clinc150,banking77")
    parser.add_argument(
        "--variants",
        default="vectors,weight1,fit64,fit32",
        help="besides TF-IDF alone (always first, the baseline); also maxiterN, "
        "probeN, charAB",
    )
    parser.add_argument(
        "--advanced-retrain",
        action="store_true",
        help="per variant, time an advanced retrain of CLINC150 after 100 edits",
    )
    parser.add_argument("--encoder", default="minilm-l6-en")
    parser.add_argument(
        "--embedding-cache",
        default=os.environ.get("STUDIO_EMBEDDING_CACHE", "var/embedding-cache"),
    )
    args = parser.parse_args()
    print(f"[bench] load average {_load()}, {os.cpu_count()} cores", flush=True)
    # Training encodes on every core, as a worker does (studio/cpu.py).
    set_encode_threads(os.cpu_count() or 1)
    configure_static_dir(args.static_vectors)
    table = build_table()
    start = _cpu()
    get_encoder(table.encoder)
    print(f"[bench] encoder loaded in {_cpu() - start:.1f} CPU s (not counted below)")
    wanted = args.sets.split(",")
    sets: dict[str, tuple[Split, Split]] = {}
    clinc = load_clinc150(args.data)
    banking = load_banking77(args.data).train.validation_fold()
    for name, (fit, val) in (
        ("clinc150", (clinc.train, clinc.val)),
        ("banking77", banking),
    ):
        if name in wanted:
            sets[name] = (fit, val)
        if f"{name}-10shot" in wanted:
            sets[f"{name}-10shot"] = (fit.head_per_label(10), val)
    if args.advanced_retrain:
        load_encoder(args.encoder)
    variants = ["tfidf", *args.variants.split(",")]
    results = []
    for set_name, (fit, val) in sets.items():
        rows = []
        for v in variants:
            what, options = _variant(v)
            row = _run(what, fit, val, table if v != "tfidf" else None, **options)
            if args.advanced_retrain and "shot" not in set_name and v != "tfidf":
                settings = {
                    k: options[k]
                    for k in ("max_iter", "probe_rows", "char_ngrams", "embedding_dims")
                    if k in options
                }
                row.update(
                    _advanced_retrain(
                        fit, val, args.encoder, args.embedding_cache, **settings
                    )
                )
                row["advancedRetrainRatio"] = round(
                    float(row["advancedRetrainWallS"]) / float(row["wallS"]),
                    2,
                )
                row["advancedRetrainCpuRatio"] = round(
                    float(row["advancedRetrainCpuS"]) / float(row["cpuS"]),
                    2,
                )
            rows.append(row)
        base = float(rows[0]["cpuS"])
        for row in rows:
            row["set"] = set_name
            row["cpuRatio"] = round(float(row["cpuS"]) / base, 2)
            print(json.dumps(row), flush=True)
        results.extend(rows)
    print(f"[bench] load average {_load()}", flush=True)


if __name__ == "__main__":
    main()
