"""Library thread pools: the one place that limits them, and why.

The pipeline runs two sections side by side on the two cores. Inside a section,
scikit-learn's HistGradientBoosting and k-means (OpenMP) and OpenBLAS would each
start a team of one thread per core; with the other core busy, their
spin-waiting barriers stall (measured: a fairness refit 5.6 s with one thread,
24-80 s with two; one attack query 830 ms instead of 4 ms; permutation importance
~30x slower; ExponentiatedGradient 1.8x the CPU time). One thread per section
keeps both cores busy without oversubscription.

OpenMP limits are per calling thread, so a section's limit leaves the section
running beside it alone. The BLAS limit is process-wide: keep its scope narrow.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController

# threadpoolctl's calls are not thread-safe (they enumerate and reconfigure the loaded
# libraries): worker threads that set their own limit take turns.
_LIMIT_LOCK = threading.Lock()


_CONTROLLER: tuple[int, ThreadpoolController] | None = None


def _controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded libraries, found again only when modules were imported since.

    ``threadpool_limits`` scans every loaded shared library on each call: 4.6 ms alone, and up
    to 0.4 s beside a section running Python (each of its many file reads releases the GIL and
    waits for it back), for the dozens of limits an audit sets. A library only arrives with an
    import, so the count of imported modules tells when to scan again.
    """
    global _CONTROLLER
    n = len(sys.modules)
    cached = _CONTROLLER
    if cached is None or cached[0] != n:
        cached = _CONTROLLER = (n, ThreadpoolController())
    return cached[1]


def one_thread(api: str | None = "openmp") -> AbstractContextManager:
    """Inside the ``with`` block, the library pools of ``api`` ("openmp", "blas"; None = every pool) use one thread."""
    return _controller().limit(limits=1, user_api=api)


def share_openmp(workers: int) -> None:
    """In a pool's worker thread (its ``initializer``): OpenMP gets this thread's share of the cores,
    ``cpu_count // workers`` threads (one each on a 2-core machine with two workers). OpenMP
    limits are per calling thread, so this is set once per worker and never undone."""
    with _LIMIT_LOCK:
        _controller().limit(limits=max(1, (os.cpu_count() or 1) // max(1, workers)), user_api="openmp")


__all__ = ["one_thread", "share_openmp"]
