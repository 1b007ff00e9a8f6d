"""Standard mode's settings against issue 15's standard targets, on validation
data only (task "std").

    python -m bench.standard_choices --static-vectors DIR [--variants a,b,...]
                                     [--sets full,fewshot,medium] [--json PATH]
                                     [--embedding-cache DIR] [--threshold-rules]

Per variant (a set of the engine's module settings, ``VARIANTS``): CLINC150 fitted on
``train`` and scored on ``val`` (in-scope accuracy without a threshold, and the
pooled right decisions on ``val`` + ``oos_val`` at the threshold
``choose_oos_threshold`` picks there); BANKING77 fitted on 80% of its train set and
scored on the other 20% (seed 0); 10-shot: ``sample_per_label`` seeds 0, 1, 2 of
those same training parts, scored on the same validation sets, mean; ``medium``:
the same with 25 and 50 utterances per intent of CLINC150 and 35 and 50 of the
BANKING77 part (``MEDIUM_SHOTS``, large sets to the engine). No test split is
read. CPU seconds of the full CLINC150 fit are printed (ratios within a run).
``--embedding-cache`` keeps the encodings of the training words the table lacks
across fits; ``--json`` appends each variant's line to a file.

``--threshold-rules`` (with the ``full`` set) also compares rules that pick the
out-of-scope threshold, on the first variant's CLINC150 ``val`` + ``oos_val``
confidences: 300 random halvings, each rule picks its threshold on one half and is
scored on the other (in-scope accuracy with the threshold, OOS recall, pooled right
decisions). Rules: ``choose_oos_threshold`` (most right decisions; the product's),
the lowest threshold within ``z`` standard errors of its right decisions (``se``),
and the lowest threshold keeping an OOS-recall floor on the half (``floor``).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import Split, load_banking77, load_clinc150
from bench.engine import sample_per_label, static_table
from training.engine import intents
from training.engine.embeddings import EmbeddingCache
from training.engine.intents import IntentClassifier, choose_oos_threshold

VARIANTS: dict[str, dict[str, Any]] = {
    "main": {},
    "fitall": {"_STATIC_FIT_DIMS": None},
    "fit128": {"_STATIC_FIT_DIMS": 128},
    "large1": {"_STATIC_WEIGHTS_LARGE": (1.0, 0.0)},
    "large2": {"_STATIC_WEIGHTS_LARGE": (2.0, 0.0)},
    "large15": {"_STATIC_WEIGHTS_LARGE": (1.5, 0.0)},
    "large210": {"_STATIC_WEIGHTS_LARGE": (2.0, 1.0, 0.0)},
    "large2fitall": {"_STATIC_WEIGHTS_LARGE": (2.0, 0.0), "_STATIC_FIT_DIMS": None},
    "c05": {"_SVM_C": {"standard": 0.5, "advanced": 0.5}},
    "c2": {"_SVM_C": {"standard": 2.0, "advanced": 0.5}},
    "word12": {"_WORD_NGRAMS": (1, 2)},
    "hinge": {
        "_linear_svc": lambda c, random_state: intents.LinearSVC(
            C=c, loss="hinge", random_state=random_state, max_iter=intents._SVM_MAX_ITER
        )
    },
    # The static block's dimensions rescaled by std ** -p (partial whitening of the
    # table's PCA directions; scales normalised to mean 1): ``whitenP``.
    "whiten0.5": {},
    # The character n-gram block scaled against the word block (1: both unit-norm).
    "char0.7": {"_fit_block": "char0.7"},
    "char1.4": {"_fit_block": "char1.4"},
    "small3": {"_STATIC_WEIGHTS": (3.0, 2.0, 1.0, 0.0)},
    "small4": {"_STATIC_WEIGHTS": (4.0, 3.0, 2.0, 0.0)},
}


# Sizes between the few-shot sets and the full ones, all above the engine's
# small-set limit (``_CROSS_FIT_MAX_ROWS``, 2,000 utterances), i.e. fitted as large
# sets: utterances per intent (CLINC150 150 intents; BANKING77 77).
MEDIUM_SHOTS = {"clinc": (25, 50), "b77": (35, 50)}


class _ScaledBlock(intents._NgramBlock):
    scale = 1.0

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        idx, values = super().features(text)
        return idx, values * self.scale


def _scaled_char_block(scale: float) -> Any:
    fit_block = intents._fit_block

    def fit(texts: Any, **params: Any) -> Any:
        fitted = fit_block(texts, **params)
        if fitted is None or params.get("analyzer") != "char_wb":
            return fitted
        block, rows = fitted
        block.__class__ = _ScaledBlock
        block.scale = scale  # type: ignore[attr-defined]
        return block, rows * scale

    return fit


@contextmanager
def _settings(values: dict[str, Any]) -> Iterator[None]:
    saved = {name: getattr(intents, name) for name in values}
    for name, value in values.items():
        if isinstance(value, str) and value.startswith("char"):
            value = _scaled_char_block(float(value.removeprefix("char")))
        setattr(intents, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(intents, name, value)


def _whitened(table: Any, power: float) -> Any:
    scale = np.asarray(table.rows, dtype=np.float32).std(axis=0) ** -power
    scale /= scale.mean()
    copied = copy.copy(table)
    copied.rows = (np.asarray(table.rows, dtype=np.float32) * scale).astype(np.float16)
    copied.projection = (table.projection * scale).astype(np.float32)
    return copied


def _acc(model: IntentClassifier, split: Split) -> float:
    predicted = model.predict_batch(split.texts)
    return 100.0 * float(np.mean(np.asarray(predicted) == np.asarray(split.labels)))


def run(
    variant: str, sets: set[str], table: Any, cache: EmbeddingCache | None
) -> dict[str, Any]:
    clinc = load_clinc150()
    banking = load_banking77()
    b_train, b_val = banking.train.validation_fold()
    out: dict[str, Any] = {"variant": variant}
    if variant.startswith("whiten"):
        table = _whitened(table, float(variant.removeprefix("whiten")))

    def fit(split: Split) -> IntentClassifier:
        return IntentClassifier.fit(
            split.texts, split.labels, static_vectors=table, embedding_cache=cache
        )

    with ExitStack() as stack:
        stack.enter_context(_settings(VARIANTS[variant]))
        if "full" in sets:
            cpu = time.process_time()
            model = fit(clinc.train)
            out["clinc_fit_cpu_s"] = time.process_time() - cpu
            out["clinc_weight"] = model.embedding_weight
            names = np.asarray(model.labels)
            probs = model.predict_proba_batch(clinc.val.texts)
            oos = model.predict_proba_batch(clinc.oos_val.texts).max(axis=1)
            correct = names[probs.argmax(axis=1)] == np.asarray(clinc.val.labels)
            top = probs.max(axis=1)
            threshold = choose_oos_threshold(top, oos, in_scope_correct=correct)
            out["clinc_val"] = 100.0 * float(correct.mean())
            out["clinc_val_thr"] = 100.0 * float(np.mean(correct & (top >= threshold)))
            out["clinc_oos_val_recall"] = 100.0 * float(np.mean(oos < threshold))
            out["clinc_pooled_right"] = (
                100.0
                * (
                    float(np.sum(correct & (top >= threshold)))
                    + np.sum(oos < threshold)
                )
                / (len(top) + len(oos))
            )
            out["_val_confidences"] = (top, correct, oos)
            model = fit(b_train)
            out["b77_fold"] = _acc(model, b_val)
            out["b77_weight"] = model.embedding_weight
        if "medium" in sets:
            for name, train, val, sizes in (
                ("clinc", clinc.train, clinc.val, MEDIUM_SHOTS["clinc"]),
                ("b77", b_train, b_val, MEDIUM_SHOTS["b77"]),
            ):
                for shots in sizes:
                    scores, weights = [], []
                    for seed in (0, 1, 2):
                        model = fit(sample_per_label(train, shots, seed))
                        scores.append(_acc(model, val))
                        weights.append(model.embedding_weight)
                    out[f"{name}_{shots}shot"] = float(np.mean(scores))
                    out[f"{name}_{shots}shot_each"] = scores
                    out[f"{name}_{shots}shot_weights"] = weights
        if "fewshot" in sets:
            for name, train, val in (
                ("clinc", clinc.train, clinc.val),
                ("b77", b_train, b_val),
            ):
                scores, weights = [], []
                for seed in (0, 1, 2):
                    model = fit(sample_per_label(train, 10, seed))
                    scores.append(_acc(model, val))
                    weights.append(model.embedding_weight)
                out[f"{name}_10shot"] = float(np.mean(scores))
                out[f"{name}_10shot_weights"] = weights
    return out


def _candidates(inside: np.ndarray, outside: np.ndarray) -> np.ndarray:
    values = np.unique(np.concatenate([inside, outside]))
    return np.concatenate([values[:1], (values[:-1] + values[1:]) / 2.0, [np.inf]])


def _pick(
    rule: str, level: float, top: np.ndarray, cor: np.ndarray, oos: np.ndarray
) -> float:
    if rule == "argmax":
        return choose_oos_threshold(top, oos, in_scope_correct=cor)
    candidates = _candidates(top, oos)
    kept = np.sort(top[cor])
    refused = np.sort(oos)
    in_right = kept.size - np.searchsorted(kept, candidates, side="left")
    oos_right = np.searchsorted(refused, candidates, side="left")
    if rule == "floor":
        return float(candidates[np.flatnonzero(oos_right >= level * oos.size)[0]])
    right = in_right + oos_right
    best = int(np.argmax(right))
    # Utterances decided differently at a candidate and at the best threshold.
    differ = np.abs(in_right - in_right[best]) + np.abs(oos_right - oos_right[best])
    ok = (right[best] - right <= level * np.sqrt(differ)) & (
        candidates <= candidates[best]
    )
    return float(candidates[np.flatnonzero(ok)[0]])


def threshold_rules(top: np.ndarray, cor: np.ndarray, oos: np.ndarray) -> None:
    rules = [("argmax", 0.0)] + [("se", z) for z in (0.5, 1.0, 2.0)]
    rules += [("floor", f) for f in (0.5, 0.55, 0.6, 0.65)]
    rng = np.random.default_rng(0)
    rows: dict[tuple[str, float], list[tuple[float, ...]]] = {r: [] for r in rules}
    for _ in range(300):
        order, o_order = rng.permutation(top.size), rng.permutation(oos.size)
        a, b = order[: top.size // 2], order[top.size // 2 :]
        oa, ob = o_order[: oos.size // 2], o_order[oos.size // 2 :]
        for rule, level in rules:
            t = _pick(rule, level, top[a], cor[a], oos[oa])
            kept = np.sum(cor[b] & (top[b] >= t))
            refused = np.sum(oos[ob] < t)
            rows[(rule, level)].append(
                (
                    t,
                    100 * kept / b.size,
                    100 * refused / ob.size,
                    100 * (kept + refused) / (b.size + ob.size),
                )
            )
    for (rule, level), values in rows.items():
        arr = np.asarray(values)
        print(
            f"{rule} {level}: threshold {arr[:, 0].mean():.3f} +- {arr[:, 0].std():.3f}"
            f", in-scope {arr[:, 1].mean():.2f}, OOS recall {arr[:, 2].mean():.1f}"
            f" +- {arr[:, 2].std():.1f}, right {arr[:, 3].mean():.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--static-vectors", default="")
    parser.add_argument("--variants", default="main")
    parser.add_argument("--sets", default="full,fewshot")
    parser.add_argument(
        "--embedding-cache", default="", help="for the words the table lacks"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--threshold-rules", action="store_true")
    args = parser.parse_args()
    table = static_table(args.static_vectors)
    cache = EmbeddingCache(args.embedding_cache) if args.embedding_cache else None
    sets = set(args.sets.split(","))
    first: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for variant in args.variants.split(","):
        result = run(variant, sets, table, cache)
        confidences = result.pop("_val_confidences", None)
        first = first or confidences
        print(json.dumps(result), flush=True)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(result) + "\n")
    if args.threshold_rules and first is not None:
        threshold_rules(*first)


if __name__ == "__main__":
    main()
