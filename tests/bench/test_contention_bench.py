"""The contention benchmark's pieces (``bench/contention.py``), and one quick run of
it on the embedded stack (``runstudio``: SQLite, filesystem broker, two workers)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bench import contention
from bench import stack as stack_module
from bench.data import Split, load_clinc150
from bench.loadgen import LoadSpec, RequestSpec
from bench.loadgen import run as run_load
from tests.bench.test_http_bench import serving


def _split() -> Split:
    return Split(["book a flight", "play music", "set an alarm"], ["a", "b", "c"])


def test_the_upload_file_has_one_object_a_line_and_the_bad_one_where_named() -> None:
    raw = contention.upload_document(_split(), 7, bad_index=3)
    items = json.loads(raw)
    assert len(items) == 7
    assert [i for i, item in enumerate(items) if not item["text"]] == [3]
    assert len({item["text"] for item in items}) == 7  # all distinct
    # Line numbers as the upload reports them: item i is on line i + 2.
    assert '"text": ""' in raw.decode().splitlines()[3 + 1]
    good = json.loads(contention.upload_document(_split(), 7, bad_index=None))
    assert all(item["text"] for item in good)
    assert [item["intent"] for item in good[:4]] == ["a", "b", "c", "a"]


def test_the_stack_starts_the_workers_of_runstudio() -> None:
    from studio.queues import QUEUE_LONG, QUEUE_SHORT, worker_queues

    assert {
        QUEUE_LONG: worker_queues(QUEUE_LONG),
        QUEUE_SHORT: worker_queues(QUEUE_SHORT),
    } == stack_module.WORKER_QUEUES


def test_an_open_loop_stops_when_its_stop_file_appears(tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    stop.touch()
    with serving() as port:
        spec = LoadSpec(
            host="127.0.0.1",
            port=port,
            requests=[RequestSpec("GET", "/")],
            rate=100,
            duration=30,
            warmup=0.0,
            stop_file=str(stop),
        )
        started = time.monotonic()
        result = run_load(spec)
    assert time.monotonic() - started < 5
    assert result.sent == 0  # without the file: 3,000 requests over 30 s


def test_quick_mode_and_overrides() -> None:
    quick = contention.config_from(contention.parse_args(["--quick"]))
    assert quick.upload_utterances < 1000 and quick.quiet_seconds <= 2
    full = contention.config_from(
        contention.parse_args(["--train-per-intent", "40", "--stacks", "embedded"])
    )
    assert (full.upload_utterances, full.train_per_intent) == (50_000, 40)
    assert (full.analysts, full.predict_rate, full.label_rate) == (4, 100.0, 1.0)
    assert full.training_mode == "advanced"
    with pytest.raises(SystemExit):
        contention.parse_args(["--stacks", "embedded,mysql"])


def _phase(p99: float, label_p99: float, health: list[str]) -> dict[str, Any]:
    return {
        "seconds": 10.0,
        "predictions": {"ok": 1000, "p50_ms": 3.0, "p99_ms": p99, "errors": 0},
        "labeling": {
            "count": 40,
            "errors": 0,
            "error_samples": [],
            "p99_ms": label_p99,
        },
        "healthz": {
            "seen": dict.fromkeys(health, 1),
            "changes": [(float(i), h) for i, h in enumerate(health)],
        },
    }


def test_the_report_flags_each_target() -> None:
    results = {
        "load_before": "1.0 1.0 1.0",
        "load_after": "2.0 1.0 1.0",
        "quiet": _phase(10, 50, ["healthy"]),
        "uploads": {
            **_phase(40, 120, ["healthy"]),
            "work": {
                "utterances": 50_000,
                "file_mb": 3.5,
                "bad": {"status": 422, "seconds": 2.5, "line_named": True, "line": 9},
                "good": {"status": 200, "validation_s": 3.0, "job": "succeeded"},
            },
        },
        "training": {
            **_phase(80, 400, ["healthy", "degraded", "healthy"]),
            "work": {"mode": "advanced", "deploy_start_s": 0.5, "train_s": 60.0}
            | {"train_status": "succeeded", "deploy_s": 2.0, "utterances": 15_000},
        },
    }
    report = contention.format_report("embedded", results, contention.Config())
    assert "HTTP 422 in 2.50 s, line named: yes  [ok]" in report
    assert "training (advanced, 15,000 utterances): succeeded in 60.0 s" in report
    assert "deploy started after 0.50 s, done in 2.0 s  [ok]" in report
    assert "healthy -> degraded -> healthy" in report
    assert (
        "p99 against the quiet phase (same run): uploads predictions x4.0, labeling "
        "x2.4; training predictions x8.0, labeling x8.0" in report
    )
    assert "<= 50 ms [MISSED: 80.0]" in report
    assert "<= 300 ms [MISSED: 400.0]" in report
    assert "0 errors [ok: 0]" in report and "never unhealthy [ok]" in report


# The quick run's bound on the deploy's start; the benchmark's target is 5 s.
DEPLOY_START_SECONDS = 10.0


@pytest.mark.integration
@pytest.mark.data
def test_a_quick_run_on_the_embedded_stack(shared_data: Path) -> None:
    """The scenario of issue 11 at tiny sizes on the stack ``make run`` starts:
    0 errors of any kind (every prediction and labeling write answered 200),
    ``/healthz`` never unhealthy, the bad file refused naming its line, the valid
    one applied, and the deploy not blocked by the training that runs (picked up
    within seconds, while the training had not finished). Latencies are not
    asserted (the machine is shared): ``python -m bench.contention`` reports them."""
    config = dataclasses.replace(contention.quick_config(), training_mode="standard")
    clinc = load_clinc150(shared_data)
    with contention.start_stack("embedded", keep_logs=False) as stack:
        results = contention.measure_on(stack, clinc, config)
    for phase in contention.PHASES:
        numbers = results[phase]
        assert numbers["predictions"]["ok"] > 0, numbers["predictions"]
        assert numbers["predictions"]["errors"] == 0, numbers["predictions"]
        assert numbers["labeling"]["count"] > 0
        assert numbers["labeling"]["errors"] == 0, numbers["labeling"]
        assert numbers["healthz"]["seen"]
        assert "unhealthy" not in numbers["healthz"]["seen"], numbers["healthz"]
    uploads = results["uploads"]["work"]
    assert uploads["bad"]["status"] == 422 and uploads["bad"]["line_named"]
    assert uploads["good"]["job"] == "succeeded"
    training = results["training"]["work"]
    assert training["train_status"] == "succeeded"
    assert training["deploy_start_s"] is not None
    # Not blocked: a worker of its own queue picks it up within a broker poll
    # (slack for a loaded machine) while the training still runs.
    assert training["deploy_start_s"] <= DEPLOY_START_SECONDS, training
    assert "deploy_s" in training
    assert training["train_status_at_deploy_start"] == "running", training
    assert "targets:" in contention.format_report("embedded", results, config)
