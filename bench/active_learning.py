"""Does the review queue's ranking pick better items to label than chance?

On CLINC150 (in-scope intents) and BANKING77: every intent starts with 10 labeled
utterances, the rest of ``train`` plays the logged traffic, and ``--rounds`` rounds
each label ``--batch`` more, picked (a) by the review queue's ranking — the same
signals and score as ``training/engine/review.py``, computed from the current
model's prediction of each logged query, duplicates collapsed — or (b) at random
(seeded). After each round the standard model is retrained and its ``test`` accuracy
reported, as is the round at which the queue reaches random's final accuracy (the
issue's target: by round 3, i.e. at least 40% fewer labels).

(c) cluster-at-once labeling belongs to the cluster view (issue 16 item 2), which is
not built yet; it is reported as not run.

    python -m bench.active_learning            # both datasets, 5 rounds of 300
    python -m bench.active_learning --quick    # a slice, seconds (smoke test)
    python -m bench.active_learning --json     # last line: the numbers as JSON
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.data import DatasetMissing, Split, load_banking77, load_clinc150
from training.engine.intents import IntentClassifier
from training.engine.review import normalize, signals, teach_score

SEED_PER_INTENT = 10
STRATEGIES = ("queue", "random")


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    train: Split
    test: Split


@dataclass
class Run:
    strategy: str
    accuracy: list[float] = field(default_factory=list)  # round 0 = seed only
    labeled: list[int] = field(default_factory=list)
    seconds: float = 0.0


def seed_and_pool(train: Split, per_intent: int) -> tuple[list[int], list[int]]:
    """Indices of the starting labels (the first ``per_intent`` of each intent) and
    of the pool (the rest: the logged traffic)."""
    seen: dict[str, int] = {}
    seed, pool = [], []
    for i, label in enumerate(train.labels):
        if seen.get(label, 0) < per_intent:
            seen[label] = seen.get(label, 0) + 1
            seed.append(i)
        else:
            pool.append(i)
    return seed, pool


def prediction_of(labels: Sequence[str], probs: np.ndarray) -> dict[str, object]:
    """A logged prediction in the runtime's Conversation shape (top 5 intents)."""
    order = np.argsort(-probs)[:5]
    intents = [
        {"category": labels[k], "confidenceScore": float(probs[k])} for k in order
    ]
    return {"topIntent": labels[order[0]], "intents": intents}


def queue_pick(
    model: IntentClassifier, texts: Sequence[str], pool: list[int], batch: int
) -> list[int]:
    """The review queue's choice: groups of duplicates ranked by the teaching
    score of their prediction, best first; every item of a chosen group is
    labeled (one analyst action each), until ``batch`` items."""
    groups: dict[str, list[int]] = {}
    for i in pool:
        groups.setdefault(normalize(texts[i]) or texts[i], []).append(i)
    keys = list(groups)
    firsts = [texts[groups[k][0]] for k in keys]
    probs = model.predict_proba_batch(firsts)
    labels = list(model.labels)
    scored = sorted(
        (
            (
                -teach_score(
                    signals(prediction_of(labels, probs[n])), count=len(groups[k])
                ),
                n,
            )
            for n, k in enumerate(keys)
        )
    )
    picked: list[int] = []
    for _, n in scored:
        if len(picked) >= batch:
            break
        picked.extend(groups[keys[n]][: batch - len(picked)])
    return picked


def run_strategy(
    task: Task, strategy: str, *, rounds: int, batch: int, seed: int
) -> Run:
    start = time.perf_counter()
    rng = random.Random(seed)
    labeled, pool = seed_and_pool(task.train, SEED_PER_INTENT)
    run = Run(strategy=strategy)
    texts, gold = task.train.texts, task.train.labels
    expected = np.asarray(task.test.labels)
    for round_no in range(rounds + 1):
        model = IntentClassifier.fit(
            [texts[i] for i in labeled], [gold[i] for i in labeled], random_state=seed
        )
        predicted = np.asarray(model.predict_batch(task.test.texts))
        run.accuracy.append(100.0 * float(np.mean(predicted == expected)))
        run.labeled.append(len(labeled))
        if round_no == rounds or not pool:
            break
        if strategy == "queue":
            picked = queue_pick(model, texts, pool, batch)
        else:
            picked = rng.sample(pool, min(batch, len(pool)))
        chosen = set(picked)
        labeled.extend(picked)
        pool = [i for i in pool if i not in chosen]
    run.seconds = time.perf_counter() - start
    return run


def round_reaching(run: Run, target: float) -> int | None:
    """The first round whose accuracy reaches ``target``, or None."""
    for round_no, accuracy in enumerate(run.accuracy):
        if accuracy >= target - 1e-9:
            return round_no
    return None


def load_tasks(data_dir: Path | None, quick: bool) -> list[Task]:
    clinc = load_clinc150(data_dir)
    banking = load_banking77(data_dir)
    tasks = [
        Task("CLINC150", clinc.train, clinc.test),
        Task("BANKING77", banking.train, banking.test),
    ]
    if quick:
        sliced = []
        for task in tasks:
            keep = set(sorted(set(task.train.labels))[:12])
            sliced.append(
                Task(
                    task.name + " (quick)",
                    task.train.only_labels(keep).head_per_label(60),
                    task.test.only_labels(keep).head_per_label(20),
                )
            )
        tasks = sliced
    return tasks


def report(task: Task, runs: dict[str, Run]) -> tuple[str, dict[str, object]]:
    rounds = len(runs["random"].accuracy) - 1
    lines = [
        f"{task.name}: {len(set(task.train.labels))} intents, "
        f"{SEED_PER_INTENT} labeled each to start, pool of "
        f"{len(task.train) - runs['random'].labeled[0]}, test {len(task.test)}",
        "round  labels   " + "  ".join(f"{s:>8}" for s in STRATEGIES),
    ]
    for r in range(rounds + 1):
        row = "  ".join(f"{runs[s].accuracy[r]:7.2f}%" for s in STRATEGIES)
        lines.append(f"{r:5d}  {runs['random'].labeled[r]:6d}   {row}")
    target = runs["random"].accuracy[-1]
    reached = round_reaching(runs["queue"], target)
    if reached is None:
        verdict = f"queue never reached random's round-{rounds} {target:.2f}%"
        saved = None
    else:
        added_queue = runs["queue"].labeled[reached] - runs["queue"].labeled[0]
        added_random = runs["random"].labeled[-1] - runs["random"].labeled[0]
        saved = 100.0 * (1 - added_queue / added_random) if added_random else 0.0
        verdict = (
            f"queue reaches random's round-{rounds} accuracy ({target:.2f}%) at "
            f"round {reached}: {saved:.0f}% fewer labels"
        )
    lines.append(verdict)
    lines.append("cluster-at-once (c): not run (the cluster view is not built yet)")
    lines.append(
        "time: " + ", ".join(f"{s} {runs[s].seconds:.1f} s" for s in STRATEGIES)
    )
    numbers: dict[str, object] = {
        s: {"accuracy": runs[s].accuracy, "labeled": runs[s].labeled}
        for s in STRATEGIES
    }
    numbers["queue_reaches_random_final_at_round"] = reached
    numbers["fewer_labels_pct"] = saved
    return "\n".join(lines), numbers


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.active_learning", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=None, help="the shared data dir")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a slice, seconds")
    parser.add_argument("--json", action="store_true", help="last line: JSON")
    args = parser.parse_args(argv)
    if args.quick and args.batch == 300:
        args.batch = 30
    if args.rounds < 1 or args.batch < 1:
        parser.error("--rounds and --batch must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tasks = load_tasks(args.data, args.quick)
    except DatasetMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    results: dict[str, object] = {}
    for task in tasks:
        runs = {
            s: run_strategy(
                task, s, rounds=args.rounds, batch=args.batch, seed=args.seed
            )
            for s in STRATEGIES
        }
        text, numbers = report(task, runs)
        print(text, flush=True)
        print(flush=True)
        results[task.name] = numbers
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
