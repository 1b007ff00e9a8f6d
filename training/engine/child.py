"""Run one long fit in a child process, beside whatever the caller does meanwhile.

Why a process and not a thread: python-crfsuite holds the GIL for its whole native
training loop (its ``train`` has no ``nogil`` section), so in a thread it neither runs
in parallel with the intent fit nor lets the worker's heartbeat thread in except
between two log lines. In a child it runs on the other core, the parent's threads
(heartbeat, progress, cancel checks) stay free, and a cancel ends it at once by
terminating the child instead of waiting for the next iteration.

The child is a fresh interpreter (``python -m training.engine.child``), not a
``multiprocessing`` process: Celery's pool processes are daemonic, and daemonic
processes may not have ``multiprocessing`` children; a fork of the worker would also
inherit its threads and database connections. The fit and its arguments go to the
child's stdin as one pickle; progress and the result come back on a pipe as
length-prefixed pickles. The child exits when its stdin closes, so it never outlives
a worker that was killed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

# Seconds between two progress messages from the child (it may report far more
# often: every CRF log line).
_REPORT_EVERY = 0.2
# Seconds a terminated child gets to exit before it is killed.
_STOP_GRACE = 3.0
_HEADER = struct.Struct("!Q")


class ChildProcessDied(RuntimeError):
    """The child ended without a result (killed by the OS, out of memory...)."""


def _write(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # noqa: S301 - our own child, over a private pipe


def _child_main() -> None:
    """Entry point of the child: run the fit read from stdin, answer on fd 1."""
    out = os.fdopen(os.dup(1), "wb")
    # Whatever the fit prints goes to stderr, never into the message pipe.
    os.dup2(2, 1)
    fn, args, kwargs = _read(sys.stdin.buffer)

    def orphaned() -> None:
        # The parent closes stdin when it stops or dies: stop with it.
        sys.stdin.buffer.read()
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    last = [float("-inf")]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY:
            last[0] = now
            _write(out, ("progress", float(fraction)))

    try:
        result = fn(*args, progress=progress, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every error goes back to the parent
        try:
            _write(out, ("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            _write(out, ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    else:
        _write(out, ("done", result))
    out.close()
    sys.stderr.flush()
    # Not a normal shutdown: the thread blocked on stdin would abort it.
    os._exit(0)


class ChildFit:
    """``fn(*args, progress=callback, **kwargs)`` run in a child process.

    ``start`` launches it; ``poll`` takes the messages waiting (progress, the
    result, an error, which it raises) without blocking; ``wait`` blocks until the
    result, calling ``on_progress`` at least every ``interval`` seconds so that the
    caller can notice a cancel (whatever ``on_progress`` raises stops the child).
    ``stop`` (also on leaving a ``with`` block) terminates a child still running.
    ``fn`` must be importable by name; it, its arguments and its result must
    pickle.
    """

    def __init__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self._payload = pickle.dumps((fn, args, kwargs))
        self._process: subprocess.Popen[bytes] | None = None
        self._messages: queue.Queue[Any] = queue.Queue()
        self.fraction = 0.0
        self.done = False
        self._result: Any = None

    def __enter__(self) -> ChildFit:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "training.engine.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": _import_path()},
        )
        stdin = self._process.stdin
        assert stdin is not None  # noqa: S101 - PIPE was asked for
        stdin.write(_HEADER.pack(len(self._payload)) + self._payload)
        stdin.flush()
        threading.Thread(
            target=self._reader, name="child-fit-reader", daemon=True
        ).start()

    def _reader(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        try:
            while True:
                self._messages.put(_read(process.stdout))
        except (EOFError, OSError, ValueError):
            self._messages.put(None)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def poll(self, timeout: float = 0.0) -> bool:
        """Take what the child sent (waiting up to ``timeout`` for the first
        message); True once its result is in. Raises the child's error."""
        if self.done:
            return True
        if self._process is None:
            raise RuntimeError("ChildFit.poll before start.")
        wait: float | None = timeout
        while True:
            try:
                message = (
                    self._messages.get(timeout=wait)
                    if wait
                    else self._messages.get_nowait()
                )
            except queue.Empty:
                return False
            wait = 0.0
            if message is None:
                code = self._process.wait()
                self._reap()
                raise ChildProcessDied(
                    f"The training process ended without a result (exit code {code})."
                )
            kind, payload = message
            if kind == "progress":
                self.fraction = max(self.fraction, payload)
            elif kind == "done":
                self._result = payload
                self.fraction = 1.0
                self.done = True
                self._reap()
                return True
            else:
                self._reap()
                raise payload

    def wait(
        self,
        on_progress: Callable[[float], None] | None = None,
        *,
        interval: float = 0.25,
    ) -> Any:
        """Block until the result (see the class doc) and return it."""
        while not self.poll(interval):
            if on_progress is not None:
                on_progress(self.fraction)
        if on_progress is not None:
            on_progress(1.0)
        return self._result

    def stop(self) -> None:
        """Terminate the child if it still runs, and release its resources."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
        self._reap()

    def _reap(self) -> None:
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _import_path() -> str:
    """The parent's import path, so the child imports the same code."""
    return os.pathsep.join(path for path in sys.path if path)


if __name__ == "__main__":
    _child_main()
