"""Sections on this machine, two at a time as their dependencies finish, longest first.

On Linux each section runs in a forked process of its own (:mod:`audit.engine.forked`): two
threads of one process would share its GIL. Elsewhere, with ``[engine] section_processes =
false`` and on a cluster they run in threads; on a cluster the sampled sections go to its
workers as tasks (:mod:`audit.engine.sections`).
"""

from __future__ import annotations

import contextlib
import importlib
import queue
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import pandas as pd

from audit.config import AuditConfig
from audit.engine import forked
from audit.models.baselines import TrainedModels
from audit.sections import registry
from audit.sections.registry import SectionInputs, SectionNotRun
from audit.threads import one_thread

Progress = Any  # Callable[[str, float, str], None], as audit.pipeline.Progress
FORK_MAX_ROWS = 1_000_000  # larger tables run their sections in threads (memory; see run_sections)


def preload(names: list[str]) -> None:
    for name in names:
        for mod in registry.active()[name].preload:
            try:
                importlib.import_module(mod)
            except ImportError:
                pass  # the section reports its own missing dependency


def _preload_alone(name: str) -> None:
    """In a section's own forked process: import what it needs, torch only where it asks for it.

    ART's package imports torch whenever it is installed (``art.estimators.certification``
    checks ``find_spec("torch")``), 1-3 s, though the robustness attacks are numpy-only.
    ``sys.modules["torch"] = None`` makes that check fail for the import alone. Only here: the
    process runs one section, and nothing else is running while it imports (in a shared
    process another thread's scipy call could meet the ``None``). numba likewise, for a section
    that imports only ART (and torch): ART's evasion package imports its one numba attack
    (Brendel-Bethge) when ``find_spec("numba")`` finds it, 0.1 s, and shap, which needs numba,
    runs in the explanations section's process, not here."""
    wanted = registry.active()[name].preload
    only_art = bool(wanted) and all(m.split(".")[0] in ("art", "torch") for m in wanted)
    hide = [m for m in ("torch", "numba") if m not in sys.modules and m not in wanted and (m == "torch" or only_art)]
    for m in hide:
        sys.modules[m] = None  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():  # ART says so on stderr: "PyTorch not found. Not importing DeepZ..."
            warnings.filterwarnings("ignore", message="PyTorch not found", category=UserWarning)
            preload([name])
    finally:
        for m in hide:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]


def _score_test_split(trained: TrainedModels) -> None:
    """The audited model's scores of the test split, which most sections read, computed once
    before the sections fork: threads shared the scores' cache (``TrainedModels._cached``),
    but what a forked section computes stays in its process."""
    try:
        (trained.proba if trained.task == "multiclass" else trained.score)(trained.X_test)
    except Exception:  # noqa: BLE001 - the sections that need the scores report the failure themselves
        pass


def run_sections(trained: TrainedModels, names: list[str], config: AuditConfig, options: dict[str, Any],
                  say: Progress, workers: int, *, current: pd.DataFrame | None, reference: pd.DataFrame | None,
                  rows: Any = None, current_source: str | None = None) -> dict[str, tuple[Any, float, str]]:
    """Run the sections ``names``, longest first, at most ``workers`` at a time: each in a forked
    process (Linux, ``[engine] section_processes``), else in threads of this process (on a
    cluster, the sampled ones as tasks on its workers: :mod:`audit.engine.sections`).

    Returns section name -> (report, seconds, where it ran), in completion order; the report is
    the :class:`SectionNotRun` a section raised when it could not run (its message says why).
    """
    reg = registry.active()
    results: dict[str, tuple[Any, float, str]] = {}
    events: queue.Queue = queue.Queue()
    on_workers = None
    # A plug-in registry (registry.use) is this process's alone: a worker would load the built-in one.
    if rows is not None and config.engine.sections_on_cluster and reg is registry.BUILTIN:
        from audit.engine.sections import RemoteSections, model_travels

        if model_travels(trained):
            on_workers = RemoteSections(rows.client, trained, lambda n, f, m: events.put((n, f, m)))

    # Two sections at once in one process share its GIL (bench/README, "Speed"): in forked
    # processes each has a core of its own. Not on a cluster: a forked Dask client is unusable.
    # Above FORK_MAX_ROWS each process's working copies would add up. The 1M-row audit's process
    # tree peaked at 5.2 GB in processes when first measured; with its sections' copies since cut
    # (blocks, the k-means sample) it peaks at 3.6 GB either way, and runs 5-6 s faster in
    # processes (bench/README, "Speed").
    n_rows = getattr(getattr(trained, "dataset", None), "n_rows", 0)
    forking = (workers > 1 and rows is None and config.engine.section_processes and forked.available()
               and n_rows <= FORK_MAX_ROWS)
    if not forking:
        preload(names)  # here once; a forked section imports its own libraries in its process
    elif trained is not None:
        _score_test_split(trained)

    def travels(name: str) -> bool:
        return on_workers is not None and not reg[name].on_cluster

    def run_one(name: str) -> tuple[Any, float, str]:
        spec = reg[name]
        done = {n: r for n, (r, _, _) in results.items() if not isinstance(r, SectionNotRun)}
        extra = spec.inputs(SectionInputs(done, current, reference, rows, current_source, options))
        if travels(name):
            from audit.engine.sections import holds_cluster

            if not holds_cluster(extra):
                rep, secs, worker = on_workers.run(spec, options[name], config.seed, extra)
                return rep, secs, f"on the cluster's worker {worker}"

        def alone(progress) -> Any:
            _preload_alone(name)
            return work(progress, None)

        def work(progress, limit: str | None = "openmp") -> Any:
            # OpenMP's thread count is per calling thread, so it is limited here in the worker too
            # (in a child process, BLAS's too: the other section runs in another process).
            with one_thread(limit) if workers > 1 else contextlib.nullcontext():
                try:
                    return spec.entry()(trained, options=options[name], seed=config.seed, progress=progress, **extra)
                except SectionNotRun as why:
                    return why

        def say_here(f: float, m: str, _n=name) -> None:
            events.put((_n, f, m))

        if forking:
            rep, secs = forked.run_forked(alone, say_here, name)
            return rep, secs, ""
        t = time.perf_counter()
        rep = work(say_here)
        return rep, time.perf_counter() - t, ""

    try:
        _schedule(reg, names, results, run_one, say, events, workers,
                  remote={n for n in names if reg[n].on_cluster or travels(n)} if rows is not None else set(),
                  n_rows=n_rows)
    finally:
        if on_workers is not None:
            on_workers.close()
    return results


def _schedule(reg, names: list[str], results: dict, run_one, say: Progress, events: queue.Queue, workers: int,
              remote: set[str], n_rows: int = 0) -> None:
    """Run ``names`` in threads as their dependencies finish, longest first at ``n_rows`` rows
    (``SectionSpec.estimate``, then ``priority``); results fill ``results``."""
    pending = list(names)

    def drain() -> None:
        while not events.empty():
            say(*events.get_nowait())

    running: dict[Future, str] = {}
    # With two sections in flight, each library's own thread pool (OpenMP in
    # HistGradientBoosting, BLAS) would start a second team per core; OpenMP's
    # spinning barriers then stall for seconds. One thread per section keeps
    # both cores busy without oversubscription.
    limits = one_thread(None) if workers > 1 else contextlib.nullcontext()
    # On a cluster, a section whose work runs on its workers (the every-row statistics, and the
    # sampled sections sent there as tasks) is waited on beside the local slots: in a slot it
    # would hold one for its whole run (258 of the 404 s of a 10M-row audit) while others queued.
    with limits, ThreadPoolExecutor(max_workers=max(1, workers) + len(remote), thread_name_prefix="audit") as pool:
        while pending or running:
            # Longest first, and never more local sections in flight than workers, so the
            # two slots end close together.
            for name in sorted(pending, key=lambda n: (n not in remote, -reg[n].estimate(n_rows), reg[n].priority)):
                if name not in remote and sum(n not in remote for n in running.values()) >= max(1, workers):
                    break
                if all(d in results for d in reg[name].after if d in names):
                    pending.remove(name)
                    say(name, 0.0, "started")
                    running[pool.submit(run_one, name)] = name
            done, _ = wait(list(running), timeout=0.1, return_when=FIRST_COMPLETED)
            drain()
            for fut in done:
                name = running.pop(fut)
                try:
                    results[name] = fut.result()
                except BaseException:
                    for other in running:
                        other.cancel()
                    raise
                rep, secs, _ = results[name]
                say(name, 1.0, f"not run: {rep}" if isinstance(rep, SectionNotRun) else f"done in {secs:.1f} s")
        drain()


__all__ = ["run_sections", "preload"]
