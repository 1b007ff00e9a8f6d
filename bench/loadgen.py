"""A small HTTP/1.1 load generator: open-loop at a fixed rate, or closed-loop.

    python -m bench.loadgen '<spec JSON>'      # prints one JSON result line

It runs in a process of its own (``run_in_subprocess``) so that its CPU time is
measured apart from the server's, and it is kept cheap: one asyncio event loop,
requests encoded once up front, keep-alive connections, responses parsed only as far
as the status line, ``Content-Length`` and ``Connection`` headers.

Open loop (``mode: "open"``): request ``i`` is due at ``start + i / rate`` whatever
happened to earlier ones, and its latency is measured from that due time, not from
when it was sent. A stalled server (or a stalled generator) therefore shows up as
latency instead of silently lowering the offered load - no coordinated omission.
New connections are opened while all are busy, up to ``max_connections``.

Closed loop (``mode: "closed"``): ``concurrency`` clients each send the next request
as soon as the previous answer arrived; the result is the saturation throughput.
Latency there is measured from the send and is bound by Little's law.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# A request slower than this counts as an error (and its connection is dropped).
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class RequestSpec:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True, slots=True)
class LoadSpec:
    host: str
    port: int
    requests: list[RequestSpec]
    mode: str = "open"  # "open" | "closed"
    rate: float = 200.0  # open loop: requests per second
    duration: float = 10.0  # seconds of measurement
    concurrency: int = 32  # closed loop: clients
    max_connections: int = 64  # open loop: connection cap
    warmup: float = 1.0  # seconds of closed-loop traffic before measuring
    # Open loop: stop scheduling once this file exists (``duration`` is then a cap),
    # for a phase whose length is not known up front.
    stop_file: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LoadSpec:
        raw = json.loads(text)
        raw["requests"] = [RequestSpec(**r) for r in raw["requests"]]
        return cls(**raw)


@dataclass(slots=True)
class LoadResult:
    mode: str
    sent: int = 0
    ok: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    # CPU seconds this generator process used while measuring, and as a share of
    # one core over the measured wall time.
    cpu_s: float = 0.0
    cpu_pct: float = 0.0
    connections: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def encode(spec: RequestSpec, host: str, port: int) -> bytes:
    body = spec.body.encode("utf-8")
    lines = [f"{spec.method} {spec.path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in spec.headers.items()]
    if body or spec.method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 we understand."""


class Connection:
    """One keep-alive connection; reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _ensure_open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port
            )
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def roundtrip(self, request: bytes) -> int:
        """Send ``request``, read the whole answer; its status code.

        A kept-alive connection the server has closed meanwhile (gunicorn drops idle
        ones after its keep-alive timeout) fails before any byte of an answer: like
        HTTP client libraries, send once more on a new connection then.
        """
        reused = self.reader is not None
        reader, writer = await self._ensure_open()
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            partial = getattr(exc, "partial", b"")
            if not reused or partial:
                raise
            self.close()
            reader, writer = await self._ensure_open()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {status_line[:60]!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = close = False
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length is not None:
            await reader.readexactly(length)
        else:
            await reader.read()  # the body runs until the server closes
            close = True
        if close:
            self.close()
        return status


def _percentiles(latencies_s: Sequence[float]) -> dict[str, float]:
    if not latencies_s:
        return {}
    ms = np.asarray(latencies_s) * 1000.0
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.samples: list[str] = []

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(text)


async def _send(
    conn: Connection, request: bytes, record: _Recorder, started: float
) -> None:
    loop = asyncio.get_running_loop()
    try:
        status = await asyncio.wait_for(conn.roundtrip(request), REQUEST_TIMEOUT_S)
    except (
        OSError,
        TimeoutError,
        ValueError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
        ProtocolError,
    ) as exc:
        conn.close()
        record.error(f"{type(exc).__name__}: {exc}"[:200])
        return
    if status != 200:
        record.error(f"HTTP {status}")
        return
    record.latencies.append(loop.time() - started)


async def _closed_loop(
    spec: LoadSpec, payloads: list[bytes], record: _Recorder, seconds: float
) -> float:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def client(k: int) -> None:
        conn = Connection(spec.host, spec.port)
        i = k
        while loop.time() < deadline:
            await _send(conn, payloads[i % len(payloads)], record, loop.time())
            i += spec.concurrency
        conn.close()

    start = loop.time()
    await asyncio.gather(*(client(k) for k in range(spec.concurrency)))
    return loop.time() - start


async def _open_loop(
    spec: LoadSpec, payloads: list[bytes], record: _Recorder
) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    idle: list[Connection] = []
    opened = 0
    freed = asyncio.Condition()

    async def one(i: int, due: float) -> None:
        nonlocal opened
        async with freed:
            while not idle and opened >= spec.max_connections:
                await freed.wait()
            if idle:
                conn = idle.pop()
            else:
                opened += 1
                conn = Connection(spec.host, spec.port)
        await _send(conn, payloads[i % len(payloads)], record, due)
        async with freed:
            idle.append(conn)
            freed.notify()

    total = max(1, round(spec.rate * spec.duration))
    start = loop.time() + 0.05
    tasks = []
    check_every = max(1, round(spec.rate / 20))  # every ~50 ms
    for i in range(total):
        if spec.stop_file and i % check_every == 0 and os.path.exists(spec.stop_file):
            break
        due = start + i / spec.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for conn in idle:
        conn.close()
    return elapsed, opened


async def run_async(spec: LoadSpec) -> LoadResult:
    payloads = [encode(r, spec.host, spec.port) for r in spec.requests]
    if not payloads:
        raise ValueError("A load spec needs at least one request.")
    if spec.warmup > 0:
        # Warms connections, the server's caches and lazy imports; not measured.
        await _closed_loop(spec, payloads, _Recorder(), spec.warmup)
    record = _Recorder()
    cpu_start = _cpu_s()
    if spec.mode == "open":
        elapsed, connections = await _open_loop(spec, payloads, record)
    elif spec.mode == "closed":
        elapsed = await _closed_loop(spec, payloads, record, spec.duration)
        connections = spec.concurrency
    else:
        raise ValueError(f"Unknown mode {spec.mode!r} (open or closed).")
    cpu = _cpu_s() - cpu_start
    result = LoadResult(
        mode=spec.mode,
        sent=len(record.latencies) + record.errors,
        ok=len(record.latencies),
        errors=record.errors,
        error_samples=record.samples,
        elapsed_s=elapsed,
        rps=len(record.latencies) / elapsed if elapsed > 0 else 0.0,
        cpu_s=cpu,
        cpu_pct=100.0 * cpu / elapsed if elapsed > 0 else 0.0,
        connections=connections,
    )
    for key, value in _percentiles(record.latencies).items():
        setattr(result, key, value)
    return result


def run(spec: LoadSpec) -> LoadResult:
    return asyncio.run(run_async(spec))


def run_in_subprocess(spec: LoadSpec, *, timeout: float | None = None) -> LoadResult:
    """``run`` in a child process, so its CPU is its own and the GIL is not shared."""
    limit = timeout if timeout is not None else spec.warmup + spec.duration + 60
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", spec.to_json()],
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-2000:]}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(**raw)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    spec = LoadSpec.from_json(args[0])
    print(json.dumps(run(spec).to_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
