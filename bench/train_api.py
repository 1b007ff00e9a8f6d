"""Training time through the API: CLINC150 as one Conversation project.

    python -m bench.train_api [--data PATH] [--quick] [--keep-logs] [--json]

On the production-style stack of ``bench.stack`` (gunicorn, a Celery worker,
PostgreSQL, Redis): ``:import`` CLINC150's train split (150 intents, 15,000
utterances) as one Conversation project, then ``:train`` it (``standard``, the default
evaluation: an 80/20 percentage split) and time from the POST to the poll that sees
``succeeded``. The baseline, measured in the same run before the stack starts, is
one in-process ``IntentClassifier.fit`` on all the same utterances (the job fits
its 80 % training split, then evaluates on the rest): the ratio shows what the job
adds (loading the data, the split, evaluation, entity model, artifact, database
writes, queueing). CPU seconds are printed beside wall seconds for both - the
worker's process group for the job - since they hardly depend on what else the
machine runs. Nothing here asserts; the target is printed beside.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.data import DatasetMissing, Split, default_data_dir, load_clinc150
from bench.documents import conversation_document
from bench.stack import (
    API_VERSION,
    CLU_AUTHORING,
    Stack,
    StackUnavailable,
    group_cpu_s,
    running_stack,
)
from training.engine.intents import IntentClassifier

PROJECT = "CLINC150"
TARGET_TRAIN_S = 30.0


def log(message: str) -> None:
    print(f"[bench.train_api] {message}", file=sys.stderr, flush=True)


def quick_split(split: Split) -> Split:
    keep = set(sorted(set(split.labels))[:10])
    return split.only_labels(keep).head_per_label(20)


def measure(split: Split, *, keep_logs: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "utterances": len(split),
        "intents": len(set(split.labels)),
    }
    start, cpu_start = time.perf_counter(), process_cpu_s()
    IntentClassifier.fit(split.texts, split.labels, mode="standard")
    result["baseline_fit_s"] = time.perf_counter() - start
    result["baseline_fit_cpu_s"] = process_cpu_s() - cpu_start

    with running_stack(keep_logs=keep_logs) as stack:
        result.update(measure_on(stack, split))
    result["ratio_to_baseline_fit"] = result["train_s"] / result["baseline_fit_s"]
    return result


def measure_on(stack: Stack, split: Split) -> dict[str, Any]:
    """Import ``split`` as project CLINC150 on a running stack and train it."""
    result: dict[str, Any] = {}
    base = f"{CLU_AUTHORING}/projects/{PROJECT}"
    log(f"stack up at {stack.url}; importing {len(split)} utterances ...")
    start = time.perf_counter()
    stack.wait_job(
        stack.start_job(
            "POST",
            f"{base}/:import?api-version={API_VERSION}",
            conversation_document(PROJECT, split),
        )
    )
    result["import_s"] = time.perf_counter() - start
    log("training ...")
    worker_pid = stack.worker.pid if stack.worker is not None else None
    cpu_before = group_cpu_s(worker_pid) if worker_pid else 0.0
    start = time.perf_counter()
    job = stack.wait_job(
        stack.start_job(
            "POST",
            f"{base}/:train?api-version={API_VERSION}",
            {"modelLabel": "bench", "trainingMode": "standard"},
        )
    )
    result["train_s"] = time.perf_counter() - start
    if worker_pid:
        # CPU of the Celery worker's process group: what the job cost, whatever
        # else the machine was doing meanwhile.
        result["train_worker_cpu_s"] = group_cpu_s(worker_pid) - cpu_before
    status = job.get("result", {})
    for part in ("trainingStatus", "evaluationStatus"):
        if isinstance(status.get(part), dict):
            result[f"{part}_status"] = status[part].get("status")
    _, summary = stack.expect(
        200,
        "GET",
        f"{base}/models/bench/evaluation/summary-result?api-version={API_VERSION}",
    )
    intents = summary.get("intentsEvaluation", {})
    result["eval_micro_f1"] = intents.get("microF1")
    return result


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _seconds(value: float | None) -> str:
    return "       -" if value is None else f"{value:8.1f} s"


def format_report(result: dict[str, Any]) -> str:
    f1 = result.get("eval_micro_f1")
    return "\n".join(
        [
            f"{result['utterances']} utterances, {result['intents']} intents, "
            "standard mode, default evaluation split (80/20)",
            f"  :import POST -> succeeded          {result['import_s']:8.1f} s",
            f"  :train POST -> succeeded           {result['train_s']:8.1f} s"
            f"   (target <= {TARGET_TRAIN_S:g} s)",
            "  CPU time of the worker for it      "
            + _seconds(result.get("train_worker_cpu_s")),
            f"  baseline: one in-process fit       {result['baseline_fit_s']:8.1f} s",
            "  CPU time of that fit               "
            + _seconds(result.get("baseline_fit_cpu_s")),
            "  ratio train / baseline             "
            f"{result['ratio_to_baseline_fit']:8.2f}x",
            "  evaluation micro F1 (20% held out) "
            + ("       -" if f1 is None else f"{100 * f1:8.2f} %"),
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.train_api", description=__doc__
    )
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--quick", action="store_true", help="10 intents x 20")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--json", action="store_true", help="JSON as the last line")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = args.data or default_data_dir()
    try:
        split = load_clinc150(data_dir).train
    except DatasetMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.quick:
        split = quick_split(split)
    try:
        result = measure(split, keep_logs=args.keep_logs)
    except StackUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Training through the API{' (quick)' if args.quick else ''}")
    print(format_report(result))
    if args.json:
        print(
            json.dumps(
                {
                    k: round(v, 3) if isinstance(v, float) else v
                    for k, v in result.items()
                },
                sort_keys=True,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
