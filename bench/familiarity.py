"""How the out-of-scope familiarity rule of advanced mode carries over to encoders.

    python -m bench.familiarity [--data PATH] [--encoders NAME,...]
                                [--encoder-config JSON] [--embedding-cache DIR]
                                [--powers 2,5,10,20,40] [--spread-only]
                                [--train-per-label N] [--val-per-label N]
                                [--test-per-label N] [--bootstrap N]
                                [--holdout-domains]

Fits one advanced model on CLINC150 ``train`` per encoder, prints the reference
cosine and relative spread of its training utterances' leave-one-out cosines
(what ``intents._centroid_power`` scales by), then, for each familiarity power,
the pooled share of right decisions on ``val`` + ``oos_val`` at the threshold
chosen there (what a power is chosen by: never a test split) beside the test
numbers it leads to (in-scope accuracy with the threshold, OOS recall).

``--bootstrap N`` adds how much of the test OOS recall is the noise of that
threshold: the mean and standard deviation of the test numbers when it is chosen
again on N resamples of ``val`` + ``oos_val`` (100 out-of-scope utterances pin a
threshold down loosely). ``--holdout-domains`` measures instead, on the validation
side only, how the rule carries to out-of-scope utterances it has not seen: five
fits, each on ``train`` without two of CLINC150's ten domains; the threshold is
chosen on the kept intents' ``val`` + ``oos_val`` and the held-out domains' ``val``
utterances (600 per fold) are the unseen out-of-scope ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.data import Clinc150, Split, default_data_dir, load_clinc150
from bench.engine import clinc_scores
from training.engine import intents
from training.engine.embeddings import (
    CACHE_DIR_ENV,
    configure_encoders,
    default_cache,
    embed_texts,
    get_encoder,
    load_encoder,
    set_encode_threads,
)
from training.engine.intents import IntentClassifier, choose_oos_threshold


def val_decisions(model: IntentClassifier, data: object) -> float:
    """Share of right decisions over val + oos_val at the threshold chosen there."""
    names = np.asarray(model.labels)
    val, oos_val = data.val, data.oos_val  # type: ignore[attr-defined]
    p_val = model.predict_proba_batch(val.texts)
    p_oos = model.predict_proba_batch(oos_val.texts)
    correct = names[p_val.argmax(axis=1)] == np.asarray(val.labels)
    threshold = choose_oos_threshold(
        p_val.max(axis=1), p_oos.max(axis=1), in_scope_correct=correct
    )
    right = np.sum(correct & (p_val.max(axis=1) >= threshold)) + np.sum(
        p_oos.max(axis=1) < threshold
    )
    return 100.0 * float(right) / (len(val.texts) + len(oos_val.texts))


def _right_threshold(
    top: np.ndarray, correct: np.ndarray, oos_top: np.ndarray
) -> tuple[float, float]:
    """The threshold chosen on (in-scope, out-of-scope) top confidences, and the
    share of right decisions it makes there, in percent."""
    threshold = choose_oos_threshold(top, oos_top, in_scope_correct=correct)
    right = np.sum(correct & (top >= threshold)) + np.sum(oos_top < threshold)
    return threshold, 100.0 * float(right) / (len(top) + len(oos_top))


def threshold_noise(
    val: tuple[np.ndarray, np.ndarray],
    oos_val: np.ndarray,
    test: tuple[np.ndarray, np.ndarray],
    oos_test: np.ndarray,
    *,
    rounds: int,
    seed: int = 0,
) -> dict[str, float]:
    """Test in-scope accuracy and OOS recall (percent, mean and standard
    deviation) over ``rounds`` thresholds, each chosen on a bootstrap resample of
    the validation utterances. ``val`` and ``test`` are (top confidence, whether
    the top intent is right) per in-scope utterance; the others top confidences.
    """
    rng = np.random.default_rng(seed)
    val_top, val_correct = val
    test_top, test_correct = test
    inside, recall = [], []
    for _ in range(rounds):
        rows = rng.integers(0, len(val_top), len(val_top))
        oos_rows = rng.integers(0, len(oos_val), len(oos_val))
        threshold, _ = _right_threshold(
            val_top[rows], val_correct[rows], oos_val[oos_rows]
        )
        inside.append(100.0 * float(np.mean(test_correct & (test_top >= threshold))))
        recall.append(100.0 * float(np.mean(oos_test < threshold)))
    return {
        "inscope_mean": float(np.mean(inside)),
        "inscope_std": float(np.std(inside)),
        "oos_mean": float(np.mean(recall)),
        "oos_std": float(np.std(recall)),
    }


def domain_folds(domains: Mapping[str, Sequence[str]], per_fold: int) -> list[set[str]]:
    """The intents each fold holds out: ``per_fold`` domains at a time, in the
    domains' sorted order (the last fold takes what is left)."""
    names = sorted(domains)
    return [
        {intent for name in names[start : start + per_fold] for intent in domains[name]}
        for start in range(0, len(names), per_fold)
    ]


def _top(
    model: IntentClassifier, split: Split
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    probs = model.predict_proba_batch(split.texts)
    predicted = np.asarray(model.labels)[probs.argmax(axis=1)]
    return probs.max(axis=1), predicted == np.asarray(split.labels), predicted


def holdout_domains(
    data: Clinc150,
    domains: Mapping[str, Sequence[str]],
    name: str | None,
    powers: Sequence[float],
) -> None:
    """Print, per power, the means over the folds of :func:`domain_folds` (see
    the module docstring)."""
    rows: dict[float, list[tuple[float, float]]] = {p: [] for p in powers}
    for held in domain_folds(domains, 2):
        train = data.train.only_labels(set(data.train.labels) - held)
        kept = data.val.only_labels(set(data.val.labels) - held)
        unseen = data.val.only_labels(held)
        model = IntentClassifier.fit(
            train.texts, train.labels, mode="advanced", encoder=name
        )
        for power in powers:
            model._centroid_power = power
            top, correct, _ = _top(model, kept)
            threshold, right = _right_threshold(
                top, correct, _top(model, data.oos_val)[0]
            )
            recall = 100.0 * float(np.mean(_top(model, unseen)[0] < threshold))
            rows[power].append((right, recall))
    print("  power  val+oos_val right %  held-out domains' recall %")
    for power in powers:
        right, recall = np.mean(rows[power], axis=0)
        print(f"  {power:5g}  {right:19.2f}  {recall:26.2f}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.familiarity")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--encoders", default="")
    parser.add_argument("--encoder-config", default="")
    parser.add_argument("--embedding-cache", type=Path, default=None)
    parser.add_argument("--powers", default="2,5,10,20,40")
    parser.add_argument("--spread-only", action="store_true")
    parser.add_argument("--train-per-label", type=int, default=0)
    parser.add_argument("--val-per-label", type=int, default=0)
    parser.add_argument("--test-per-label", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=0)
    parser.add_argument("--holdout-domains", action="store_true")
    args = parser.parse_args(argv)
    if args.embedding_cache is not None:
        os.environ[CACHE_DIR_ENV] = str(args.embedding_cache)
    if args.encoder_config:
        configure_encoders(json.loads(args.encoder_config))
    set_encode_threads(os.cpu_count() or 1)
    data = load_clinc150(args.data or default_data_dir())

    def head(split: Split, n: int) -> Split:
        return split.head_per_label(n) if n else split

    data = Clinc150(
        train=head(data.train, args.train_per_label),
        val=head(data.val, args.val_per_label),
        test=head(data.test, args.test_per_label),
        oos_val=data.oos_val,
        oos_test=data.oos_test,
    )
    powers = [float(p) for p in args.powers.split(",")]
    names = [n.strip() for n in args.encoders.split(",") if n.strip()] or [None]
    for name in names:
        encoder = get_encoder() if name is None else load_encoder(name)
        print(f"[familiarity] {encoder.spec.name} ...", file=sys.stderr, flush=True)
        embeddings = embed_texts(
            data.train.texts, encoder=encoder, cache=default_cache()
        )
        labels = sorted(set(data.train.labels))
        index = {label: k for k, label in enumerate(labels)}
        y = np.asarray([index[label] for label in data.train.labels])
        _, reference, spread = intents._fit_centroids(embeddings, y, len(labels))
        print(
            f"{encoder.spec.name}: {len(y)} training utterances, reference cosine "
            f"{reference:.4f}, relative spread {spread:.4f}, power by the rule "
            f"{intents._centroid_power(spread):.2f}",
            flush=True,
        )
        if args.spread_only:
            continue
        if args.holdout_domains:
            path = (args.data or default_data_dir()) / "clinc150" / "domains.json"
            domains = json.loads(path.read_text(encoding="utf-8"))
            holdout_domains(data, domains, name, powers)
            continue
        model = IntentClassifier.fit(
            data.train.texts, data.train.labels, mode="advanced", encoder=name
        )
        print(f"  embedding weight chosen: {model.embedding_weight}")
        print(
            "  power  val+oos_val right %  test in-scope %  test OOS recall %"
            + ("  bootstrap in-scope / OOS recall" if args.bootstrap else "")
        )
        for power in powers:
            model._centroid_power = power
            scores = clinc_scores(model.predict_proba_batch, model.labels, data)
            noise = ""
            if args.bootstrap:
                val_top, val_correct, _ = _top(model, data.val)
                test_top, test_correct, _ = _top(model, data.test)
                noise_of = threshold_noise(
                    (val_top, val_correct),
                    _top(model, data.oos_val)[0],
                    (test_top, test_correct),
                    _top(model, data.oos_test)[0],
                    rounds=args.bootstrap,
                )
                noise = (
                    f"  {noise_of['inscope_mean']:.2f} +- {noise_of['inscope_std']:.2f}"
                    f" / {noise_of['oos_mean']:.1f} +- {noise_of['oos_std']:.1f}"
                )
            print(
                f"  {power:5g}  {val_decisions(model, data):19.2f}"
                f"  {scores['clinc_inscope_acc']:15.2f}"
                f"  {scores['clinc_oos_recall']:17.2f}{noise}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
