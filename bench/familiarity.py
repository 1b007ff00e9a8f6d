"""How the out-of-scope familiarity rule of advanced mode carries over to encoders.

    python -m bench.familiarity [--data PATH] [--encoders NAME,...]
                                [--encoder-config JSON] [--embedding-cache DIR]
                                [--powers 2,5,10,20,40] [--spread-only]
                                [--train-per-label N] [--val-per-label N]
                                [--test-per-label N]

Fits one advanced model on CLINC150 ``train`` per encoder, prints the reference
cosine and relative spread of its training utterances' leave-one-out cosines
(what ``intents._centroid_power`` scales by), then, for each familiarity power,
the pooled share of right decisions on ``val`` + ``oos_val`` at the threshold
chosen there (what a power is chosen by: never a test split) beside the test
numbers it leads to (in-scope accuracy with the threshold, OOS recall).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
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
        model = IntentClassifier.fit(
            data.train.texts, data.train.labels, mode="advanced", encoder=name
        )
        print(f"  embedding weight chosen: {model.embedding_weight}")
        print("  power  val+oos_val right %  test in-scope %  test OOS recall %")
        for power in powers:
            model._centroid_power = power
            scores = clinc_scores(model.predict_proba_batch, model.labels, data)
            print(
                f"  {power:5g}  {val_decisions(model, data):19.2f}"
                f"  {scores['clinc_inscope_acc']:15.2f}"
                f"  {scores['clinc_oos_recall']:17.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
