"""How per-intent confidence thresholds do against one global threshold on CLINC150.

    python -m bench.thresholds [--data PATH] [--modes standard,advanced]
                               [--shrinkage 0,5,10,20,50,100,inf] [--shots N]
                               [--model-cache PATH] [--none-examples] [--json]

Fits one model per mode on CLINC150 ``train`` (or ``--shots`` utterances per
intent of it; with ``--none-examples`` plus ``oos_train`` labelled ``None``, as a
project's own out-of-scope examples; ``--model-cache`` keeps the fitted model for
the next run), chooses
the global threshold on ``val`` + ``oos_val`` as ``bench.engine`` does, then, for
each shrinkage of :func:`intent_thresholds` (the project option "per-intent
thresholds"; ``inf`` is the global threshold alone), prints the pooled share of
right decisions on ``val`` + ``oos_val`` (what the shrinkage is chosen by: never
a test split) beside the test numbers it leads to (in-scope accuracy with the
thresholds applied by the runtime's rule, OOS recall and precision). Each finite
shrinkage is followed by the global rule moved to the same in-scope accuracy on
``val``: whether per-intent thresholds buy more OOS recall at equal in-scope
accuracy than simply raising the one threshold.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.data import Clinc150, Split, default_data_dir, load_clinc150
from bench.engine import sample_per_label
from training.engine.intents import (
    IntentClassifier,
    apply_threshold,
    choose_oos_threshold,
    intent_thresholds,
)


def decisions(
    model: IntentClassifier,
    probs: np.ndarray,
    threshold: float,
    per_intent: dict[str, float] | None,
) -> np.ndarray:
    """Per row, the intent answered (``None`` when refused), by the runtime's rule."""
    names = model.labels
    top = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    return np.asarray(
        [
            apply_threshold(
                [(names[k], float(c))], threshold, "None", per_intent=per_intent
            )
            for k, c in zip(top.tolist(), conf.tolist(), strict=True)
        ]
    )


def scores(
    answered: np.ndarray, expected: Sequence[str], oos_answered: np.ndarray
) -> dict[str, float]:
    """In-scope accuracy, OOS recall and precision, pooled right decisions (%)."""
    right = answered == np.asarray(expected)
    refused = oos_answered == "None"
    wrongly_refused = answered == "None"
    return {
        "inscope_acc": 100.0 * float(np.mean(right)),
        "oos_recall": 100.0 * float(np.mean(refused)),
        "oos_precision": 100.0
        * float(refused.sum() / max(1, refused.sum() + wrongly_refused.sum())),
        "right_decisions": 100.0
        * float((right.sum() + refused.sum()) / (len(right) + len(refused))),
    }


def matched_global_threshold(
    probs: np.ndarray, correct: np.ndarray, target_acc: float
) -> float:
    """The highest global threshold whose in-scope accuracy (%) is still at least
    ``target_acc``: the global rule at the per-intent rule's in-scope accuracy."""
    conf = np.sort(probs.max(axis=1)[correct])[::-1]
    needed = int(np.ceil(target_acc / 100.0 * len(correct) - 1e-9))
    if needed <= 0:
        return 1.0
    return float(conf[min(needed, len(conf)) - 1])


def run(
    model: IntentClassifier, data: Clinc150, shrinkages: Sequence[float]
) -> dict[str, dict[str, float]]:
    names = np.asarray(model.labels)
    p = {
        name: model.predict_proba_batch(split.texts)
        for name, split in (
            ("val", data.val),
            ("oos_val", data.oos_val),
            ("test", data.test),
            ("oos_test", data.oos_test),
        )
    }
    val_correct = names[p["val"].argmax(axis=1)] == np.asarray(data.val.labels)
    # An out-of-scope utterance predicted as None (with --none-examples) is
    # refused at any threshold.
    oos_val_top = np.where(
        names[p["oos_val"].argmax(axis=1)] == "None", 0.0, p["oos_val"].max(axis=1)
    )
    threshold = choose_oos_threshold(
        p["val"].max(axis=1), oos_val_top, in_scope_correct=val_correct
    )

    def measure(t: float, k: float) -> dict[str, float]:
        per_intent = (
            None
            if math.isinf(k)
            else intent_thresholds(
                model.held_out_confidences, model.held_out_mistakes, t, shrinkage=k
            )
        )
        val = scores(
            decisions(model, p["val"], t, per_intent),
            data.val.labels,
            decisions(model, p["oos_val"], t, per_intent),
        )
        test = scores(
            decisions(model, p["test"], t, per_intent),
            data.test.labels,
            decisions(model, p["oos_test"], t, per_intent),
        )
        return {
            "threshold": t,
            "val_inscope_acc": val["inscope_acc"],
            "val_oos_recall": val["oos_recall"],
            "val_right_decisions": val["right_decisions"],
            **{f"test_{key}": value for key, value in test.items()},
        }

    rows: dict[str, dict[str, float]] = {}
    for k in shrinkages:
        row = measure(threshold, k)
        rows[f"k={k:g}"] = row
        if math.isinf(k):
            continue
        # The global rule moved to the same in-scope accuracy on val: how much
        # OOS recall the per-intent rule buys at equal in-scope accuracy.
        matched = matched_global_threshold(
            p["val"], val_correct, row["val_inscope_acc"]
        )
        rows[f"  global at k={k:g}'s val in-scope"] = measure(matched, math.inf)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.thresholds")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--modes", default="standard")
    parser.add_argument("--shrinkage", default="0,5,10,20,50,100,inf")
    parser.add_argument("--shots", type=int, default=0)
    parser.add_argument(
        "--none-examples",
        action="store_true",
        help="train with CLINC150's oos_train labelled None, as a project's own "
        "out-of-scope examples",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--model-cache", type=Path, default=None, help="pickle of the fitted model"
    )
    args = parser.parse_args(argv)
    data = load_clinc150(args.data or default_data_dir())
    train: Split = (
        sample_per_label(data.train, args.shots, 0) if args.shots else data.train
    )
    if args.none_examples:
        raw = json.loads(
            (
                (args.data or default_data_dir()) / "clinc150" / "data_full.json"
            ).read_text(encoding="utf-8")
        )
        train = Split(
            train.texts + [text for text, _ in raw["oos_train"]],
            train.labels + ["None"] * len(raw["oos_train"]),
        )
    shrinkages = [float(v) for v in args.shrinkage.split(",")]
    result: dict[str, dict[str, dict[str, float]]] = {}
    for mode in args.modes.split(","):
        cache = (
            args.model_cache.with_suffix(
                f".{mode}{'.none' if args.none_examples else ''}.pkl"
            )
            if args.model_cache
            else None
        )
        if cache is not None and cache.exists():
            model = pickle.loads(cache.read_bytes())  # noqa: S301 - our own file
        else:
            model = IntentClassifier.fit(train.texts, train.labels, mode=mode)
            if cache is not None:
                cache.write_bytes(pickle.dumps(model))
        rows = run(model, data, shrinkages)
        result[mode] = rows
        print(f"\n{mode} (train {len(train.texts)} utterances)")
        print(
            f"{'rule':34} {'thr':>6} {'val in':>7} {'val OOS':>7} {'val right':>9} "
            f"{'in-scope':>8} {'OOS rec':>8} {'OOS prec':>8}"
        )
        for name, row in rows.items():
            print(
                f"{name:34} {row['threshold']:6.3f} {row['val_inscope_acc']:7.2f} "
                f"{row['val_oos_recall']:7.2f} {row['val_right_decisions']:9.2f} "
                f"{row['test_inscope_acc']:8.2f} {row['test_oos_recall']:8.2f} "
                f"{row['test_oos_precision']:8.2f}"
            )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
