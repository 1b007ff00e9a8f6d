"""The HTTP benchmark's pieces: the framework-floor view and the load generator.

Tests without a ``django_db`` mark cannot reach the database: the floor must not.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from bench import http as bench_http
from bench import loadgen
from bench import stack as stack_module
from bench import train_api as bench_train_api
from bench.data import load_clinc150
from bench.loadgen import LoadSpec, RequestSpec
from bench.stack import Stack, running_stack
from tests.conftest import free_port, require_postgres, require_redis


def test_ping_answers_tiny_json_without_touching_the_database(client: Client) -> None:
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ping_refuses_post(client: Client) -> None:
    assert client.post("/ping").status_code == 405


# --- the load generator, against a small local server ------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    delay_s = 0.0

    def do_GET(self) -> None:
        if self.path == "/missing":
            self._answer(404, b"{}")
        elif self.path == "/close":
            self._answer(200, b"{}", close=True)
        else:
            self._answer(200, b'{"ok": true}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(self.delay_s)
        self._answer(200, b"{}")

    def _answer(self, status: int, body: bytes, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serving(*, delay_s: float = 0.0, threaded: bool = True) -> Iterator[int]:
    handler = type("Handler", (_Handler,), {"delay_s": delay_s})
    server_class = (
        http.server.ThreadingHTTPServer if threaded else http.server.HTTPServer
    )
    server = server_class(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def spec(port: int, *requests: RequestSpec, **options: Any) -> LoadSpec:
    options.setdefault("warmup", 0.0)
    return LoadSpec(host="127.0.0.1", port=port, requests=list(requests), **options)


GET = RequestSpec("GET", "/")


def test_open_loop_sends_the_scheduled_number_of_requests_at_the_rate() -> None:
    with serving() as port:
        result = loadgen.run(spec(port, GET, mode="open", rate=100, duration=0.5))
    assert (result.sent, result.ok, result.errors) == (50, 50, 0)
    assert 0.45 <= result.elapsed_s < 1.5
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def test_open_loop_latency_counts_from_the_schedule_so_a_slow_server_shows() -> None:
    # One connection to a one-at-a-time server taking 100 ms per request, offered
    # 50 requests/s: each request waits for the ones before it. Measured from the
    # send, every latency would be ~100 ms; from the schedule, the tenth is ~800 ms.
    post = RequestSpec("POST", "/", {"Content-Type": "application/json"}, "{}")
    with serving(delay_s=0.1, threaded=False) as port:
        result = loadgen.run(
            spec(port, post, mode="open", rate=50, duration=0.2, max_connections=1)
        )
    assert result.ok == 10
    assert result.max_ms > 600
    assert result.p50_ms > 300


def test_closed_loop_measures_throughput_with_concurrent_clients() -> None:
    with serving() as port:
        result = loadgen.run(
            spec(port, GET, mode="closed", concurrency=4, duration=0.5)
        )
    assert result.errors == 0
    assert result.ok == result.sent > 20
    assert result.connections == 4
    assert result.rps == pytest.approx(result.ok / result.elapsed_s)


def test_non_200_answers_are_errors_with_samples() -> None:
    with serving() as port:
        result = loadgen.run(
            spec(
                port, RequestSpec("GET", "/missing"), mode="open", rate=40, duration=0.2
            )
        )
    assert result.ok == 0
    assert result.errors == result.sent == 8
    assert result.error_samples[0] == "HTTP 404"


def test_connections_closed_by_the_server_are_reopened() -> None:
    with serving() as port:
        result = loadgen.run(
            spec(
                port,
                RequestSpec("GET", "/close"),
                mode="closed",
                concurrency=2,
                duration=0.3,
            )
        )
    assert result.errors == 0
    assert result.ok > 5


def test_a_server_that_is_down_gives_errors_not_a_crash() -> None:
    port = free_port()
    result = loadgen.run(spec(port, GET, mode="open", rate=20, duration=0.1))
    assert result.ok == 0
    assert result.errors == result.sent == 2
    assert "ConnectionRefusedError" in result.error_samples[0]


def test_the_generator_runs_in_its_own_process_and_reports_its_cpu() -> None:
    with serving() as port:
        result = loadgen.run_in_subprocess(
            spec(port, GET, mode="open", rate=50, duration=0.2, warmup=0.1)
        )
    assert result.ok == 10
    assert result.cpu_s > 0
    assert result.cpu_pct > 0


def test_the_request_is_encoded_once_with_its_length() -> None:
    raw = loadgen.encode(
        RequestSpec("POST", "/p?x=1", {"A": "b"}, '{"é": 1}'), "127.0.0.1", 80
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"POST /p?x=1 HTTP/1.1"
    assert b"Content-Length: 9" in head  # bytes, not characters
    assert body == '{"é": 1}'.encode()


# --- the benchmark scripts ------------------------------------------------------------


def test_gunicorn_configs_parse_and_bad_ones_are_refused() -> None:
    assert bench_http.parse_configs("2x4, 3x2") == [(2, 4), (3, 2)]
    for bad in ("2", "x4", "2x0", "twoxfour"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_http.parse_configs(bad)


def test_quick_mode_shrinks_every_phase() -> None:
    args = bench_http.parse_args(["--quick"])
    assert args.duration <= 1 and args.saturation_duration <= 1
    assert args.concurrency <= 8
    assert args.configs == [(2, 4)]


def _phase(rps: float, p50: float, p99: float) -> dict[str, Any]:
    return {
        "rps": rps,
        "p50_ms": p50,
        "p90_ms": p50,
        "p99_ms": p99,
        "max_ms": p99,
        "errors": 0,
        "sent": 10,
        "web_cpu_pct": 50.0,
        "cpu_pct": 5.0,
        "machine_busy_pct": 80.0,
    }


def test_the_report_shows_both_endpoints_and_the_ratio_to_the_floor() -> None:
    args = bench_http.parse_args([])
    phases = {
        phase: {
            "floor": _phase(200, 1.0, 4.0),
            "analyze": _phase(200, 2.5, 10.0),
            "ratio_p50_ms": 2.5,
            "ratio_p99_ms": 2.5,
            "ratio_rps": 1.0,
        }
        for phase in ("steady", "saturation")
    }
    report = bench_http.format_report({"2x4": phases}, args)
    assert "gunicorn 2 workers x 4 threads" in report
    assert "2.50x" in report
    assert "open 200/s" in report and "closed 32" in report


def test_ab_summary_takes_each_variants_median_and_the_ratio_b_over_a() -> None:
    def load(p50: float, p99: float, errors: int = 0) -> dict[str, Any]:
        return {**_phase(200, p50, p99), "errors": errors, "sent": 2000}

    rounds = [
        {"A": load(4, 10), "B": load(5, 12)},
        {"A": load(6, 30), "B": load(3, 9, errors=1)},
        {"A": load(5, 20), "B": load(4, 11)},
    ]
    summary = bench_http.ab_summary(rounds)

    assert (summary["A"]["p50_ms"], summary["A"]["p99_ms"]) == (5, 20)
    assert (summary["B"]["p50_ms"], summary["B"]["p99_ms"]) == (4, 11)
    assert summary["ratio_p50_ms"] == pytest.approx(0.8)
    assert summary["ratio_p99_ms"] == pytest.approx(0.55)
    assert (summary["B"]["errors"], summary["B"]["sent"]) == (1, 6000)
    args = bench_http.parse_args(["--ab", "../before"])
    report = bench_http.format_ab_report(
        rounds, summary, {"A": "../before", "B": "/here"}, args
    )
    assert "A = ../before" in report
    assert "3 rounds x 10 s" in report
    orders = re.findall(r"^\s*\d+\s+([AB],[AB])\s", report, flags=re.MULTILINE)
    assert orders == ["A,B", "B,A", "A,B"]
    assert "B/A: p50 0.80x, p99 0.55x" in report


def test_ab_mode_defaults_to_six_rounds_of_ten_seconds_and_quick_shrinks_them() -> None:
    args = bench_http.parse_args(["--ab", "../before"])
    assert (args.ab, args.rounds, args.round_seconds) == ("../before", 6, 10.0)
    quick = bench_http.parse_args(["--ab", "../before", "--quick"])
    assert quick.rounds <= 2 and quick.round_seconds <= 1


def test_ab_mode_refuses_a_folder_that_is_not_a_checkout(tmp_path: Path) -> None:
    args = bench_http.parse_args(["--ab", str(tmp_path)])
    with pytest.raises(stack_module.StackUnavailable, match="no manage.py"):
        bench_http.run_ab(args)


@pytest.fixture(scope="module")
def bench_stack() -> Iterator[Stack]:
    """One production-style stack for the benchmark smoke runs of this module."""
    require_postgres()
    require_redis()
    with running_stack() as stack:
        yield stack


@pytest.mark.integration
def test_bench_http_quick_run_serves_predictions_and_the_floor_without_errors(
    bench_stack: Stack,
) -> None:
    results = bench_http.measure_stack(bench_stack, bench_http.parse_args(["--quick"]))
    for phase in ("steady", "saturation"):
        for name in ("floor", "analyze"):
            numbers = results["2x4"][phase][name]
            assert numbers["errors"] == 0, numbers["error_samples"]
            assert numbers["ok"] > 0
            assert 0 < numbers["p50_ms"] <= numbers["p99_ms"]
            assert numbers["web_cpu_pct"] > 0
    report = bench_http.format_report(results, bench_http.parse_args(["--quick"]))
    assert "analyze/floor" in report


@pytest.mark.integration
@pytest.mark.data
def test_bench_train_api_quick_run_trains_through_the_api(
    bench_stack: Stack, shared_data: Path
) -> None:
    split = bench_train_api.quick_split(load_clinc150(shared_data).train)
    result = bench_train_api.measure_on(bench_stack, split)
    assert result["train_s"] > 0 and result["import_s"] > 0
    assert result["trainingStatus_status"] == "succeeded"
    assert 0 < result["eval_micro_f1"] <= 1


def test_bench_scripts_exit_2_with_a_clear_message_when_data_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_train_api.main(["--quick", "--data", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


def test_cpu_accounting_reads_a_process_group_and_the_machine() -> None:
    sum(i * i for i in range(200_000))  # some CPU for this process group
    assert stack_module.group_cpu_s(os.getpgrp()) > 0
    assert stack_module.group_cpu_s(2**22 + 12345) == 0  # no such group
    busy, total = stack_module.machine_busy_s()
    assert 0 < busy <= total


def test_the_training_report_shows_wall_and_cpu_seconds_and_the_target() -> None:
    report = bench_train_api.format_report(
        {
            "utterances": 15000,
            "intents": 150,
            "import_s": 3.0,
            "train_s": 20.0,
            "train_worker_cpu_s": 15.0,
            "baseline_fit_s": 16.0,
            "baseline_fit_cpu_s": 15.5,
            "ratio_to_baseline_fit": 1.25,
            "eval_micro_f1": 0.95,
        }
    )
    assert "20.0 s   (target <= 30 s)" in report
    assert "15.0 s" in report and "1.25x" in report and "95.00 %" in report
