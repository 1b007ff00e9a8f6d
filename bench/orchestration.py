"""Orchestration end to end on CLINC150, beside a flat 150-intent project.

    python -m bench.orchestration [--data PATH] [--quick] [--json]

Built the way a user builds it, through the studio's own API (Django's test client
in this process, so every call runs the same views, services and Celery tasks as a
server, the tasks eagerly) over a throwaway SQLite database in a temporary folder:

* one Conversation project per CLINC150 domain (``domains.json``: 10 domains of 15
  intents), its ``train`` utterances as Train and its ``val`` ones as Test, trained
  with the manual split (so the model learns all of ``train``, as ``bench.engine``'s
  does) and deployed as ``production``;
* one orchestration project whose intents (one per domain) link each domain
  project's ``production`` deployment and have no utterances of their own - linking
  is enough to train a router -, trained and deployed the same way;
* a flat Conversation project with all 150 intents on the same utterances.

Then ``:analyze-conversations`` for every utterance of ``val``, ``oos_val``, ``test``
and ``oos_test``. The confidence threshold follows ``bench.engine``'s rule
(``choose_oos_threshold`` on ``val`` + ``oos_val``, never on a test split; an
in-scope utterance counts when it ends right - for the router: right domain *and*
right intent from the nested CLU call) and is written to each project's
``settings.confidenceThreshold`` through the API; ``test`` and ``oos_test`` are then
predicted again with it. Reported on ``test``: routing accuracy (right domain),
end-to-end intent accuracy (right domain and right intent), the flat project's
accuracy, each with and without the threshold, and OOS recall on ``oos_test`` (the
share answered ``None``). With ``--json`` the last line is one JSON object.

Last, the cost of a shadow model to the live answer (runtime/shadow.py): the flat
project is trained a second time (an 80/20 split: a similar but not identical
model) and set as the shadow of a second deployment of the same live model; each
``test`` utterance is then sent to both deployments, one request at a time as
fast as they are answered (no idle time: the worst case for a shadow, which
predicts when the process serves no request), in alternating blocks of 25, so
both see the same process, the same load and the same machine in the same run.
Reported: p50 and p99 of each and their ratio, and the shadow's agreement and
drops (``/api/v1/.../shadow``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import (
    Clinc150,
    DatasetMissing,
    Split,
    default_data_dir,
    load_clinc150,
)
from bench.documents import (
    conversation_document,
    domain_of,
    load_domains,
    orchestration_document,
)

API_VERSION = "2023-04-01"
CLU = "/language/authoring/analyze-conversations"
ANALYZE = f"/language/:analyze-conversations?api-version={API_VERSION}"
DEPLOYMENT = "production"
MODEL_LABEL = "bench"
SHADOW_LABEL = "bench-shadow"
SHADOWED = "shadowed"
SHADOW_BLOCK = 25
ROUTER = "clinc_router"
FLAT = "clinc_flat"
NONE = "None"
MANUAL = {"kind": "manual"}
TARGETS = {"routing_acc": 98.0, "e2e_within_flat_points": 1.0}


def log(message: str) -> None:
    print(f"[bench.orchestration] {message}", file=sys.stderr, flush=True)


def domain_project(domain: str) -> str:
    return f"clinc_{domain}"


# --------------------------------------------------------------------- the studio


@contextmanager
def throwaway_studio() -> Iterator[Path]:
    """Configure Django on a fresh SQLite database in a temporary folder.

    Settings are the production module's embedded mode, with Celery tasks run
    eagerly in this process; nothing under the repository's ``var/`` is touched.
    Only for a process that has not configured Django yet (``main``).
    """
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-orch-"))
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "STUDIO_VAR_DIR": str(folder),
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class ApiError(RuntimeError):
    """An API call did not answer as expected."""


class InProcessApi:
    """The Azure API through Django's test client, with a fresh resource key."""

    def __init__(self) -> None:
        from django.test import Client

        from studio.services import apikey_create

        _, raw_key = apikey_create(name="bench-orchestration")
        self.client = Client(HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw_key)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, str], Any]:
        response = self.client.generic(
            method,
            path,
            b"" if body is None else json.dumps(body).encode(),
            content_type=content_type,
        )
        raw = response.content
        return (
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            json.loads(raw) if raw else None,
        )

    def expect(self, status: int, method: str, path: str, body: Any = None) -> Any:
        got, headers, decoded = self.call(method, path, body)
        if got != status:
            raise ApiError(f"{method} {path}: expected {status}, got {got}: {decoded}")
        return decoded if status != 202 else headers

    def job(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """An LRO request; eager Celery has finished the job when it answers, so one
        GET of its ``Operation-Location`` is its final state."""
        headers = self.expect(202, method, path, body)
        location = headers["operation-location"]
        path = location.split("://", 1)[-1]
        path = path[path.index("/") :]
        for _ in range(600):
            job = self.expect(200, "GET", path)
            if job["status"] in {"succeeded", "failed", "cancelled"}:
                if job["status"] != "succeeded":
                    raise ApiError(f"{method} {path} ended {job}")
                return dict(job)
            time.sleep(0.1)
        raise ApiError(f"{method} {path} still running after 60 s")

    def import_project(self, name: str, document: dict[str, Any]) -> None:
        self.job(
            "POST", f"{CLU}/projects/{name}/:import?api-version={API_VERSION}", document
        )

    def train_and_deploy(self, name: str) -> float:
        """Train (manual split) and deploy as ``production``; the training seconds."""
        start = time.perf_counter()
        self.job(
            "POST",
            f"{CLU}/projects/{name}/:train?api-version={API_VERSION}",
            {
                "modelLabel": MODEL_LABEL,
                "trainingMode": "standard",
                "evaluationOptions": MANUAL,
            },
        )
        seconds = time.perf_counter() - start
        self.job(
            "PUT",
            f"{CLU}/projects/{name}/deployments/{DEPLOYMENT}?api-version={API_VERSION}",
            {"trainedModelLabel": MODEL_LABEL},
        )
        return seconds

    def set_threshold(self, name: str, threshold: float) -> None:
        got, _, body = self.call(
            "PATCH",
            f"{CLU}/projects/{name}?api-version={API_VERSION}",
            {"settings": {"confidenceThreshold": threshold}},
            content_type="application/merge-patch+json",
        )
        if got != 200:
            raise ApiError(f"PATCH {name} settings: {got} {body}")

    def analyze(
        self, project: str, text: str, deployment: str = DEPLOYMENT
    ) -> dict[str, Any]:
        body = {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {"id": "1", "participantId": "user", "text": text}
            },
            "parameters": {"projectName": project, "deploymentName": deployment},
        }
        prediction: dict[str, Any] = self.expect(200, "POST", ANALYZE, body)["result"][
            "prediction"
        ]
        return prediction


# --------------------------------------------------------------------- predictions


@dataclass(frozen=True, slots=True)
class Answers:
    """What a project answered for a list of utterances."""

    top: list[str]  # topIntent as answered (None below the threshold)
    best: list[str]  # the most confident intent, threshold or not
    confidence: np.ndarray  # the most confident intent's confidence
    nested: list[str | None]  # router only: the nested CLU topIntent, if called


def router_answers(api: InProcessApi, texts: Sequence[str]) -> Answers:
    top, best, confidence, nested = [], [], [], []
    for text in texts:
        prediction = api.analyze(ROUTER, text)
        intents: dict[str, Any] = prediction["intents"]
        name, entry = max(intents.items(), key=lambda kv: kv[1]["confidenceScore"])
        top.append(prediction["topIntent"])
        best.append(name)
        confidence.append(entry["confidenceScore"])
        routed = intents.get(prediction["topIntent"], {})
        result = routed.get("result", {}).get("prediction", {})
        nested.append(result.get("topIntent"))
    return Answers(top, best, np.asarray(confidence, dtype=np.float64), nested)


def flat_answers(api: InProcessApi, texts: Sequence[str]) -> Answers:
    top, best, confidence = [], [], []
    for text in texts:
        prediction = api.analyze(FLAT, text)
        first = prediction["intents"][0]
        top.append(prediction["topIntent"])
        best.append(first["category"])
        confidence.append(first["confidenceScore"])
    return Answers(
        top, best, np.asarray(confidence, dtype=np.float64), [None] * len(top)
    )


def pct(mask: Sequence[bool] | np.ndarray) -> float:
    values = np.asarray(mask, dtype=bool)
    return 100.0 * float(values.mean()) if values.size else 0.0


def router_correct(
    answers: Answers, split: Split, domains: dict[str, str]
) -> np.ndarray:
    """Right domain and right intent, as answered (threshold applied)."""
    return np.asarray(
        [
            top == domains[label] and nested == label
            for top, nested, label in zip(
                answers.top, answers.nested, split.labels, strict=True
            )
        ]
    )


def flat_correct(answers: Answers, split: Split) -> np.ndarray:
    return np.asarray(answers.top) == np.asarray(split.labels)


def wait_for_runtime_refresh() -> None:
    """The runtime sees deployments and thresholds when it next checks the version
    row, at most ``STUDIO_DEPLOYMENT_REFRESH_SECONDS`` later: wait that out."""
    from django.conf import settings

    seconds = float(getattr(settings, "STUDIO_DEPLOYMENT_REFRESH_SECONDS", 1.0))
    if seconds > 0:
        time.sleep(seconds + 0.1)


def threshold_from_val(inside: Answers, outside: Answers, correct: np.ndarray) -> float:
    from training.engine.intents import choose_oos_threshold

    chosen = choose_oos_threshold(
        inside.confidence, outside.confidence, in_scope_correct=correct
    )
    # A reject-everything choice lands just above the top score, maybe above 1.
    return float(min(max(chosen, 0.0), 1.0))


# --------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class Workload:
    clinc: Clinc150
    domains: dict[str, list[str]]


def quick_workload(clinc: Clinc150, domains: dict[str, list[str]]) -> Workload:
    """Three domains, 20 train / 5 val / 10 test utterances per intent."""
    kept = dict(list(domains.items())[:3])
    intents = {i for names in kept.values() for i in names}
    return Workload(
        clinc=Clinc150(
            train=clinc.train.only_labels(intents).head_per_label(20),
            val=clinc.val.only_labels(intents).head_per_label(5),
            test=clinc.test.only_labels(intents).head_per_label(10),
            oos_val=clinc.oos_val.head_per_label(20),
            oos_test=clinc.oos_test.head_per_label(40),
        ),
        domains=kept,
    )


def build(api: InProcessApi, work: Workload) -> dict[str, float]:
    """Import, train and deploy every project; seconds per phase."""
    clinc, timings = work.clinc, {}
    start = time.perf_counter()
    train_s = 0.0
    for domain, intents in work.domains.items():
        name = domain_project(domain)
        keep = set(intents)
        api.import_project(
            name,
            conversation_document(
                name, clinc.train.only_labels(keep), test=clinc.val.only_labels(keep)
            ),
        )
        train_s += api.train_and_deploy(name)
    timings["domains_total_s"] = time.perf_counter() - start
    timings["domains_train_s"] = train_s
    log(f"{len(work.domains)} domain projects in {timings['domains_total_s']:.1f}s")
    api.import_project(
        ROUTER,
        orchestration_document(
            ROUTER, [(domain, domain_project(domain)) for domain in work.domains]
        ),
    )
    timings["router_train_s"] = api.train_and_deploy(ROUTER)
    log(f"router trained in {timings['router_train_s']:.1f}s")
    api.import_project(FLAT, conversation_document(FLAT, clinc.train, test=clinc.val))
    timings["flat_train_s"] = api.train_and_deploy(FLAT)
    log(f"flat project trained in {timings['flat_train_s']:.1f}s")
    return timings


def evaluate(api: InProcessApi, work: Workload) -> dict[str, float]:
    clinc, result = work.clinc, {}
    domains = domain_of(work.domains)
    test_domains = np.asarray([domains[label] for label in clinc.test.labels])
    runtime_seconds, predictions = 0.0, 0

    def timed(fn: Any, texts: Sequence[str]) -> Answers:
        nonlocal runtime_seconds, predictions
        start = time.perf_counter()
        answers: Answers = fn(api, texts)
        runtime_seconds += time.perf_counter() - start
        predictions += len(texts)
        return answers

    wait_for_runtime_refresh()  # the deployments just made
    # Threshold 0 (as imported): every answer is the most confident intent.
    log("predicting val, oos_val, test, oos_test without a threshold ...")
    r_val = timed(router_answers, clinc.val.texts)
    r_oos_val = timed(router_answers, clinc.oos_val.texts)
    r_test = timed(router_answers, clinc.test.texts)
    f_val = timed(flat_answers, clinc.val.texts)
    f_oos_val = timed(flat_answers, clinc.oos_val.texts)
    f_test = timed(flat_answers, clinc.test.texts)
    result["routing_acc_no_threshold"] = pct(np.asarray(r_test.best) == test_domains)
    result["e2e_acc_no_threshold"] = pct(router_correct(r_test, clinc.test, domains))
    result["flat_acc_no_threshold"] = pct(flat_correct(f_test, clinc.test))

    router_t = threshold_from_val(
        r_val, r_oos_val, router_correct(r_val, clinc.val, domains)
    )
    flat_t = threshold_from_val(f_val, f_oos_val, flat_correct(f_val, clinc.val))
    result["router_threshold"], result["flat_threshold"] = router_t, flat_t
    api.set_threshold(ROUTER, router_t)
    api.set_threshold(FLAT, flat_t)
    wait_for_runtime_refresh()

    log(f"thresholds router {router_t:.3f}, flat {flat_t:.3f}; predicting again ...")
    r_test_t = timed(router_answers, clinc.test.texts)
    r_oos_t = timed(router_answers, clinc.oos_test.texts)
    f_test_t = timed(flat_answers, clinc.test.texts)
    f_oos_t = timed(flat_answers, clinc.oos_test.texts)
    result["routing_acc"] = pct(np.asarray(r_test_t.top) == test_domains)
    result["e2e_acc"] = pct(router_correct(r_test_t, clinc.test, domains))
    result["flat_acc"] = pct(flat_correct(f_test_t, clinc.test))
    result["router_oos_recall"] = pct(np.asarray(r_oos_t.top) == NONE)
    result["flat_oos_recall"] = pct(np.asarray(f_oos_t.top) == NONE)
    # What the threshold should have done to the threshold-0 answers: the runtime
    # must agree with it exactly.
    expected = [
        best if conf >= router_t else NONE
        for best, conf in zip(r_test.best, r_test.confidence, strict=True)
    ]
    result["runtime_threshold_mismatches"] = float(
        sum(a != b for a, b in zip(expected, r_test_t.top, strict=True))
    )
    result["e2e_minus_flat_points"] = result["e2e_acc"] - result["flat_acc"]
    result["e2e_minus_flat_points_no_threshold"] = (
        result["e2e_acc_no_threshold"] - result["flat_acc_no_threshold"]
    )
    result["predictions"] = float(predictions)
    result["prediction_ms_mean"] = 1000.0 * runtime_seconds / max(predictions, 1)
    return result


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return 1000.0 * float(np.percentile(np.asarray(seconds), q))


def shadow_overhead(api: InProcessApi, work: Workload) -> dict[str, float]:
    """p50/p99 of the flat project's predictions with and without a shadow model,
    measured in the same run (module docstring)."""
    from runtime.shadow import shadow_queue
    from studio.writebehind import write_behind_flush

    deployments = f"{CLU}/projects/{FLAT}/deployments"
    api.job(
        "PUT",
        f"{deployments}/{SHADOWED}?api-version={API_VERSION}",
        {"trainedModelLabel": MODEL_LABEL},
    )
    start = time.perf_counter()
    api.job(
        "POST",
        f"{CLU}/projects/{FLAT}/:train?api-version={API_VERSION}",
        {
            "modelLabel": SHADOW_LABEL,
            "trainingMode": "standard",
            "evaluationOptions": {"kind": "percentage", "trainingSplitPercentage": 80},
        },
    )
    log(f"shadow model trained in {time.perf_counter() - start:.1f}s")
    shadow_url = f"/api/v1/projects/{FLAT}/deployments/{SHADOWED}/shadow"
    api.expect(200, "PUT", shadow_url, {"trainedModelLabel": SHADOW_LABEL})
    wait_for_runtime_refresh()
    texts = work.clinc.test.texts
    for text in texts[:20]:  # warm both, and load the shadow model
        api.analyze(FLAT, text)
        api.analyze(FLAT, text, SHADOWED)
    shadow_queue().join(timeout=120)
    write_behind_flush()
    warm = api.expect(200, "GET", shadow_url)["shadow"]["sinceSet"]
    log(f"timing {len(texts)} predictions per deployment, alternating ...")
    plain: list[float] = []
    shadowed: list[float] = []
    # Blocks, not single requests, alternate: a shadow's work after one request
    # must weigh on the shadowed deployment's next requests, not on the plain one.
    for first in range(0, len(texts), SHADOW_BLOCK):
        block = texts[first : first + SHADOW_BLOCK]
        order = [(DEPLOYMENT, plain), (SHADOWED, shadowed)]
        for deployment, sink in order if (first // SHADOW_BLOCK) % 2 else order[::-1]:
            if deployment == DEPLOYMENT:
                shadow_queue().join(timeout=120)  # the shadow's backlog done
            for text in block:
                begin = time.perf_counter()
                api.analyze(FLAT, text, deployment)
                sink.append(time.perf_counter() - begin)
    shadow_queue().join(timeout=120)
    write_behind_flush()
    stats = api.expect(200, "GET", shadow_url)["shadow"]["sinceSet"]
    result = {
        "plain_p50_ms": percentile_ms(plain, 50),
        "plain_p99_ms": percentile_ms(plain, 99),
        "shadowed_p50_ms": percentile_ms(shadowed, 50),
        "shadowed_p99_ms": percentile_ms(shadowed, 99),
        "shadow_compared": float(stats["compared"] - warm["compared"]),
        "shadow_agreed": float(stats["agreed"] - warm["agreed"]),
        "shadow_dropped": float(stats["dropped"] - warm["dropped"]),
    }
    result["shadow_p50_ratio"] = result["shadowed_p50_ms"] / result["plain_p50_ms"]
    result["shadow_p99_ratio"] = result["shadowed_p99_ms"] / result["plain_p99_ms"]
    result["shadow_agreement_pct"] = (
        100.0 * result["shadow_agreed"] / max(result["shadow_compared"], 1.0)
    )
    return result


def run(work: Workload) -> dict[str, float]:
    api = InProcessApi()
    result = build(api, work)
    result.update(evaluate(api, work))
    result.update(shadow_overhead(api, work))
    return result


ROWS: list[tuple[str, str, str]] = [
    ("routing_acc_no_threshold", "routing accuracy (right domain) %", ".2f"),
    ("e2e_acc_no_threshold", "end-to-end accuracy (domain + intent) %", ".2f"),
    ("flat_acc_no_threshold", "flat project (all intents) accuracy %", ".2f"),
    ("e2e_minus_flat_points_no_threshold", "  end-to-end minus flat (points)", "+.2f"),
    ("routing_acc", "routing accuracy (right domain) %", ".2f"),
    ("e2e_acc", "end-to-end in-scope accuracy %", ".2f"),
    ("flat_acc", "flat in-scope accuracy %", ".2f"),
    ("e2e_minus_flat_points", "  end-to-end minus flat (points)", "+.2f"),
    ("router_oos_recall", "router OOS recall (oos_test -> None) %", ".2f"),
    ("flat_oos_recall", "flat OOS recall (oos_test -> None) %", ".2f"),
    ("router_threshold", "router confidenceThreshold (from val)", ".3f"),
    ("flat_threshold", "flat confidenceThreshold (from val)", ".3f"),
    ("runtime_threshold_mismatches", "runtime vs expected thresholding, diffs", ".0f"),
    ("domains_train_s", "train all domain projects (s, sum)", ".1f"),
    ("router_train_s", "train the router (s)", ".1f"),
    ("flat_train_s", "train the flat project (s)", ".1f"),
    ("prediction_ms_mean", "one prediction in-process, mean (ms)", ".2f"),
    ("plain_p50_ms", "flat prediction p50 / p99, no shadow (ms)", ".2f"),
    ("plain_p99_ms", "", ".2f"),
    ("shadowed_p50_ms", "flat prediction p50 / p99, with shadow (ms)", ".2f"),
    ("shadowed_p99_ms", "", ".2f"),
    ("shadow_p50_ratio", "with / without shadow, p50 / p99", ".2f"),
    ("shadow_p99_ratio", "", ".2f"),
    ("shadow_compared", "shadow: compared, agreement %, dropped", ".0f"),
    ("shadow_agreement_pct", "", ".1f"),
    ("shadow_dropped", "", ".0f"),
]


def format_report(result: dict[str, float], work: Workload) -> str:
    clinc = work.clinc
    lines = [
        f"{len(work.domains)} domain projects, {len(set(clinc.train.labels))} intents, "
        f"{len(clinc.train)} train utterances; test {len(clinc.test)}, "
        f"oos_test {len(clinc.oos_test)}",
        "",
        "test, no threshold (the most confident intent):",
    ]
    for i, (key, title, fmt) in enumerate(ROWS):
        if i == 4:
            lines += ["", "test / oos_test, threshold chosen on val + oos_val:"]
        if i == 10:
            lines.append("")
        if i == 17:
            lines += ["", "a shadow model's cost to the live answer (same run):"]
        if key not in result:
            continue
        value = format(result[key], fmt)
        if not title and lines:  # a second number on the row above
            lines[-1] += f" /{value:>8}"
        else:
            lines.append(f"  {title:<44}{value:>9}")
    lines += [
        "",
        f"Targets: routing accuracy >= {TARGETS['routing_acc']:g} %; end-to-end "
        f"within {TARGETS['e2e_within_flat_points']:g} point of the flat project.",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.orchestration", description=__doc__
    )
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--quick", action="store_true", help="3 domains, small slices")
    parser.add_argument("--json", action="store_true", help="JSON as the last line")
    return parser.parse_args(argv)


def load_workload(data_dir: Path, *, quick: bool) -> Workload:
    clinc, domains = load_clinc150(data_dir), load_domains(data_dir)
    return quick_workload(clinc, domains) if quick else Workload(clinc, domains)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = args.data or default_data_dir()
    try:
        work = load_workload(data_dir, quick=args.quick)
    except (DatasetMissing, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with throwaway_studio():
        result = run(work)
    print(f"Orchestration on CLINC150{' (quick slice)' if args.quick else ''}")
    print(format_report(result, work))
    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in result.items()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
