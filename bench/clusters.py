"""Clusters of unlabeled traffic (``training/engine/clusters.py``): how the method
was chosen, and what clustering costs as the traffic grows.

``--choose`` runs the candidate methods on the TRAIN splits only of CLINC150 and
BANKING77 (never on test): each intent starts with 10 labeled utterances, a model
trained on them predicts 5,000 others of ``train`` (the logged traffic, as the
review selector caps it; and 500, a small project's), and each candidate clusters
them. A simulated analyst opens the largest clusters until 300 items are labeled
(100 of 500), labels each with its
majority true intent and excludes the others (one action each). Reported: items
labeled per action (the issue's target is ≥ 3) and purity (share of a cluster's
items that have its majority label: 1 − the wrong-label rate of labeling without
exclusions). The model is the standard one as a studio training job fits it: with
the static word vector table (``--static-vectors DIR``, as ``bench.engine`` and
``bench.active_learning`` take it; ``off``: TF-IDF alone).

``--timing`` (the default) clusters 1k, 5k and 20k logged texts as the review
selector does (the newest ``MAX_TEXTS`` = 5,000 at most, duplicates collapsed) and
prints the wall and CPU seconds (the CPU ratio to 1k: wall time is noise on a
shared machine); uncapped clustering is timed at 1k and
5k (average linkage needs all n² distances: 20k would need ~1.6 GB).

    python -m bench.clusters             # timing
    python -m bench.clusters --choose    # the method grid on train folds
    python -m bench.clusters --choose --static-vectors off   # TF-IDF alone
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.data import DatasetMissing, Split, load_banking77, load_clinc150
from bench.engine import static_table
from training.engine import clusters as cl
from training.engine.intents import IntentClassifier
from training.engine.review import normalize
from training.engine.static_vectors import StaticVectors

SEED_PER_INTENT = 10
TRAFFIC = 5_000
BATCH = 300
TRAFFIC_SIZES = (500, TRAFFIC)  # a small project's traffic, and the cap
# Complete linkage (thresholds 0.15 and 0.2) was tried too: no better than average
# linkage at 3-10x the time, so it left the grid.
GRID: list[tuple[cl.Linkage, float, float]] = [
    ("average", threshold, weight)
    for threshold in (0.15, 0.2, 0.25, 0.3, 0.4)
    for weight in (0.0, 0.5, 1.0)
]


@dataclass(frozen=True, slots=True)
class Simulated:
    """A simulated analyst's cluster-at-once labeling of one batch."""

    labeled: int  # items labeled with their cluster's majority label
    actions: int  # clusters acted on + items excluded
    wrong_without_exclusions: int  # minority items, had nothing been excluded
    clusters: int

    @property
    def items_per_action(self) -> float:
        return self.labeled / self.actions if self.actions else 0.0

    @property
    def purity(self) -> float:
        total = self.labeled + self.wrong_without_exclusions
        return self.labeled / total if total else 1.0


def simulate(
    found: Sequence[cl.Cluster], gold: Sequence[str], batch: int
) -> tuple[Simulated, list[tuple[list[int], str]]]:
    """Open the clusters largest first until ``batch`` items are covered; label
    each with its majority true label, excluding the items whose label differs.
    Returns the tally and, per cluster acted on, (all members, majority label)."""
    labeled = actions = minority = covered = 0
    acted: list[tuple[list[int], str]] = []
    for cluster in found:
        if covered >= batch:
            break
        members = cluster.members[: batch - covered]
        counts = Counter(gold[i] for i in members)
        label, hits = counts.most_common(1)[0]
        wrong = len(members) - hits
        labeled += hits
        minority += wrong
        actions += 1 + wrong
        covered += len(members)
        acted.append((members, label))
    return Simulated(labeled, actions, minority, len(acted)), acted


def seed_and_pool(train: Split, per_intent: int) -> tuple[list[int], list[int]]:
    seen: dict[str, int] = {}
    seed, pool = [], []
    for i, label in enumerate(train.labels):
        if seen.get(label, 0) < per_intent:
            seen[label] = seen.get(label, 0) + 1
            seed.append(i)
        else:
            pool.append(i)
    return seed, pool


def choose(tasks: list[tuple[str, Split]], static: StaticVectors | None = None) -> None:
    model_note = (
        "TF-IDF alone"
        if static is None
        else f"with static word vectors {static.spec.table_id}"
    )
    print(
        "Candidates on TRAIN folds: 10 labeled per intent, 5,000 other train items as "
        "traffic, the largest clusters opened until 300 items are labeled; scores "
        f"from the standard model, {model_note}."
    )
    header = f"{'linkage':>8} {'thresh':>6} {'scores':>6}"
    columns = [(name, size) for name, _ in tasks for size in TRAFFIC_SIZES]
    print(header + "".join(f" | {n:>9} {s:>5}: items/act purity" for n, s in columns))
    for linkage, threshold, weight in GRID:
        row = f"{linkage:>8} {threshold:6.2f} {weight:6.1f}"
        for (_, train), size in (
            (task, size) for task in tasks for size in TRAFFIC_SIZES
        ):
            seed, pool = seed_and_pool(train, SEED_PER_INTENT)
            random.Random(0).shuffle(pool)
            traffic = pool[:size]
            texts = [train.texts[i] for i in traffic]
            gold = [train.labels[i] for i in traffic]
            model = _model(train, seed, static)
            scores = model.predict_proba_batch(texts)
            found = cl.cluster_texts(
                texts,
                scores=scores,
                scores_weight=weight,
                threshold=threshold,
                linkage=linkage,
            )
            sim, _ = simulate(found, gold, min(BATCH, size // 5))
            row += f" | {'':>16} {sim.items_per_action:9.2f} {sim.purity:6.3f}"
        print(row, flush=True)
    print(
        f"chosen: {cl.LINKAGE}, threshold {cl.THRESHOLD}, scores weight "
        f"{cl.SCORES_WEIGHT}"
    )


_models: dict[int, IntentClassifier] = {}


def _model(
    train: Split, seed: list[int], static: StaticVectors | None = None
) -> IntentClassifier:
    key = id(train)
    if key not in _models:
        _models[key] = IntentClassifier.fit(
            [train.texts[i] for i in seed],
            [train.labels[i] for i in seed],
            random_state=0,
            static_vectors=static,
        )
    return _models[key]


def capped_cluster(texts_newest_first: Sequence[str]) -> list[cl.Cluster]:
    """What the review selector does: the newest ``MAX_TEXTS`` logs, duplicates
    collapsed by normalized text, clustered (without scores: their cost is
    reading a column)."""
    window = texts_newest_first[: cl.MAX_TEXTS]
    distinct = list(dict.fromkeys(normalize(t) or t for t in window))
    return cl.cluster_texts(distinct)


def timing(texts: list[str]) -> None:
    sizes = (1_000, 5_000, 20_000)
    print(f"Clustering logged traffic, capped at the newest {cl.MAX_TEXTS}:")
    base = None
    for n in sizes:
        start, cpu = time.perf_counter(), time.process_time()
        found = capped_cluster(texts[:n])
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        base = base or cpu
        print(
            f"  {n:>6} logs: {seconds:6.2f} s wall, {cpu:6.2f} s CPU "
            f"({cpu / base:4.1f}× 1k)  {len(found)} clusters"
        )
    print("Uncapped (for comparison; 20k not run: ~1.6 GB of pairwise distances):")
    base = None
    for n in sizes[:2]:
        distinct = list(dict.fromkeys(normalize(t) or t for t in texts[:n]))
        start, cpu = time.perf_counter(), time.process_time()
        cl.cluster_texts(distinct)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        base = base or cpu
        print(
            f"  {n:>6} logs: {seconds:6.2f} s wall, {cpu:6.2f} s CPU "
            f"({cpu / base:4.1f}× 1k)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.clusters", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=None, help="the shared data dir")
    parser.add_argument("--choose", action="store_true", help="the method grid")
    parser.add_argument(
        "--static-vectors",
        default="",
        help="--choose: static word vector table directory (default: "
        "$STUDIO_STATIC_VECTORS or var/static-vectors; built if missing); off: "
        "TF-IDF alone",
    )
    args = parser.parse_args(argv)
    try:
        clinc = load_clinc150(args.data)
        banking = load_banking77(args.data)
    except DatasetMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.choose:
        choose(
            [("CLINC150", clinc.train), ("BANKING77", banking.train)],
            static_table(args.static_vectors),
        )
        return 0
    texts = list(clinc.train.texts) + list(banking.train.texts)
    random.Random(0).shuffle(texts)
    timing(texts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
