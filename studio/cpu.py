"""How the studio's processes share the machine's cores.

The embedded default runs the web server and two Celery workers on one machine,
often a small one. Two rules keep predictions and page saves fast while a worker
trains or applies an upload:

* **Native libraries use one thread per process** (``native_threads_limit``, called
  first thing when the ``studio`` package is imported, so before numpy, scikit-learn
  or the embedding engine load their thread pools). OpenMP (the ``advanced``
  embedding engine), OpenBLAS and MKL otherwise start a thread per core in every
  process, and a training then takes every core - and busy-waits on them between
  batches - while the web server's requests wait. Parallelism comes from processes
  (gunicorn workers, Celery concurrency), which the operator sizes. An explicitly
  set variable wins (``OMP_NUM_THREADS=4``), and ``STUDIO_NATIVE_THREADS`` sets
  them all.
* **Web threads get the interpreter back quickly** (``web_switch_interval``, set
  when ``studio.wsgi`` loads). A gunicorn process serves several requests in
  threads; while one of them is busy in Python for seconds (checking a 50,000-line
  upload), every other thread of the process waits up to the interpreter's switch
  interval (5 ms by default) for the GIL each time it comes back from I/O - a
  socket read, each database query - and a prediction or a save makes several of
  those: tens of milliseconds added to each. At ``WEB_SWITCH_INTERVAL_SECONDS``
  that wait is a tenth as long; the busy thread pays a few more switches.
* **Workers run at a lower CPU priority** (``worker_nice``: ``STUDIO_WORKER_NICE``,
  default 10), applied when a Celery worker starts, before it forks its pool, so
  its task processes inherit it. When the cores are contended the scheduler gives
  the web server's requests the CPU first; when they are not, the worker still gets
  all that is free, so training is not slower on an idle machine.
* **...but a worker writes at normal priority** (``at_normal_priority``). SQLite
  locks the whole database for one writer; a niced job that holds that lock while
  the cores are busy waits for the CPU while every other writer waits for it - a
  priority inversion that made a labeling save wait up to a second behind a 50 ms
  upload transaction. So each task process of a prefork worker starts one thread
  at normal priority (``normal_priority_start``) *before* it lowers its own (on
  Linux the niceness belongs to a thread, and an unprivileged process can never
  raise it back), and a job runs its short write transactions there: it computes
  niced, it holds the database at everyone's priority. The worker's main process
  lowers only its monitor thread (heartbeats and sweeps) and any pool it runs in
  itself (``--pool solo``). Elsewhere (the web server, tests, a platform where
  niceness is per process) the work just runs in the calling thread.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor

NATIVE_THREADS_ENV = "STUDIO_NATIVE_THREADS"
# Read by OpenMP (libgomp), OpenBLAS, MKL, numexpr and Apple's Accelerate.
NATIVE_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


# The interpreter's switch interval in web processes (Python's default: 0.005 s).
WEB_SWITCH_INTERVAL_SECONDS = 0.0005


def web_switch_interval() -> float:
    """Set the switch interval of a web process (see the module doc); returns it."""
    sys.setswitchinterval(WEB_SWITCH_INTERVAL_SECONDS)
    return sys.getswitchinterval()


def native_threads_limit(environ: MutableMapping[str, str] | None = None) -> str:
    """Set every native thread-pool variable not set yet to
    ``STUDIO_NATIVE_THREADS`` (default 1); returns that number."""
    env = os.environ if environ is None else environ
    threads = env.get(NATIVE_THREADS_ENV, "").strip() or "1"
    if not threads.isdigit() or int(threads) < 1:
        raise ValueError(
            f"{NATIVE_THREADS_ENV}={threads!r}: give a whole number of threads, 1 or "
            "more."
        )
    for name in NATIVE_THREAD_VARIABLES:
        env.setdefault(name, threads)
    return threads


def worker_nice(increment: int) -> int:
    """Lower this process's CPU priority by ``increment`` (0 leaves it); returns
    the resulting niceness. Lowering needs no privilege; raising is not tried."""
    if increment < 0:
        raise ValueError("STUDIO_WORKER_NICE cannot be negative.")
    return os.nice(increment)


_normal_priority: ThreadPoolExecutor | None = None
_normal_priority_thread: threading.Thread | None = None


def normal_priority_start() -> None:
    """Start this process's normal-priority thread (see the module doc); call it
    before the process lowers its priority. Idempotent."""
    global _normal_priority, _normal_priority_thread
    if _normal_priority is not None:
        return
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="normal-priority")
    # The thread exists (and has the current niceness) from here on.
    _normal_priority_thread = executor.submit(threading.current_thread).result()
    _normal_priority = executor
    # A process forked from this one (a training's child) has no such thread: a call
    # there would wait for it forever.
    os.register_at_fork(after_in_child=_normal_priority_forget)


def _normal_priority_forget() -> None:
    global _normal_priority, _normal_priority_thread
    _normal_priority = _normal_priority_thread = None


def at_normal_priority[**P, T](
    fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """``fn(*args, **kwargs)`` on the normal-priority thread when this process has
    one, else here; its result or its exception. A call from that thread itself or
    from inside a transaction runs here (the thread has a database connection of its
    own, which would wait for the caller's lock)."""
    from django.db import close_old_connections, connection

    executor = _normal_priority
    if (
        executor is None
        or threading.current_thread() is _normal_priority_thread
        or connection.in_atomic_block
    ):
        return fn(*args, **kwargs)

    def call() -> T:
        # Each call is a unit of work, like a task or a request: a connection of this
        # long-lived thread that the database dropped meanwhile (a restart, an admin
        # terminating backends) is health-checked and reopened, not used broken.
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        except BaseException:
            # The thread's own connection may be the broken part: the next call
            # opens a new one.
            connection.close()
            raise

    return executor.submit(call).result()
