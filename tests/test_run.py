"""``make run``'s pieces for real: ``scripts/find-python`` and ``scripts/run`` (the
supervisor of gunicorn + a Celery worker per queue) in a temporary var folder on a
free port."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, free_port, http_get_json, log_tail

START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0


def run_env(var_dir: Path, port: int) -> dict[str, str]:
    """The embedded mode as a fresh shell would have it: nothing set but the basics."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "STUDIO_", "SECURE_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "DEBUG", "SECRET_KEY"}
    }
    env.update(
        {
            "STUDIO_VAR_DIR": str(var_dir),
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "STUDIO_WORKER_HEARTBEAT_SECONDS": "1",
            # A killed worker's heartbeat goes stale quickly: /healthz can be seen
            # degraded before the supervisor's restart beats again.
            "STUDIO_WORKER_STALE_SECONDS": "3",
            "STUDIO_PYTHON": sys.executable,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    log: Path
    url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pid_of(self, name: str) -> int:
        """The pid of the latest start of ``name`` (workers are restarted)."""
        found = re.findall(rf"Started {name} \(pid (\d+)\)", self.output())
        assert found, f"no '{name}' pid in the output:\n{log_tail(self.log, 80)}"
        return int(found[-1])

    def api_key(self) -> str:
        match = re.search(r"Created API key 'default': (\S+)", self.output())
        assert match, log_tail(self.log, 80)
        return match.group(1)

    def wait_healthy(self) -> float:
        """Seconds from now until /healthz is 200 (a worker included)."""
        started = time.monotonic()
        deadline = started + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"scripts/run exited with {self.process.returncode}:\n"
                    f"{log_tail(self.log, 80)}"
                )
            with contextlib.suppress(OSError):
                status, body = http_get_json(f"{self.url}/healthz", timeout=2)
                # Both workers beat (200 alone may be "degraded").
                if status == 200 and body["status"] == "healthy":
                    return time.monotonic() - started
            time.sleep(0.2)
        pytest.fail(f"/healthz not 200 in {START_TIMEOUT:.0f} s:\n{log_tail(self.log)}")

    def wait_exit(self) -> tuple[int, float]:
        started = time.monotonic()
        code = self.process.wait(timeout=STOP_TIMEOUT)
        return code, time.monotonic() - started

    def kill_all(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def start_run(var_dir: Path, log: Path) -> Run:
    port = free_port()
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [str(REPO_ROOT / "scripts" / "run")],
            cwd=REPO_ROOT,
            env=run_env(var_dir, port),
            stdout=handle,
            stderr=subprocess.STDOUT,
            # A session of its own: the test can clean up every process it started.
            start_new_session=True,
        )
    return Run(process=process, log=log, url=f"http://127.0.0.1:{port}")


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_exists(pid):
            return True
        time.sleep(0.05)
    return False


def port_refuses(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) != 0


# --- find-python ---


def test_find_python_prints_a_working_python_3_12_or_newer() -> None:
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "find-python")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    python = result.stdout.strip()
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info >= (3, 12))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.strip() == "True"


def test_find_python_explains_what_it_found_when_nothing_qualifies(
    tmp_path: Path,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ls", "sort"):
        real = shutil.which(tool)
        assert real is not None
        (bin_dir / tool).symlink_to(real)
    # What this machine has: a pyenv shim that cannot run, and an old python3.
    shim = bin_dir / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\n")
    old = bin_dir / "python3"
    old.write_text(f'#!/bin/sh\necho "3 11 {old}"\n')
    shim.chmod(0o755)
    old.chmod(0o755)
    shim.write_text(shim.read_text() + "exit 127\n")
    bash = shutil.which("bash")
    assert bash is not None

    result = subprocess.run(
        [bash, str(REPO_ROOT / "scripts" / "find-python")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert "No Python 3.12+ found" in result.stderr
    assert f"{shim} does not run" in result.stderr
    assert f"{old} is Python 3.11" in result.stderr


# --- scripts/run ---


@dataclass
class FirstRun:
    var_dir: Path
    output: str
    start_seconds: float
    exit_code: int
    stop_seconds: float
    web_pid: int
    worker_pids: list[int]
    web_gone: bool
    workers_gone: bool
    port_closed: bool
    not_found: tuple[int, str]
    login_headers: dict[str, str]
    api_key: str


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    """A first start in an empty var folder, stopped with SIGINT (Ctrl-C)."""
    var_dir = tmp_path_factory.mktemp("run") / "var"
    run = start_run(var_dir, var_dir.parent / "first.log")
    try:
        start_seconds = run.wait_healthy()
        web_pid = run.pid_of("web")
        worker_pids = [run.pid_of("worker-long"), run.pid_of("worker-short")]
        api_key = run.api_key()
        not_found = http_get_json(f"{run.url}/no/such/page/")
        with urllib.request.urlopen(f"{run.url}/accounts/login/", timeout=10) as page:  # noqa: S310
            login_headers = {key.lower(): value for key, value in page.headers.items()}
        run.process.send_signal(signal.SIGINT)
        exit_code, stop_seconds = run.wait_exit()
        yield FirstRun(
            var_dir=var_dir,
            output=run.output(),
            start_seconds=start_seconds,
            exit_code=exit_code,
            stop_seconds=stop_seconds,
            web_pid=web_pid,
            worker_pids=worker_pids,
            web_gone=wait_gone(web_pid),
            workers_gone=all(wait_gone(pid) for pid in worker_pids),
            port_closed=port_refuses(run.url),
            not_found=not_found,
            login_headers=login_headers,
            api_key=api_key,
        )
    finally:
        run.kill_all()


def test_first_start_serves_healthz_with_a_live_worker_and_prints_credentials(
    first_run: FirstRun,
) -> None:
    output = first_run.output
    assert "Created admin account 'admin' with password" in output
    assert re.search(r"Created API key 'default': \S{20,}", output)
    assert "Demo projects loaded: HomeOffice, OfficeFAQ, OfficeRouter." in output
    assert (first_run.var_dir / "studio.sqlite3").is_file()
    assert (first_run.var_dir / "broker").is_dir()


def test_the_embedded_studio_runs_with_debug_off_on_plain_http(
    first_run: FirstRun,
) -> None:
    status, body = first_run.not_found
    assert status == 404
    # The studio's own page, not Django's technical 404 (URL patterns, settings).
    assert "Orchestration Studio" in body
    assert "URLconf" not in body
    assert "DEBUG = True" not in body
    # Served on http://127.0.0.1: no redirect to HTTPS, no HSTS, cookies usable.
    assert "strict-transport-security" not in first_run.login_headers
    assert "; secure" not in first_run.login_headers.get("set-cookie", "").lower()
    assert "script-src 'self'" in first_run.login_headers["content-security-policy"]


def test_everything_under_var_is_private_to_the_user(first_run: FirstRun) -> None:
    paths = [first_run.var_dir, *first_run.var_dir.rglob("*")]
    loose = {
        str(path.relative_to(first_run.var_dir)): oct(path.stat().st_mode & 0o777)
        for path in paths
        if path.stat().st_mode & 0o077
    }
    assert (first_run.var_dir / "studio.sqlite3").exists()
    assert loose == {}


def test_sigint_stops_the_web_server_and_the_worker_within_seconds(
    first_run: FirstRun,
) -> None:
    assert first_run.exit_code == 0, first_run.output[-3000:]
    assert first_run.stop_seconds < 20
    assert first_run.web_gone
    assert first_run.workers_gone
    assert first_run.port_closed
    assert "Stopped." in first_run.output


def api_call(run: Run, key: str, method: str, path: str, body: Any = None) -> Any:
    """One API call; (status, headers, JSON body)."""
    sep = "&" if "?" in path else "?"
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        f"{run.url}{path}{sep}api-version=2023-04-01",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Ocp-Apim-Subscription-Key": key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, response.headers, json.loads(raw or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"null")


AUTHORING = "/language/authoring/analyze-conversations/projects/HomeOffice"


def predict(run: Run, key: str) -> int:
    status, _, _ = api_call(
        run,
        key,
        "POST",
        "/language/:analyze-conversations",
        {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {
                    "id": "1",
                    "participantId": "user",
                    "text": "turn off the lights",
                }
            },
            "parameters": {
                "projectName": "OfficeRouter",
                "deploymentName": "production",
            },
        },
    )
    return int(status)


def wait_job(run: Run, key: str, operation_location: str, timeout: float) -> str:
    path = operation_location.split(run.url, 1)[1].split("?", 1)[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = api_call(run, key, "GET", path)
        assert status == 200, body
        if body["status"] in ("succeeded", "failed", "cancelled"):
            return str(body["status"])
        time.sleep(0.5)
    pytest.fail(f"job {path} did not finish in {timeout:.0f} s:\n{log_tail(run.log)}")


def test_second_start_runs_jobs_on_both_queues_and_restarts_a_killed_worker(
    first_run: FirstRun,
) -> None:
    run = start_run(first_run.var_dir, first_run.var_dir.parent / "second.log")
    key = first_run.api_key
    try:
        start_seconds = run.wait_healthy()
        output = run.output()
        assert "Created admin account" not in output
        assert "Created API key" not in output
        assert "already present: HomeOffice, OfficeFAQ, OfficeRouter." in output
        # Measured under load on a shared 2-core machine; typically a few seconds.
        assert start_seconds < 60

        # One job per queue through the embedded filesystem broker.
        export = api_call(
            run, key, "POST", f"{AUTHORING}/:export?stringIndexType=Utf16CodeUnit"
        )
        train = api_call(
            run,
            key,
            "POST",
            f"{AUTHORING}/:train",
            {"modelLabel": "queues", "trainingMode": "standard"},
        )
        assert (export[0], train[0]) == (202, 202), (export[2], train[2])
        assert wait_job(run, key, export[1]["Operation-Location"], 60) == "succeeded"
        assert wait_job(run, key, train[1]["Operation-Location"], 120) == "succeeded"

        # The workers' task processes yield the cores to the web server; each
        # worker's main process (heartbeats, sweeps: short writes) does not, nor
        # does the web server (studio/cpu.py).
        web_pid, old_worker = run.pid_of("web"), run.pid_of("worker-long")
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, web_pid) == ours
        for name in ("worker-long", "worker-short"):
            main = run.pid_of(name)
            assert os.getpriority(os.PRIO_PROCESS, main) == ours
            children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
            assert children, f"{name} has no task process"
            for child in children:
                niceness = os.getpriority(os.PRIO_PROCESS, int(child))
                assert niceness == min(19, ours + 10)

        # A crashed worker: the web server keeps serving, /healthz says degraded,
        # and the supervisor brings the worker back.
        os.kill(old_worker, signal.SIGKILL)
        answers: list[int] = []
        seen_degraded = False
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert run.process.poll() is None, log_tail(run.log, 80)
            answers.append(predict(run, key))
            status, body = http_get_json(f"{run.url}/healthz", timeout=5)
            assert status == 200, body
            if body["status"] == "degraded":
                seen_degraded = True
                assert body["workers"]["queues"]["long"] == 0
            elif seen_degraded and run.pid_of("worker-long") != old_worker:
                break
            time.sleep(0.2)

        output = run.output()
        assert "The worker-long process exited with status" in output
        assert "restarting it in 1 s" in output
        assert seen_degraded
        assert body["status"] == "healthy", body
        assert process_exists(web_pid)
        assert run.pid_of("web") == web_pid
        assert answers and set(answers) == {200}, answers
        # Back for real: the new long worker runs a training.
        again = api_call(
            run,
            key,
            "POST",
            f"{AUTHORING}/:train",
            {"modelLabel": "after-restart", "trainingMode": "standard"},
        )
        assert again[0] == 202, again[2]
        assert wait_job(run, key, again[1]["Operation-Location"], 120) == "succeeded"
    finally:
        run.kill_all()


def test_a_worker_that_keeps_crashing_is_restarted_with_growing_back_off() -> None:
    from studio.management.commands.runstudio import MAX_BACKOFF, Restarts

    plan = Restarts()
    plan.started(now=0.0)
    delays = []
    now = 0.0
    for _ in range(7):
        now += 2  # dies two seconds after each start
        delays.append(plan.schedule(now=now))
        plan.started(now=now + delays[-1])
        now += delays[-1]
    # A worker that ran long enough before it died starts over at 1 s.
    stable = plan.schedule(now=now + 120)

    assert delays == [1, 2, 4, 8, 16, MAX_BACKOFF, MAX_BACKOFF]
    assert stable == 1


def test_run_refuses_a_port_in_use_before_doing_any_setup(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(REPO_ROOT / "scripts" / "run")],
            cwd=REPO_ROOT,
            env=run_env(tmp_path / "var", port),
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 1
    assert f"Cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "PORT=" in result.stderr
    assert "Database is migrated" not in result.stdout


def test_a_second_sigint_kills_both_servers_at_once(first_run: FirstRun) -> None:
    run = start_run(first_run.var_dir, first_run.var_dir.parent / "third.log")
    try:
        run.wait_healthy()
        web_pid = run.pid_of("web")
        worker_pids = [run.pid_of("worker-long"), run.pid_of("worker-short")]

        run.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while "Stopping (press Ctrl-C again" not in run.output():
            assert time.monotonic() < deadline, log_tail(run.log)
            time.sleep(0.05)
        run.process.send_signal(signal.SIGINT)
        exit_code, seconds = run.wait_exit()

        assert exit_code == 0
        # Well under the graceful wait (a warm Celery shutdown takes several seconds).
        assert seconds < 5
        assert wait_gone(web_pid)
        assert all(wait_gone(pid) for pid in worker_pids)
    finally:
        run.kill_all()
