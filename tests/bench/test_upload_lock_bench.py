"""The upload lock benchmark's pieces (``bench/upload_lock.py``); the stacks it
starts are the contention benchmark's (tested there)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bench import upload_lock as ul


def test_saves_report_latency_and_the_servers_lock_wait() -> None:
    saves = ul.Saves(latency_ms=[float(n) for n in range(1, 101)])
    saves.lock_ms = [0.1] * 90 + [60.0] * 8 + [150.0, 400.0]
    saves.errors.append("HTTP 500: database is locked")
    summary = saves.summary()
    assert summary["count"] == 100 and summary["errors"] == 1
    assert summary["p50_ms"] == 51 and summary["p99_ms"] == 100
    lock = summary["lock"]
    assert lock["p50_ms"] == 0.1 and lock["max_ms"] == 400.0
    assert (lock["over_50"], lock["over_100"], lock["over_300"]) == (10, 2, 1)
    assert ul.LOCK_WAIT.search('db-lock;dur=12.5;desc="1 write transaction"')


def test_it_compares_another_checkout_or_the_hand_off(tmp_path: Path) -> None:
    plain = ul.variants(argparse.Namespace(ab=None))
    assert [(v.name, v.env) for v in plain] == [
        ("off", {"STUDIO_SQLITE_HANDOFF": "0"}),
        ("on", {"STUDIO_SQLITE_HANDOFF": "1"}),
    ]
    with pytest.raises(SystemExit, match="not a checkout"):
        ul.variants(argparse.Namespace(ab=str(tmp_path)))
    (tmp_path / "manage.py").touch()
    a, b = ul.variants(argparse.Namespace(ab=str(tmp_path)))
    assert (a.name, a.root, b.name, b.root) == ("A", tmp_path, "B", ul.REPO_ROOT)


def test_the_summary_is_the_worst_round_of_the_second_against_the_first() -> None:
    def run(p99: float, lock: float, job: float) -> dict[str, Any]:
        return {
            "upload": {"p99_ms": p99, "lock": {"p99_ms": lock}},
            "job": {"job_s": job},
        }

    runs = {"A": [run(600, 500, 40), run(900, 400, 30)], "B": [run(90, 50, 20)]}
    args = argparse.Namespace(
        analysts=4, label_rate=1.0, upload_utterances=500, rounds=2
    )
    text = ul.summary(runs, args)
    assert "B against A" in text
    assert "save latency p99 x0.10" in text and "lock wait p99 x0.10" in text
    assert "upload job time x0.50" in text
    # A checkout that does not send the lock wait: no ratio, not a huge one.
    runs["A"] = [run(600, 0, 40)]
    assert "lock wait p99 n/a" in ul.summary(runs, args)
