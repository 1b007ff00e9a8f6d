"""Deploy gate benchmark: what comparing two models on the gate set costs as the set
grows, the first time (models loaded, the set predicted) and cached.

    python -m bench.gate [--sizes 1000,3000,10000] [--repeat 3] [--data PATH]
                         [--quick] [--json]

Trains two standard-mode CLINC150 models (150 intents) with the engine, as a training
job would: the "serving" one on the first 40 ``train`` utterances of each intent, the
"candidate" on the first 60, and stores both through ``artifact_save`` (signed, in
the test settings' in-memory storage). Gate sets of each size are drawn (seeded) from
utterances neither model learned: the rest of ``train``, ``val`` and ``test``
(13,500 in-scope utterances). For each size it times ``gate_check`` - the call a
deploy or swap request makes before it answers - wall and CPU seconds (median of
``--repeat``):

- **first**: the gate's prediction cache emptied, so both models are loaded and
  verified (``artifact_load``) and predict the whole set, then compared; split into
  load, predict and compare (each timed on its own);
- **cached**: again with the predictions cached (``STUDIO_GATE_CACHE_SECONDS``): the
  studio's confirm after its preview, or the second direction of a swap;
- **compare (per-intent pass)**: the comparison's scoring as it was before this bench
  (one pass over the set per intent, O(set x intents)), the baseline of the current
  single-pass scoring measured in the same run.

Ratios are against the smallest size of the same run. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.data import Split, load_clinc150
from bench.engine import cpu_s

SERVING_SHOTS = 40
CANDIDATE_SHOTS = 60
SEED = 16


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of ``repeat`` runs, and the last result."""
    walls: list[float] = []
    cpus: list[float] = []
    result: Any = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_s()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_s() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def unseen_pool(train: Split, val: Split, test: Split) -> list[tuple[str, str]]:
    """``train`` beyond the first CANDIDATE_SHOTS of each intent, then val and test."""
    seen: dict[str, int] = {}
    pool: list[tuple[str, str]] = []
    for text, label in zip(train.texts, train.labels, strict=True):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > CANDIDATE_SHOTS:
            pool.append((text, label))
    for split in (val, test):
        pool.extend(zip(split.texts, split.labels, strict=True))
    random.Random(SEED).shuffle(pool)
    return pool


def per_intent_pass_scores(
    expected: Sequence[str], predicted: Sequence[str], intents: Sequence[str]
) -> float:
    """The baseline: macro-F1 with one pass over the set per intent."""
    total = 0.0
    for intent in intents:
        tp = fp = fn = 0
        for e, p in zip(expected, predicted, strict=True):
            if p == intent and e == intent:
                tp += 1
            elif p == intent:
                fp += 1
            elif e == intent:
                fn += 1
        if tp:
            precision, recall = tp / (tp + fp), tp / (tp + fn)
            total += 2 * precision * recall / (precision + recall)
    return total / len(intents) if intents else 0.0


def run(sizes: list[int], repeat: int, data: Path | None) -> dict[int, dict[str, Any]]:
    from projects.models import Project
    from projects.selectors.gate import GateItem
    from training.artifact_store import artifact_save
    from training.engine.artifacts import training_data_hash
    from training.engine.bundles import ConversationBundle
    from training.engine.intents import IntentClassifier
    from training.services.gate import ModelPointer

    clinc = load_clinc150(data)
    pool = unseen_pool(clinc.train, clinc.val, clinc.test)
    if max(sizes) > len(pool):
        raise SystemExit(f"at most {len(pool):,} unseen utterances; got {max(sizes)}")

    def model(label: str, shots: int) -> ModelPointer:
        split = clinc.train.head_per_label(shots)
        started = time.perf_counter()
        bundle = ConversationBundle(
            intents=IntentClassifier.fit(split.texts, split.labels),
            single_intent=None,
            entities=None,
            language="en",
        )
        records = [
            {"text": t, "intent": i}
            for t, i in zip(split.texts, split.labels, strict=True)
        ]
        name, manifest = artifact_save(
            bundle,
            model_id=f"bench-{label}",
            training_data_hash=training_data_hash(records),
            params={"trainingMode": "standard"},
        )
        log(
            f"trained {label} on {len(split):,} utterances in "
            f"{time.perf_counter() - started:.1f} s"
        )
        return ModelPointer(
            label=label,
            model_id=f"bench-{label}",
            artifact_name=name,
            manifest=manifest,
        )

    serving, candidate = (
        model("serving", SERVING_SHOTS),
        model("candidate", CANDIDATE_SHOTS),
    )
    project = Project(name="bench", kind=Project.Kind.CONVERSATION, gate_max_drop=2.0)
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        items = [GateItem(text=t, intent=i) for t, i in pool[:size]]
        results[size] = measure(project, items, serving, candidate, repeat)
        log(
            f"{size:,}: first {results[size]['first']['wall']:.2f} s, cached "
            f"{results[size]['cached']['wall']:.3f} s"
        )
    return results


def measure(
    project: Any, items: list[Any], serving: Any, candidate: Any, repeat: int
) -> dict[str, Any]:
    """One gate set's timings (see the module docstring)."""
    from django.core.cache import cache

    from training.artifact_store import artifact_load
    from training.engine.gate import compare, predict_top_intents
    from training.services.gate import gate_check

    texts, expected = [i.text for i in items], [i.intent for i in items]

    def check() -> Any:
        return gate_check(
            project=project,
            deployment_name="production",
            candidate=candidate,
            serving=serving,
            items=items,
        )

    def first() -> Any:
        cache.clear()
        return check()

    first_wall, first_cpu, result = timed(first, repeat)
    cached_wall, cached_cpu, _ = timed(check, repeat)
    load_wall, load_cpu, bundles = timed(
        lambda: [
            artifact_load(m.artifact_name, m.manifest) for m in (serving, candidate)
        ],
        repeat,
    )
    predict_wall, predict_cpu, predicted = timed(
        lambda: [predict_top_intents(b, texts) for b in bundles], repeat
    )
    compare_wall, compare_cpu, _ = timed(
        lambda: compare(
            texts=texts,
            expected=expected,
            serving=predicted[0],
            candidate=predicted[1],
        ),
        repeat,
    )
    intents = sorted(set(expected) | set(predicted[0]) | set(predicted[1]))
    baseline_wall, baseline_cpu, _ = timed(
        lambda: [per_intent_pass_scores(expected, p, intents) for p in predicted],
        repeat,
    )
    c = result.comparison
    return {
        "first": {"wall": first_wall, "cpu": first_cpu},
        "cached": {"wall": cached_wall, "cpu": cached_cpu},
        "load": {"wall": load_wall, "cpu": load_cpu},
        "predict": {"wall": predict_wall, "cpu": predict_cpu},
        "compare": {"wall": compare_wall, "cpu": compare_cpu},
        "comparePerIntentPass": {"wall": baseline_wall, "cpu": baseline_cpu},
        "cacheEntryBytes": len(pickle.dumps(predicted[0])),
        "intents": len(intents),
        "servingAccuracy": c.serving.accuracy,
        "candidateAccuracy": c.candidate.accuracy,
    }


def print_table(results: dict[int, dict[str, Any]]) -> None:
    smallest = results[min(results)]
    print(
        f"{'gate set':>9} | {'first wall':>10} {'CPU':>6} {'x':>5} | {'load':>6} "
        f"{'predict':>7} {'compare':>7} | {'cached wall':>11} {'CPU':>6} {'x':>5} | "
        f"{'per-intent pass':>15} {'x new':>6}"
    )
    for size, r in sorted(results.items()):
        baseline = r["comparePerIntentPass"]["wall"]
        print(
            f"{size:>9,} | {r['first']['wall']:>9.2f}s {r['first']['cpu']:>5.2f}s "
            f"{r['first']['wall'] / smallest['first']['wall']:>5.1f} | "
            f"{r['load']['wall']:>5.2f}s {r['predict']['wall']:>6.2f}s "
            f"{r['compare']['wall']:>6.3f}s | {r['cached']['wall']:>10.3f}s "
            f"{r['cached']['cpu']:>5.3f}s "
            f"{r['cached']['wall'] / smallest['cached']['wall']:>5.1f} | "
            f"{baseline:>14.3f}s {baseline / r['compare']['wall']:>6.1f}"
        )
    r = results[max(results)]
    print(
        f"(x: ratio to the {min(results):,} set; x new: per-intent pass / current "
        f"compare; {r['intents']} intents; accuracy serving "
        f"{r['servingAccuracy']:.3f}, candidate {r['candidateAccuracy']:.3f}; a cached "
        f"prediction list is {r['cacheEntryBytes'] / 1024:.0f} KiB at {max(results):,})"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="sizes 200,500, once")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.sizes, args.repeat = "200,500", 1
    sizes = sorted({int(n) for n in args.sizes.split(",") if n.strip()})
    os.environ["DJANGO_SETTINGS_MODULE"] = "studio.settings_test"
    import django

    django.setup()
    results = run(sizes, max(1, args.repeat), args.data)
    print_table(results)
    if args.json:
        print(json.dumps({str(k): v for k, v in results.items()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
