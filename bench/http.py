"""HTTP benchmark: prediction latency and throughput beside the framework floor.

    python -m bench.http [--rate 200] [--duration 20] [--concurrency 32]
                         [--saturation-duration 10] [--configs 2x4,3x2]
                         [--quick] [--keep-logs] [--json]
    python -m bench.http --ab OTHER_CHECKOUT [--rounds 6] [--round-seconds 10]
                         [--rate 200] [--json]

Starts a production-style studio of local processes (``bench.stack``: gunicorn, a
Celery worker, a fresh PostgreSQL database, Redis), loads the demo projects
(``loaddemo``), trains and deploys them through the API (HomeOffice, a Conversation
project; OfficeFAQ, a knowledge base; OfficeRouter, the orchestration project linking
both), then measures with ``bench.loadgen`` in a process of its own:

* ``analyze``: ``POST /language/:analyze-conversations`` on OfficeRouter with
  utterances that route to HomeOffice, so every request runs the router and a nested
  CLU prediction;
* ``floor``: ``GET /ping``, a trivial JSON view through the same gunicorn, the same
  Django middleware, in the same run - what the framework costs before studio code.

For each gunicorn configuration (``WORKERSxTHREADS``): a steady open-loop load of
``--rate`` requests/s for ``--duration`` s (latency from each request's scheduled
time, so coordinated omission is accounted for), then saturation with
``--concurrency`` closed-loop clients. It prints p50, p99, requests/s, errors, the
ratio to the floor, and CPU used by the web processes, the load generator and the
whole machine over each phase (2 cores = 200 %). With ``--json`` the last line is
``{config: {...}}``. Nothing here asserts; the targets are printed beside the numbers.

``--ab OTHER_CHECKOUT`` compares two versions of the code on a loaded machine: it
starts one stack running ``OTHER_CHECKOUT`` (A, say ``git worktree add /tmp/before
<commit>``) and one running this checkout (B), seeds both, then interleaves short
open-loop rounds of ``analyze`` at ``--rate`` (A then B, B then A, ...), so that
whatever else loads the machine weighs on both alike. It prints each round's p50/p99
and, per variant, their medians and the ratio B/A.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.loadgen import LoadResult, LoadSpec, RequestSpec, run_in_subprocess
from bench.stack import (
    API_VERSION,
    CLU_AUTHORING,
    QNA_API_VERSION,
    QNA_AUTHORING,
    REPO_ROOT,
    Stack,
    StackError,
    StackUnavailable,
    group_cpu_s,
    machine_busy_s,
    running_stack,
)

ROUTER = "OfficeRouter"
CLU_PROJECT = "HomeOffice"
KB_PROJECT = "OfficeFAQ"
DEPLOYMENT = "production"
MODEL_LABEL = "bench"
ANALYZE_PATH = f"/language/:analyze-conversations?api-version={API_VERSION}"
# Azure AI Language's default prediction quota: 1,000 requests per minute.
AZURE_QUOTA_RPS = 1000 / 60
TARGETS = {
    "steady_p50_ms": 5.0,
    "steady_p99_ms": 20.0,
    "steady_ratio_to_floor": 2.0,
    "saturation_rps": 400.0,
}


def log(message: str) -> None:
    print(f"[bench.http] {message}", file=sys.stderr, flush=True)


def analyze_body(text: str, project: str = ROUTER) -> dict[str, Any]:
    return {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "user", "text": text}
        },
        "parameters": {"projectName": project, "deploymentName": DEPLOYMENT},
    }


def train_and_deploy(stack: Stack, project: str) -> tuple[float, float]:
    """Train ``project`` (standard) and deploy it as ``production``; both seconds."""
    base = f"{CLU_AUTHORING}/projects/{project}"
    start = time.perf_counter()
    stack.wait_job(
        stack.start_job(
            "POST",
            f"{base}/:train?api-version={API_VERSION}",
            {"modelLabel": MODEL_LABEL, "trainingMode": "standard"},
        )
    )
    trained = time.perf_counter()
    stack.wait_job(
        stack.start_job(
            "PUT",
            f"{base}/deployments/{DEPLOYMENT}?api-version={API_VERSION}",
            {"trainedModelLabel": MODEL_LABEL},
        )
    )
    return trained - start, time.perf_counter() - trained


def router_texts() -> list[str]:
    """The demo router's own HomeOffice utterances (they should route there)."""
    document = json.loads(
        (REPO_ROOT / "studio" / "demo" / "office-router.json").read_text("utf-8")
    )
    utterances = document["assets"]["utterances"]
    return [u["text"] for u in utterances if u["intent"] == CLU_PROJECT]


def seed(stack: Stack) -> list[str]:
    """Demo projects trained and deployed; the texts that route to the CLU target."""
    stack.manage("loaddemo")
    seconds = train_and_deploy(stack, CLU_PROJECT)
    log(f"{CLU_PROJECT}: trained in {seconds[0]:.1f}s, deployed in {seconds[1]:.1f}s")
    stack.wait_job(
        stack.start_job(
            "PUT",
            f"{QNA_AUTHORING}/projects/{KB_PROJECT}/deployments/{DEPLOYMENT}"
            f"?api-version={QNA_API_VERSION}",
        )
    )
    seconds = train_and_deploy(stack, ROUTER)
    log(f"{ROUTER}: trained in {seconds[0]:.1f}s, deployed in {seconds[1]:.1f}s")
    routed, answers = [], []
    for text in router_texts():
        _, body = stack.expect(200, "POST", ANALYZE_PATH, analyze_body(text))
        prediction = body["result"]["prediction"]
        answers.append((text, prediction.get("topIntent")))
        target = prediction.get("intents", {}).get(CLU_PROJECT, {})
        nested = target.get("result", {}).get("prediction", {})
        if prediction.get("topIntent") == CLU_PROJECT and nested.get("topIntent"):
            routed.append(text)
    if not routed:
        raise StackError(
            f"No demo utterance routes to {CLU_PROJECT} with a nested CLU result: "
            f"{answers}"
        )
    return routed


def request_specs(stack: Stack, texts: Sequence[str]) -> dict[str, list[RequestSpec]]:
    key = {"Ocp-Apim-Subscription-Key": stack.api_key}
    return {
        "floor": [RequestSpec("GET", "/ping")],
        "analyze": [
            RequestSpec(
                "POST",
                ANALYZE_PATH,
                {**key, "Content-Type": "application/json"},
                json.dumps(analyze_body(text)),
            )
            for text in texts
        ],
    }


def measured(stack: Stack, spec: LoadSpec) -> dict[str, Any]:
    """Run ``spec``; the load result plus the CPU used over the same window.

    The warm-up runs first as a separate generator process, so the CPU window holds
    only the measured requests (and the generator's start, when the server idles).
    ``web_cpu_ms_per_request`` - CPU time of the gunicorn processes per answered
    request - hardly depends on what else runs on the machine; latency does.
    """
    if stack.web is None:
        raise StackError("the web server is not running")
    if spec.warmup > 0:
        run_in_subprocess(
            replace(spec, mode="closed", duration=spec.warmup, warmup=0.0)
        )
    web_pid = stack.web.pid
    web_before = group_cpu_s(web_pid)
    busy_before, total_before = machine_busy_s()
    wall_start = time.perf_counter()
    result: LoadResult = run_in_subprocess(replace(spec, warmup=0.0))
    wall = time.perf_counter() - wall_start
    busy_after, total_after = machine_busy_s()
    web_cpu = group_cpu_s(web_pid) - web_before
    out = result.to_dict()
    out["web_cpu_pct"] = 100.0 * web_cpu / wall
    out["web_cpu_ms_per_request"] = 1000.0 * web_cpu / max(result.sent, 1)
    out["machine_busy_pct"] = 100.0 * (busy_after - busy_before) / wall
    out["machine_cores"] = round((total_after - total_before) / wall)
    return out


def measure_config(
    stack: Stack, specs: dict[str, list[RequestSpec]], args: argparse.Namespace
) -> dict[str, Any]:
    def spec(name: str, mode: str) -> LoadSpec:
        return LoadSpec(
            host=stack.host,
            port=stack.port,
            requests=specs[name],
            mode=mode,
            rate=args.rate,
            duration=args.duration if mode == "open" else args.saturation_duration,
            concurrency=args.concurrency,
            warmup=args.warmup,
        )

    out: dict[str, Any] = {"steady": {}, "saturation": {}}
    for phase, mode in (("steady", "open"), ("saturation", "closed")):
        for name in ("floor", "analyze"):
            log(f"{stack.web_workers}x{stack.web_threads} {phase} {name} ...")
            out[phase][name] = measured(stack, spec(name, mode))
        floor, analyze = out[phase]["floor"], out[phase]["analyze"]
        for pct in ("p50_ms", "p99_ms"):
            out[phase][f"ratio_{pct}"] = analyze[pct] / floor[pct] if floor[pct] else 0
        out[phase]["ratio_rps"] = analyze["rps"] / floor["rps"] if floor["rps"] else 0
    return out


COLUMNS: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("requests/s", "rps", lambda r: f"{r['rps']:.0f}"),
    ("p50 ms", "p50_ms", lambda r: f"{r['p50_ms']:.2f}"),
    ("p90 ms", "p90_ms", lambda r: f"{r['p90_ms']:.2f}"),
    ("p99 ms", "p99_ms", lambda r: f"{r['p99_ms']:.2f}"),
    ("max ms", "max_ms", lambda r: f"{r['max_ms']:.1f}"),
    ("errors", "errors", lambda r: f"{r['errors']}/{r['sent']}"),
    ("web CPU %", "web_cpu_pct", lambda r: f"{r['web_cpu_pct']:.0f}"),
    ("web CPU ms/req", "web_cpu_ms_per_request", lambda r: _ms_per_request(r)),
    ("loadgen CPU %", "cpu_pct", lambda r: f"{r['cpu_pct']:.0f}"),
    ("machine busy %", "machine_busy_pct", lambda r: f"{r['machine_busy_pct']:.0f}"),
]


def _ms_per_request(r: dict[str, Any]) -> str:
    value = r.get("web_cpu_ms_per_request")
    return "-" if value is None else f"{value:.2f}"


def format_report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = []
    for config, out in results.items():
        workers, threads = config.split("x")
        lines.append(f"gunicorn {workers} workers x {threads} threads")
        header = ["phase", "endpoint", *(c[0] for c in COLUMNS)]
        rows = []
        for phase, load in (
            ("steady", f"open {args.rate:g}/s"),
            ("saturation", f"closed {args.concurrency}"),
        ):
            for name in ("floor", "analyze"):
                r = out[phase][name]
                rows.append([f"{phase} ({load})", name, *(c[2](r) for c in COLUMNS)])
            p = out[phase]
            rows.append(
                [
                    "",
                    "analyze/floor",
                    f"{p['ratio_rps']:.2f}x",
                    f"{p['ratio_p50_ms']:.2f}x",
                    "",
                    f"{p['ratio_p99_ms']:.2f}x",
                    *([""] * (len(COLUMNS) - 4)),
                ]
            )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, ["-" * w for w in widths], *rows]:
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
            cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
            lines.append("  ".join(cells))
        saturated = out["saturation"]["analyze"]["rps"]
        lines.append(
            f"analyze at saturation: {saturated / AZURE_QUOTA_RPS:.1f}x Azure's "
            "default quota (1,000 predictions/minute)"
        )
        lines.append("")
    lines.append(
        f"Targets: steady {args.rate:g}/s p50 <= {TARGETS['steady_p50_ms']:g} ms, "
        f"p99 <= {TARGETS['steady_p99_ms']:g} ms, <= "
        f"{TARGETS['steady_ratio_to_floor']:g}x the floor; saturation with 32 clients "
        f">= {TARGETS['saturation_rps']:g} requests/s, zero errors."
    )
    lines.append(
        "Latency in the open loop counts from each request's scheduled time; "
        "CPU % is of one core (2 cores = 200 %); machine busy includes every other "
        "process on the machine. web CPU ms/req is the gunicorn processes' CPU "
        "per request: on an otherwise idle machine, cores x 1000 / it bounds the "
        "throughput."
    )
    return "\n".join(lines)


def ab_summary(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per-variant medians of the rounds' p50/p99 (ms) and errors, and B/A ratios."""
    out: dict[str, Any] = {}
    for variant in ("A", "B"):
        results = [r[variant] for r in rounds]
        out[variant] = {
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "rps": statistics.median(r["rps"] for r in results),
            "web_cpu_ms_per_request": statistics.median(
                r.get("web_cpu_ms_per_request", 0.0) for r in results
            ),
            "errors": sum(r["errors"] for r in results),
            "sent": sum(r["sent"] for r in results),
        }
    for key in ("p50_ms", "p99_ms", "web_cpu_ms_per_request"):
        a = out["A"][key]
        out[f"ratio_{key}"] = out["B"][key] / a if a else 0.0
    return out


def format_ab_report(
    rounds: list[dict[str, dict[str, Any]]],
    summary: dict[str, Any],
    labels: dict[str, str],
    args: argparse.Namespace,
) -> str:
    lines = [
        f"A = {labels['A']}",
        f"B = {labels['B']}",
        f"analyze, open loop {args.rate:g}/s, {len(rounds)} rounds x "
        f"{args.round_seconds:g} s per variant, interleaved",
        "",
        "round  order  A p50 ms  A p99 ms  A rps  A CPU ms/req"
        "  B p50 ms  B p99 ms  B rps  B CPU ms/req",
    ]
    for i, r in enumerate(rounds, 1):
        order = "A,B" if i % 2 else "B,A"
        cells = [
            f"{r[v]['p50_ms']:>8.2f}  {r[v]['p99_ms']:>8.2f}  {r[v]['rps']:>5.0f}  "
            f"{r[v].get('web_cpu_ms_per_request', 0.0):>12.2f}"
            for v in ("A", "B")
        ]
        lines.append(f"{i:>5}  {order}    {cells[0]}  {cells[1]}")
    lines.append("")
    for variant in ("A", "B"):
        v = summary[variant]
        lines.append(
            f"{variant} median: p50 {v['p50_ms']:.2f} ms, p99 {v['p99_ms']:.2f} ms, "
            f"{v['rps']:.0f} requests/s, web CPU {v['web_cpu_ms_per_request']:.2f} "
            f"ms/request, errors {v['errors']}/{v['sent']}"
        )
    lines.append(
        f"B/A: p50 {summary['ratio_p50_ms']:.2f}x, p99 {summary['ratio_p99_ms']:.2f}x, "
        f"web CPU per request {summary['ratio_web_cpu_ms_per_request']:.2f}x"
    )
    lines.append(
        "Answered requests/s below the offered rate means the machine could not "
        "keep up (queueing then dominates the latencies); web CPU ms/request, the "
        "gunicorn processes' CPU per request, hardly depends on that load."
    )
    return "\n".join(lines)


def run_ab(
    args: argparse.Namespace,
) -> tuple[list[dict[str, dict[str, Any]]], dict[str, str]]:
    """Both stacks up and seeded, then the interleaved rounds (see the docstring)."""
    other = Path(args.ab).resolve()
    if not (other / "manage.py").is_file():
        raise StackUnavailable(
            f"{other} is not a checkout of the studio (no manage.py)"
        )
    labels = {"A": str(other), "B": str(REPO_ROOT)}
    workers, threads = args.configs[0]
    with contextlib.ExitStack() as stacks:
        running: dict[str, Stack] = {}
        specs: dict[str, list[RequestSpec]] = {}
        for variant, root in (("A", other), ("B", REPO_ROOT)):
            stack = stacks.enter_context(
                running_stack(
                    web_workers=workers,
                    web_threads=threads,
                    keep_logs=args.keep_logs,
                    root=root,
                )
            )
            log(f"{variant} ({root}) up at {stack.url}; seeding ...")
            running[variant] = stack
            specs[variant] = request_specs(stack, seed(stack))["analyze"]

        def spec(variant: str, *, duration: float) -> LoadSpec:
            stack = running[variant]
            return LoadSpec(
                host=stack.host,
                port=stack.port,
                requests=specs[variant],
                mode="open",
                rate=args.rate,
                duration=duration,
                warmup=0.0,
            )

        for variant in ("A", "B"):
            run_in_subprocess(
                replace(spec(variant, duration=args.warmup), mode="closed")
            )
        rounds: list[dict[str, dict[str, Any]]] = []
        for i in range(args.rounds):
            order = ("A", "B") if i % 2 == 0 else ("B", "A")
            results: dict[str, dict[str, Any]] = {}
            for variant in order:
                log(f"round {i + 1}/{args.rounds}: {variant} ...")
                web = running[variant].web
                web_before = group_cpu_s(web.pid) if web else 0.0
                result = run_in_subprocess(spec(variant, duration=args.round_seconds))
                web_cpu = (group_cpu_s(web.pid) if web else 0.0) - web_before
                results[variant] = result.to_dict()
                results[variant]["web_cpu_ms_per_request"] = (
                    1000.0 * web_cpu / max(result.sent, 1)
                )
            rounds.append(results)
    return rounds, labels


def parse_configs(value: str) -> list[tuple[int, int]]:
    configs = []
    for item in value.split(","):
        workers, _, threads = item.strip().partition("x")
        if not (workers.isdigit() and threads.isdigit()):
            raise argparse.ArgumentTypeError(f"{item!r} is not WORKERSxTHREADS")
        if int(workers) < 1 or int(threads) < 1:
            raise argparse.ArgumentTypeError(f"{item!r}: both must be at least 1")
        configs.append((int(workers), int(threads)))
    return configs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="steady requests/s")
    parser.add_argument("--duration", type=float, default=20.0, help="steady seconds")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="closed-loop clients"
    )
    parser.add_argument("--saturation-duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per phase")
    parser.add_argument(
        "--configs",
        type=parse_configs,
        default=None,
        help="gunicorn WORKERSxTHREADS list, e.g. 2x4,3x2 (default: 2x4)",
    )
    parser.add_argument("--quick", action="store_true", help="seconds, for smoke tests")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--json", action="store_true", help="JSON as the last line")
    parser.add_argument(
        "--ab",
        metavar="OTHER_CHECKOUT",
        default="",
        help="compare OTHER_CHECKOUT (A) with this checkout (B), interleaved",
    )
    parser.add_argument("--rounds", type=int, default=6, help="A/B rounds")
    parser.add_argument(
        "--round-seconds", type=float, default=10.0, help="seconds per A/B round"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.duration = min(args.rate, 50.0), 1.0
        args.saturation_duration, args.warmup = 1.0, 0.3
        args.concurrency = min(args.concurrency, 8)
        args.rounds, args.round_seconds = min(args.rounds, 2), 1.0
    if args.configs is None:
        args.configs = [(2, 4)]
    return args


def measure_stack(stack: Stack, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Seed a running stack, then measure each gunicorn configuration."""
    log(f"stack up at {stack.url}; seeding the demo projects ...")
    specs = request_specs(stack, seed(stack))
    results: dict[str, dict[str, Any]] = {}
    for workers, threads in args.configs:
        if (workers, threads) != (stack.web_workers, stack.web_threads):
            stack.start_web(workers=workers, threads=threads)
        results[f"{workers}x{threads}"] = measure_config(stack, specs, args)
    return results


def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    workers, threads = args.configs[0]
    with running_stack(
        web_workers=workers, web_threads=threads, keep_logs=args.keep_logs
    ) as stack:
        return measure_stack(stack, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ab:
        try:
            rounds, labels = run_ab(args)
        except StackUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        summary = ab_summary(rounds)
        print("HTTP benchmark, A/B")
        print(format_ab_report(rounds, summary, labels, args))
        if args.json:
            print(json.dumps(_rounded({"rounds": rounds, "summary": summary})))
        return 0
    try:
        results = run(args)
    except StackUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"HTTP benchmark{' (quick)' if args.quick else ''}")
    print(format_report(results, args))
    if args.json:
        print(json.dumps(_rounded(results), sort_keys=True))
    return 0


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 3)
    return value


if __name__ == "__main__":
    raise SystemExit(main())
