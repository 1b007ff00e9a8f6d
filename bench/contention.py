"""Contention benchmark (issue 11): nothing one user does may stall everyone else.

    python -m bench.contention [--stacks embedded,postgres] [--data PATH]
                               [--upload-utterances 50000] [--train-per-intent 100]
                               [--quiet-seconds 15] [--quick] [--keep-logs] [--json]

On each stack - the embedded default started as ``make run`` does (``runstudio``:
SQLite, filesystem broker, a long and a short worker) and the production-style one
(PostgreSQL + Redis, gunicorn, a long and a short worker; ``bench/stack.py``) - one run
of three phases, all under the same background traffic:

* 4 analysts labeling: each signed in to the studio (session cookie + CSRF, as the
  browser does) and assigning an intent to a row of the Data page once a second
  (``POST .../data/<pk>/intent/`` with ``HX-Request``), latency from the scheduled
  time;
* a bot predicting at 100 requests/s (``POST /language/:analyze-conversations``,
  open loop: ``bench/loadgen.py`` in its own process, latency from the schedule);
* ``/healthz`` polled twice a second, its status changes recorded.

Phases: ``quiet`` (only that traffic, ``--quiet-seconds``), ``uploads`` (a
``--upload-utterances`` file with one bad line through the Data page's upload - the
time until it is refused and whether the answer names the line - then a valid file of
the same size: the time the request takes to check it, and until its job ends) and
``training`` (an ``advanced`` training of CLINC150's train split - 150 intents x
``--train-per-intent`` - while another project is deployed: the delay from the
deploy's ``PUT`` until its job runs). Printed per phase: prediction p50/p99 and errors,
labeling p99 and errors, ``/healthz`` statuses; the targets beside. Nothing asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data import DatasetMissing, Split, default_data_dir, load_clinc150
from bench.documents import conversation_document
from bench.loadgen import LoadResult, LoadSpec, RequestSpec, run_in_subprocess
from bench.stack import (
    API_VERSION,
    CLU_AUTHORING,
    Stack,
    StackError,
    StackUnavailable,
    embedded_stack,
    running_stack,
)

ANALYZE_PATH = f"/language/:analyze-conversations?api-version={API_VERSION}"
ADMIN_USER = "bench-admin"
PHASES = ("quiet", "uploads", "training")
LABELING_PROJECT = "Analysts"
BOT_PROJECT = "Bot"
DEPLOY_PROJECT = "Deployed"
UPLOAD_PROJECT = "Uploads"
TRAIN_PROJECT = "CLINC150"
DEPLOYMENT = "production"
TARGETS = {
    "errors": 0,
    "predict_p99_ms": 50.0,
    "label_p99_ms": 300.0,
    "deploy_start_s": 5.0,
    "bad_upload_s": 10.0,
}
JOB_LINK = re.compile(r'/jobs/([^/"?]+)/\?in=data')
BAD_LINE = re.compile(r"Line [\d,]+[^<]{0,100}")
JOB_STATUS = re.compile(r'data-status="(\w+)"')
FINISHED = {"succeeded", "failed", "cancelled"}
# Background traffic runs this long before a phase's work starts and after it ends.
LEAD_SECONDS = 2.0


def log(message: str) -> None:
    print(f"[bench.contention] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Config:
    analysts: int = 4
    label_rate: float = 1.0  # writes per second per analyst
    predict_rate: float = 100.0
    upload_utterances: int = 50_000
    train_per_intent: int = 100  # CLINC150 train: 150 x 100 = 15,000
    train_intents: int = 150
    quiet_seconds: float = 15.0
    training_mode: str = "advanced"
    job_timeout: float = 3600.0


def quick_config() -> Config:
    # The training is big enough to still run when the deploy is asked for.
    return Config(
        predict_rate=20.0,
        upload_utterances=400,
        train_per_intent=20,
        train_intents=150,
        quiet_seconds=2.0,
        job_timeout=600.0,
    )


# ---------------------------------------------------------------- the browser


class Browser:
    """A signed-in studio session: cookies, CSRF token and htmx headers, as the
    studio's pages send them. Every call returns (status, body text, seconds)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        # The last answer's headers (Server-Timing: the write-lock wait).
        self.last_headers: dict[str, str] = {}
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def _csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "") or ""

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        htmx: bool = True,
        timeout: float = 60,
    ) -> tuple[int, str, float]:
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            self.base_url + path, data=data, method=method
        )
        if data is not None:
            request.add_header("Content-Type", content_type)
            request.add_header("X-CSRFToken", self._csrf())
            request.add_header("Referer", self.base_url + path)
        if htmx:
            request.add_header("HX-Request", "true")
        start = time.perf_counter()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
                self.last_headers = dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            self.last_headers = dict(exc.headers.items())
        return status, raw.decode(errors="replace"), time.perf_counter() - start

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str, float]:
        return self.request("POST", path, data=urllib.parse.urlencode(fields).encode())

    def post_file(
        self, path: str, name: str, content: bytes, **fields: str
    ) -> tuple[int, str, float]:
        boundary = secrets.token_hex(16)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
            f"{value}\r\n".encode()
            for key, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{name}"\r\nContent-Type: application/json\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(
            "POST",
            path,
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            timeout=120,
        )

    def sign_in(self, username: str, password: str) -> None:
        self.request("GET", "/accounts/login/", htmx=False)
        status, body, _ = self.request(
            "POST",
            "/accounts/login/",
            data=urllib.parse.urlencode(
                {
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": self._csrf(),
                }
            ).encode(),
            htmx=False,
        )
        if status != 200 or not any(c.name == "sessionid" for c in self.jar):
            raise StackError(f"sign-in as {username} failed ({status}): {body[:300]}")


# ---------------------------------------------------------------- background traffic


@dataclass
class Samples:
    """Latencies (seconds) and errors of one kind of request in one phase."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:200])

    def summary(self) -> dict[str, Any]:
        ms = sorted(1000 * v for v in self.latencies)

        def pct(q: float) -> float:
            return ms[min(len(ms) - 1, int(q * len(ms)))] if ms else 0.0

        return {
            "count": len(ms),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "max_ms": ms[-1] if ms else 0.0,
        }


@dataclass
class Health:
    """``/healthz`` polled over a phase: each status seen and when it changed."""

    seen: dict[str, int] = field(default_factory=dict)
    changes: list[tuple[float, str]] = field(default_factory=list)

    def record(self, at: float, status: str) -> None:
        self.seen[status] = self.seen.get(status, 0) + 1
        if not self.changes or self.changes[-1][1] != status:
            self.changes.append((round(at, 1), status))


class Traffic:
    """The analysts, the bot and the health poller of one phase, in threads."""

    def __init__(
        self,
        stack: Stack,
        browsers: list[Browser],
        pks: list[int],
        intents: list[str],
        bot_texts: list[str],
        config: Config,
    ) -> None:
        self.stack, self.browsers, self.config = stack, browsers, config
        self.pks, self.intents, self.bot_texts = pks, intents, bot_texts
        self.stop = threading.Event()
        self.labeling = Samples()
        self.health = Health()
        self.predictions: LoadResult | None = None
        self.prediction_error = ""
        self.started = 0.0
        self.stop_file = Path(tempfile.mkstemp(prefix="bench-contention-stop-")[1])
        self.stop_file.unlink()
        self.threads: list[threading.Thread] = []

    def _analyst(self, browser: Browser, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - not for security
        path = f"/projects/{LABELING_PROJECT}/data/{{pk}}/intent/"
        start, i = time.monotonic() + rng.random(), 0
        while not self.stop.is_set():
            due = start + i / self.config.label_rate
            i += 1
            if (delay := due - time.monotonic()) > 0 and self.stop.wait(delay):
                return
            pk = rng.choice(self.pks)
            try:
                status, body, _ = browser.post_form(
                    path.format(pk=pk), {"intent": rng.choice(self.intents)}
                )
            except OSError as exc:
                self.labeling.error(f"{type(exc).__name__}: {exc}")
                continue
            if status == 200:
                self.labeling.latencies.append(time.monotonic() - due)
            else:
                self.labeling.error(f"HTTP {status}: {body[:120]}")

    def _health(self) -> None:
        while not self.stop.is_set():
            at = time.monotonic() - self.started
            try:
                _, _, body = self.stack.call("GET", "/healthz", auth=False, timeout=5)
                status = body.get("status", "?") if isinstance(body, dict) else "?"
            except OSError as exc:
                status = f"no answer ({type(exc).__name__})"
            self.health.record(at, status)
            self.stop.wait(0.5)

    def _bot(self) -> None:
        key = {"Ocp-Apim-Subscription-Key": self.stack.api_key}
        requests = [
            RequestSpec(
                "POST",
                ANALYZE_PATH,
                {**key, "Content-Type": "application/json"},
                json.dumps(analyze_body(text)),
            )
            for text in self.bot_texts
        ]
        spec = LoadSpec(
            host=self.stack.host,
            port=self.stack.port,
            requests=requests,
            mode="open",
            rate=self.config.predict_rate,
            duration=self.config.job_timeout,
            warmup=0.0,
            stop_file=str(self.stop_file),
        )
        try:
            self.predictions = run_in_subprocess(spec)
        except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
            self.prediction_error = str(exc)[-500:]

    def __enter__(self) -> Traffic:
        self.started = time.monotonic()
        self.threads = [
            threading.Thread(target=self._bot, daemon=True),
            threading.Thread(target=self._health, daemon=True),
        ] + [
            threading.Thread(target=self._analyst, args=(b, n), daemon=True)
            for n, b in enumerate(self.browsers)
        ]
        for thread in self.threads:
            thread.start()
        # The phase's work starts once the traffic runs (the load generator's own
        # process takes a moment to start).
        time.sleep(LEAD_SECONDS)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(LEAD_SECONDS)
        self.stop.set()
        self.stop_file.touch()
        for thread in self.threads:
            thread.join(timeout=120)
        with contextlib.suppress(OSError):
            self.stop_file.unlink()

    def result(self) -> dict[str, Any]:
        predictions: dict[str, Any] = {"errors": 1, "error_samples": []}
        if self.predictions is not None:
            predictions = self.predictions.to_dict()
        elif self.prediction_error:
            predictions["error_samples"] = [self.prediction_error]
        return {
            "seconds": time.monotonic() - self.started,
            "predictions": predictions,
            "labeling": self.labeling.summary(),
            "healthz": {"seen": self.health.seen, "changes": self.health.changes},
        }


def analyze_body(text: str) -> dict[str, Any]:
    return {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "user", "text": text}
        },
        "parameters": {"projectName": BOT_PROJECT, "deploymentName": DEPLOYMENT},
    }


# ---------------------------------------------------------------- setup and phases


def slice_split(split: Split, intents: int, per_intent: int) -> Split:
    keep = set(list(dict.fromkeys(split.labels))[:intents])
    return split.only_labels(keep).head_per_label(per_intent)


def upload_document(split: Split, n: int, *, bad_index: int | None) -> bytes:
    """``n`` utterances for the Data page's upload, one JSON object per line (so
    line numbers mean something), texts made unique; with ``bad_index`` that item's
    text is empty (line ``bad_index + 2``)."""
    lines = []
    for i in range(n):
        text = f"{split.texts[i % len(split)]} v{i // len(split)}"
        item = {
            "text": "" if i == bad_index else text,
            "intent": split.labels[i % len(split)],
        }
        lines.append(json.dumps(item))
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode()


def import_project(stack: Stack, name: str, split: Split) -> None:
    stack.wait_job(
        stack.start_job(
            "POST",
            f"{CLU_AUTHORING}/projects/{name}/:import?api-version={API_VERSION}",
            conversation_document(name, split),
        ),
        timeout=1800,
    )


def train(stack: Stack, name: str, mode: str = "standard") -> str:
    """Start a training; its Operation-Location."""
    return stack.start_job(
        "POST",
        f"{CLU_AUTHORING}/projects/{name}/:train?api-version={API_VERSION}",
        {"modelLabel": "bench", "trainingMode": mode},
    )


def deploy(stack: Stack, name: str) -> str:
    return stack.start_job(
        "PUT",
        f"{CLU_AUTHORING}/projects/{name}/deployments/{DEPLOYMENT}"
        f"?api-version={API_VERSION}",
        {"trainedModelLabel": "bench"},
    )


@dataclass
class Seeded:
    pks: list[int]
    intents: list[str]
    bot_texts: list[str]
    upload_split: Split
    train_utterances: int = 0


def seed(stack: Stack, clinc: Any, config: Config) -> Seeded:
    """The projects of the run, built through the API before any phase."""
    train_split: Split = clinc.train
    small = slice_split(train_split, 10, 20)
    log("importing the analysts', bot's, deploy and upload projects ...")
    import_project(stack, LABELING_PROJECT, small)
    import_project(stack, BOT_PROJECT, slice_split(train_split, 20, 30))
    import_project(stack, DEPLOY_PROJECT, small)
    # Empty: a project holds at most 50,000 utterances, the size of the upload.
    import_project(stack, UPLOAD_PROJECT, Split([], []))
    training = slice_split(train_split, config.train_intents, config.train_per_intent)
    log(f"importing {TRAIN_PROJECT} ({len(training):,} utterances) ...")
    import_project(stack, TRAIN_PROJECT, training)
    log("training and deploying the bot's and the deploy project ...")
    for name in (BOT_PROJECT, DEPLOY_PROJECT):
        stack.wait_job(train(stack, name), timeout=config.job_timeout)
    stack.wait_job(deploy(stack, BOT_PROJECT), timeout=config.job_timeout)
    _, page = stack.expect(
        200, "GET", f"/api/v1/projects/{LABELING_PROJECT}/utterances?top=200"
    )
    pks = [int(item["id"]) for item in page["value"]]
    bot_split = slice_split(clinc.val, 20, 10)
    return Seeded(
        pks=pks,
        intents=list(dict.fromkeys(small.labels)),
        bot_texts=bot_split.texts,
        upload_split=train_split,
        train_utterances=len(training),
    )


def wait_upload(browser: Browser, job_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = browser.request("GET", f"/jobs/{job_id}/?in=data")
        found = JOB_STATUS.search(body)
        if status == 200 and found and found.group(1) in FINISHED:
            return found.group(1)
        time.sleep(0.25)
    return "timed out"


def phase_uploads(browser: Browser, seeded: Seeded, config: Config) -> dict[str, Any]:
    n = config.upload_utterances
    bad_index = n // 2
    path = f"/projects/{UPLOAD_PROJECT}/data/upload/"
    result: dict[str, Any] = {"utterances": n}
    bad = upload_document(seeded.upload_split, n, bad_index=bad_index)
    result["file_mb"] = len(bad) / 1_048_576
    status, body, seconds = browser.post_file(path, "bad.json", bad)
    line = bad_index + 2
    said = BAD_LINE.search(body)
    result["bad"] = {
        "status": status,
        "seconds": seconds,
        # The studio writes big numbers with separators ("Line 25,002").
        "line_named": f"Line {line:,}" in body or f"Line {line}" in body,
        "line": line,
        "message": said.group(0).strip() if said else "",
    }
    good = upload_document(seeded.upload_split, n, bad_index=None)
    status, body, seconds = browser.post_file(path, "good.json", good)
    link = JOB_LINK.search(body)
    result["good"] = {"status": status, "validation_s": seconds}
    if status != 200 or link is None:
        result["good"]["job"] = f"not started: {body[:300]}"
        return result
    start = time.perf_counter()
    result["good"]["job"] = wait_upload(browser, link.group(1), config.job_timeout)
    result["good"]["job_s"] = time.perf_counter() - start + seconds
    return result


def job_started_after(stack: Stack, location: str, timeout: float) -> float | None:
    """Seconds from now until the job at ``location`` leaves ``notStarted``."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        _, job = stack.expect(200, "GET", location)
        if job.get("status") != "notStarted":
            return time.perf_counter() - start
        time.sleep(0.05)
    return None


def phase_training(stack: Stack, seeded: Seeded, config: Config) -> dict[str, Any]:
    result: dict[str, Any] = {
        "mode": config.training_mode,
        "utterances": seeded.train_utterances,
    }
    start = time.perf_counter()
    training = train(stack, TRAIN_PROJECT, config.training_mode)
    # The deploy is asked for once the training has the long worker.
    job_started_after(stack, training, 60)
    deploy_sent = time.perf_counter()
    deploying = deploy(stack, DEPLOY_PROJECT)
    # From the PUT's answer (202) until a worker picked the job up.
    result["deploy_start_s"] = job_started_after(stack, deploying, 300)
    # "running": the deploy really went past a training in progress.
    _, job = stack.expect(200, "GET", training)
    result["train_status_at_deploy_start"] = job.get("status")
    try:
        stack.wait_job(deploying, timeout=config.job_timeout)
        result["deploy_s"] = time.perf_counter() - deploy_sent
    except StackError as exc:
        result["deploy_error"] = str(exc)[:300]
    try:
        job = stack.wait_job(training, timeout=config.job_timeout)
        result["train_s"] = time.perf_counter() - start
        result["train_status"] = job.get("status")
    except StackError as exc:
        result["train_error"] = str(exc)[:300]
    return result


def machine_load() -> str:
    """The 1/5/15-minute load averages (the machine is shared)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def measure_on(stack: Stack, clinc: Any, config: Config) -> dict[str, Any]:
    """Seed the projects, sign the analysts in and run the three phases."""
    seeded = seed(stack, clinc, config)
    password = stack.env["STUDIO_ADMIN_PASSWORD"]
    browsers = []
    for _ in range(config.analysts + 1):
        browser = Browser(stack.url)
        browser.sign_in(ADMIN_USER, password)
        browsers.append(browser)
    uploader, analysts = browsers[0], browsers[1:]
    results: dict[str, Any] = {"load_before": machine_load()}

    def traffic() -> Traffic:
        return Traffic(
            stack, analysts, seeded.pks, seeded.intents, seeded.bot_texts, config
        )

    log(f"phase quiet ({config.quiet_seconds:g} s) ...")
    with traffic() as running:
        time.sleep(config.quiet_seconds)
    results["quiet"] = running.result()
    log(json.dumps({"quiet": results["quiet"]}, default=str))
    log(f"phase uploads ({config.upload_utterances} utterances) ...")
    with traffic() as running:
        work = phase_uploads(uploader, seeded, config)
    results["uploads"] = {**running.result(), "work": work}
    log(json.dumps({"uploads": results["uploads"]}, default=str))
    log(f"phase training ({config.training_mode}) with a deploy ...")
    with traffic() as running:
        work = phase_training(stack, seeded, config)
    results["training"] = {**running.result(), "work": work}
    results["load_after"] = machine_load()
    return results


@contextlib.contextmanager
def start_stack(kind: str, *, keep_logs: bool) -> Iterator[Stack]:
    env = {
        "STUDIO_ADMIN_USER": ADMIN_USER,
        "STUDIO_ADMIN_PASSWORD": secrets.token_urlsafe(16),
    }
    if kind == "embedded":
        with embedded_stack(keep_logs=keep_logs, env=env) as stack:
            yield stack
        return
    with running_stack(keep_logs=keep_logs, split_queues=True, env=env) as stack:
        stack.manage("ensureadmin")
        stack.manage("collectstatic", "--noinput")
        yield stack


# ---------------------------------------------------------------- report


def _flag(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _against_quiet(results: dict[str, Any]) -> str:
    """Each busy phase's p99s as multiples of the quiet phase's: on a shared
    machine the absolute numbers move with everybody else's load, the ratio much
    less."""
    quiet = results["quiet"]
    parts = []
    for phase in PHASES[1:]:
        r = results[phase]
        predict = r["predictions"].get("p99_ms", 0) / max(
            quiet["predictions"].get("p99_ms", 0), 1e-9
        )
        label = r["labeling"]["p99_ms"] / max(quiet["labeling"]["p99_ms"], 1e-9)
        parts.append(f"{phase} predictions x{predict:.1f}, labeling x{label:.1f}")
    return "; ".join(parts)


def format_report(kind: str, results: dict[str, Any], config: Config) -> str:
    lines = [
        f"{kind}: {config.analysts} analysts x {config.label_rate:g}/s, bot "
        f"{config.predict_rate:g}/s; load average before {results['load_before']}, "
        f"after {results['load_after']}",
        f"  {'phase':<9} {'s':>6} {'predictions':>11} {'p50':>8} {'p99':>8} {'err':>5} "
        f"{'label p99':>9} {'err':>4}  /healthz",
    ]
    for phase in PHASES:
        r = results[phase]
        p, lab = r["predictions"], r["labeling"]
        changes = " -> ".join(status for _, status in r["healthz"]["changes"])
        lines.append(
            f"  {phase:<9} {r['seconds']:6.1f} {p.get('ok', 0):11d} "
            f"{p.get('p50_ms', 0):6.1f}ms "
            f"{p.get('p99_ms', 0):6.1f}ms {p.get('errors', 0):5d} "
            f"{lab['p99_ms']:7.1f}ms {lab['errors']:4d}  {changes}"
        )
        for sample in [*p.get("error_samples", []), *lab["error_samples"]][:3]:
            lines.append(f"      error: {sample}")
    lines.append(f"  p99 against the quiet phase (same run): {_against_quiet(results)}")
    up = results["uploads"]["work"]
    bad, good = up["bad"], up["good"]
    refused = (
        bad["status"] in (400, 422)
        and bad["line_named"]
        and bad["seconds"] <= TARGETS["bad_upload_s"]
    )
    lines.append(
        f"  bad upload ({up['utterances']} utterances, {up['file_mb']:.1f} MB, line "
        f"{bad['line']} bad): HTTP {bad['status']} in {bad['seconds']:.2f} s, line "
        f"named: {'yes' if bad['line_named'] else 'NO'}  "
        f"[{_flag(refused)}]"
    )
    if bad.get("message"):
        lines.append(f"      the studio said: {bad['message']}")
    lines.append(
        f"  valid upload: HTTP {good['status']}, checked in "
        f"{good['validation_s']:.2f} s, job {good.get('job')} "
        f"after {good.get('job_s', 0):.1f} s"
    )
    tr = results["training"]["work"]
    start = tr.get("deploy_start_s")
    lines.append(
        f"  training ({tr['mode']}, {tr.get('utterances', 0):,} utterances): "
        + (
            f"{tr['train_status']} in {tr['train_s']:.1f} s"
            if "train_s" in tr
            else tr.get("train_error", "?")
        )
        + "; deploy started after "
        + ("never" if start is None else f"{start:.2f} s")
        + (f", done in {tr['deploy_s']:.1f} s" if "deploy_s" in tr else "")
        + f"  [{_flag(start is not None and start <= TARGETS['deploy_start_s'])}]"
    )
    busy = [results[p] for p in ("uploads", "training")]
    errors = sum(
        r["predictions"].get("errors", 0) + r["labeling"]["errors"]
        for r in (results["quiet"], *busy)
    )
    unhealthy = any(
        "unhealthy" in results[p]["healthz"]["seen"]
        or len(results[p]["healthz"]["seen"]) == 0
        for p in PHASES
    )
    p99 = max(r["predictions"].get("p99_ms", 0) for r in busy)
    label = max(results[p]["labeling"]["p99_ms"] for p in PHASES)
    lines.append(
        f"  targets: 0 errors [{_flag(errors == 0)}: {errors}], prediction p99 during "
        f"uploads/training <= 50 ms [{_flag(p99 <= TARGETS['predict_p99_ms'])}: "
        f"{p99:.1f}], labeling p99 <= 300 ms "
        f"[{_flag(label <= TARGETS['label_p99_ms'])}: {label:.1f}], "
        f"/healthz never unhealthy [{_flag(not unhealthy)}]"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.contention", description=__doc__
    )
    parser.add_argument("--stacks", default="embedded,postgres")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--upload-utterances", type=int, default=None)
    parser.add_argument("--train-per-intent", type=int, default=None)
    parser.add_argument("--quiet-seconds", type=float, default=None)
    parser.add_argument(
        "--training-mode", choices=("advanced", "standard"), default="advanced"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--json", action="store_true", help="JSON as the last line")
    args = parser.parse_args(argv)
    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    if not stacks or set(stacks) - {"embedded", "postgres"}:
        parser.error("--stacks: a comma-separated list of embedded, postgres")
    args.stacks = stacks
    return args


def config_from(args: argparse.Namespace) -> Config:
    config = quick_config() if args.quick else Config()
    changes: dict[str, Any] = {"training_mode": args.training_mode}
    if args.upload_utterances is not None:
        changes["upload_utterances"] = args.upload_utterances
    if args.train_per_intent is not None:
        changes["train_per_intent"] = args.train_per_intent
    if args.quiet_seconds is not None:
        changes["quiet_seconds"] = args.quiet_seconds
    return Config(**{**config.__dict__, **changes})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_from(args)
    try:
        clinc = load_clinc150(args.data or default_data_dir())
    except DatasetMissing as exc:
        # The projects (and the 15,000-utterance training) are built from CLINC150.
        print(
            f"bench.contention: skipped: {exc} (give the shared data folder with "
            "--data PATH)",
            file=sys.stderr,
        )
        return 2
    everything: dict[str, Any] = {}
    for kind in args.stacks:
        log(f"starting the {kind} stack ...")
        try:
            with start_stack(kind, keep_logs=args.keep_logs) as stack:
                everything[kind] = measure_on(stack, clinc, config)
        except StackUnavailable as exc:
            print(f"{kind}: skipped: {exc}", file=sys.stderr)
            continue
        print(format_report(kind, everything[kind], config), flush=True)
    if args.json:
        print(json.dumps(everything, default=str))
    return 0 if everything else 2


if __name__ == "__main__":
    raise SystemExit(main())
