"""Labeling saves during a big upload on the embedded default: the write-lock hand-off.

    python -m bench.upload_lock [--upload-utterances 50000] [--analysts 4]
                                [--label-rate 1] [--quiet-seconds 10] [--rounds 1]
                                [--ab OTHER_CHECKOUT] [--data PATH] [--json]

SQLite's busy handler makes a waiting writer sleep longer the longer it waits (up
to 100 ms between tries), so an upload job that writes in short transactions with
short pauses could keep taking the lock while a labeling save slept through the
pauses. ``studio.sqlite_writers`` lets waiting writers say so and the upload step
aside, and a worker's task process runs its write transactions on a thread at
normal priority (``studio.cpu.at_normal_priority``): a niced job holding the lock
while the cores were busy made every save wait for the scheduler. This measures
what that buys, in one run: for each round, an embedded stack (``runstudio``, as
``make run``) with the hand-off off (``STUDIO_SQLITE_HANDOFF=0``) and one with it
on - or, with ``--ab OTHER_CHECKOUT``, one running that checkout (A, say ``git
archive main | tar -x -C /tmp/before``) and one running this one (B) - each under
the same traffic - ``--analysts``
signed-in analysts each assigning an intent once every ``1/--label-rate`` s
(``POST .../data/<pk>/intent/`` with ``HX-Request``, latency from the scheduled
time) - first quiet, then while a valid ``--upload-utterances`` file goes through
the Data page's upload and its job. Printed per variant: labeling p50/p99/max and
errors, the lock wait of the saves as the server measured it (``Server-Timing:
db-lock``; p50/p90/p99/max and how many waited over 50/100/300 ms), the upload
job's time; then the ratios on/off. Nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.contention import (
    ADMIN_USER,
    JOB_LINK,
    LABELING_PROJECT,
    UPLOAD_PROJECT,
    Browser,
    import_project,
    slice_split,
    upload_document,
    wait_upload,
)
from bench.data import DatasetMissing, Split, default_data_dir, load_clinc150
from bench.stack import REPO_ROOT, embedded_stack

LOCK_WAIT = re.compile(r"db-lock;dur=([\d.]+)")


@dataclass(frozen=True)
class Variant:
    name: str
    root: Path
    env: dict[str, str]


def variants(args: argparse.Namespace) -> list[Variant]:
    """What is compared: another checkout (A) with this one (B), or this one with
    the hand-off off and on."""
    if args.ab:
        other = Path(args.ab).resolve()
        if not (other / "manage.py").is_file():
            raise SystemExit(f"{other} is not a checkout of the studio (no manage.py)")
        return [Variant("A", other, {}), Variant("B", REPO_ROOT, {})]
    return [
        Variant("off", REPO_ROOT, {"STUDIO_SQLITE_HANDOFF": "0"}),
        Variant("on", REPO_ROOT, {"STUDIO_SQLITE_HANDOFF": "1"}),
    ]


def log(message: str) -> None:
    print(f"[bench.upload_lock] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Saves:
    """The labeling saves of one phase: latency from the schedule and the server's
    lock wait (ms each), and errors."""

    latency_ms: list[float] = field(default_factory=list)
    lock_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "count": len(self.latency_ms),
            "errors": len(self.errors),
            "error_samples": self.errors[:3],
            "p50_ms": percentile(self.latency_ms, 0.5),
            "p99_ms": percentile(self.latency_ms, 0.99),
            "max_ms": max(self.latency_ms, default=0.0),
            "lock": {
                "p50_ms": percentile(self.lock_ms, 0.5),
                "p90_ms": percentile(self.lock_ms, 0.9),
                "p99_ms": percentile(self.lock_ms, 0.99),
                "max_ms": max(self.lock_ms, default=0.0),
                "over_50": sum(v > 50 for v in self.lock_ms),
                "over_100": sum(v > 100 for v in self.lock_ms),
                "over_300": sum(v > 300 for v in self.lock_ms),
            },
        }


class Analysts:
    """Analysts saving intents in threads until stopped (as bench.contention's)."""

    def __init__(
        self, browsers: list[Browser], pks: list[int], intents: list[str], rate: float
    ) -> None:
        self.browsers, self.pks, self.intents, self.rate = browsers, pks, intents, rate
        self.saves = Saves()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(b, n), daemon=True)
            for n, b in enumerate(browsers)
        ]

    def _run(self, browser: Browser, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - not for security
        start, i = time.monotonic() + rng.random() / self.rate, 0
        while not self.stop.is_set():
            due = start + i / self.rate
            i += 1
            if (delay := due - time.monotonic()) > 0 and self.stop.wait(delay):
                return
            path = f"/projects/{LABELING_PROJECT}/data/{rng.choice(self.pks)}/intent/"
            try:
                status, body, _ = browser.post_form(
                    path, {"intent": rng.choice(self.intents)}
                )
            except OSError as exc:
                self.saves.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if status != 200:
                self.saves.errors.append(f"HTTP {status}: {body[:120]}")
                continue
            self.saves.latency_ms.append(1000 * (time.monotonic() - due))
            found = LOCK_WAIT.search(browser.last_headers.get("Server-Timing", ""))
            if found:
                self.saves.lock_ms.append(float(found.group(1)))

    def __enter__(self) -> Analysts:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def run_variant(
    variant: Variant, clinc: Any, args: argparse.Namespace
) -> dict[str, Any]:
    env = {
        "STUDIO_ADMIN_USER": ADMIN_USER,
        "STUDIO_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        **variant.env,
    }
    with embedded_stack(env=env, root=variant.root) as stack:
        small = slice_split(clinc.train, 10, 20)
        import_project(stack, LABELING_PROJECT, small)
        import_project(stack, UPLOAD_PROJECT, Split([], []))
        _, page = stack.expect(
            200, "GET", f"/api/v1/projects/{LABELING_PROJECT}/utterances?top=200"
        )
        pks = [int(item["id"]) for item in page["value"]]
        intents = list(dict.fromkeys(small.labels))
        browsers = []
        for _ in range(args.analysts + 1):
            browser = Browser(stack.url)
            browser.sign_in(ADMIN_USER, env["STUDIO_ADMIN_PASSWORD"])
            browsers.append(browser)
        uploader = browsers[0]
        result: dict[str, Any] = {}
        with Analysts(browsers[1:], pks, intents, args.label_rate) as quiet:
            time.sleep(args.quiet_seconds)
        result["quiet"] = quiet.saves.summary()
        document = upload_document(clinc.train, args.upload_utterances, bad_index=None)
        with Analysts(browsers[1:], pks, intents, args.label_rate) as busy:
            status, body, checked = uploader.post_file(
                f"/projects/{UPLOAD_PROJECT}/data/upload/", "good.json", document
            )
            link = JOB_LINK.search(body)
            start = time.perf_counter()
            job = (
                wait_upload(uploader, link.group(1), 3600)
                if status == 200 and link
                else f"not started: HTTP {status}"
            )
            result["job"] = {
                "status": job,
                "checked_s": checked,
                "job_s": time.perf_counter() - start,
            }
        result["upload"] = busy.saves.summary()
        return result


def format_variant(name: str, r: dict[str, Any]) -> list[str]:
    lines = []
    for phase in ("quiet", "upload"):
        s, lock = r[phase], r[phase]["lock"]
        lines.append(
            f"  {name:<4} {phase:<6} saves {s['count']:4d} err {s['errors']:2d}  "
            f"latency p50 {s['p50_ms']:6.1f} p99 {s['p99_ms']:6.1f} max "
            f"{s['max_ms']:6.1f} ms | lock wait p50 {lock['p50_ms']:6.1f} p90 "
            f"{lock['p90_ms']:6.1f} p99 {lock['p99_ms']:6.1f} max {lock['max_ms']:6.1f}"
            f" ms, >50 {lock['over_50']} >100 {lock['over_100']} "
            f">300 {lock['over_300']}"
        )
        for sample in s["error_samples"]:
            lines.append(f"      error: {sample}")
    job = r["job"]
    lines.append(
        f"  {name:<4} upload job {job['status']} in {job['job_s']:.1f} s (checked in "
        f"{job['checked_s']:.2f} s)"
    )
    return lines


def summary(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    """The worst of the rounds of each variant, the second against the first."""
    before, after = list(runs)

    def worst(name: str, value: Callable[[dict[str, Any]], float]) -> float:
        return max(value(r) for r in runs[name])

    def ratio(value: Callable[[dict[str, Any]], float]) -> str:
        if worst(before, value) <= 0:  # a checkout without the Server-Timing header
            return "n/a"
        return f"x{worst(after, value) / worst(before, value):.2f}"

    return (
        f"{args.analysts} analysts x {args.label_rate:g}/s, "
        f"{args.upload_utterances:,}-utterance upload, {args.rounds} round(s); "
        f"during the upload, {after} against {before}: save latency p99 "
        f"{ratio(lambda r: r['upload']['p99_ms'])}, lock wait p99 "
        f"{ratio(lambda r: r['upload']['lock']['p99_ms'])}, upload job time "
        f"{ratio(lambda r: r['job']['job_s'])}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.upload_lock", description=__doc__
    )
    parser.add_argument("--upload-utterances", type=int, default=50_000)
    parser.add_argument("--analysts", type=int, default=4)
    parser.add_argument("--label-rate", type=float, default=1.0)
    parser.add_argument("--quiet-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument(
        "--ab",
        metavar="OTHER_CHECKOUT",
        help="compare OTHER_CHECKOUT (A) with this checkout (B)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    compared = variants(args)
    try:
        clinc = load_clinc150(args.data or default_data_dir())
    except DatasetMissing as exc:
        print(f"bench.upload_lock: skipped: {exc}", file=sys.stderr)
        return 2
    runs: dict[str, list[dict[str, Any]]] = {v.name: [] for v in compared}
    for round_ in range(args.rounds):
        # A then B, B then A, ...: whatever else loads the machine weighs on both.
        order = compared if round_ % 2 == 0 else compared[::-1]
        for variant in order:
            log(f"round {round_ + 1}: {variant.name} ({variant.root}) ...")
            runs[variant.name].append(run_variant(variant, clinc, args))
            print("\n".join(format_variant(variant.name, runs[variant.name][-1])))

    print(summary(runs, args), flush=True)
    if args.json:
        print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
