"""Where the work runs: this process (``local``), a Dask ``LocalCluster`` started for the run
(``dask``), or an existing cluster (``tcp://HOST:8786``).

The choice comes from ``--engine``, ``[engine] address`` in the config or the
``AUDIT_DASK_SCHEDULER`` environment variable. Connecting checks that every worker can
import the project's packages at the versions this process has, so a worker that lacks
them is one clear error up front instead of a failure deep inside a task.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
from collections.abc import Iterator
from dataclasses import dataclass

from audit.errors import AuditError, ConfigError

ENV_SCHEDULER = "AUDIT_DASK_SCHEDULER"
# What a worker must have for the tasks it is sent (scoring, per-partition statistics).
# What a worker needs: this project's code and the packages of the sections that run there.
WORKER_PACKAGES = ("audit", "numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "dask", "distributed", "cloudpickle",
                   "fairlearn", "shap", "torch", "opacus", "adversarial-robustness-toolbox", "onnxruntime", "skops")
MAX_LOCAL_WORKERS = 64


@dataclass(frozen=True)
class EngineSpec:
    """``kind`` is ``local``, ``dask`` (a LocalCluster of ``workers`` processes) or ``remote`` (``address``)."""

    kind: str = "local"
    address: str = ""
    workers: int = 2

    @property
    def label(self) -> str:
        """How the report's manifest names the engine."""
        if self.kind == "dask":
            return f"dask LocalCluster ({self.workers} worker processes)"
        return f"dask cluster at {self.address}" if self.kind == "remote" else "local (one process)"


def parse_engine(value: str | None, *, workers: int = 2, environ: dict | None = None) -> EngineSpec:
    """``local`` | ``dask`` | ``tcp://HOST:PORT``; empty means the environment's scheduler, else local."""
    env = os.environ if environ is None else environ
    text = (value or env.get(ENV_SCHEDULER, "") or "local").strip()
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise ConfigError(f"engine workers must be a whole number from 1 to {MAX_LOCAL_WORKERS}; got {workers!r}")
    if text == "local":
        return EngineSpec("local", workers=workers)
    if text == "dask":
        return EngineSpec("dask", workers=workers)
    if text.startswith(("tcp://", "tls://")) and len(text.split("://", 1)[1]) > 0:
        return EngineSpec("remote", address=text, workers=workers)
    raise ConfigError(f"engine must be local, dask or a scheduler address such as tcp://HOST:8786; got {text!r}")


def _probe():
    """The function each worker runs to report its versions.

    Made here as a nested function so that cloudpickle ships its code by value: a worker that
    lacks this project (``audit``) can still run it and say so, where a function pickled by
    reference to ``audit.engine.cluster`` would fail to load there with a traceback."""

    def versions(packages: tuple[str, ...]) -> dict[str, str]:
        import importlib
        import importlib.metadata

        out = {}
        for name in packages:  # a package it cannot find is reported, not raised
            try:
                if name == "audit":  # the project's own code: importable on the worker, and which version
                    out[name] = str(getattr(importlib.import_module("audit"), "__version__", "unknown"))
                else:
                    out[name] = importlib.metadata.version(name)
            except (ImportError, importlib.metadata.PackageNotFoundError):
                out[name] = "missing"
            except Exception as exc:  # noqa: BLE001 - e.g. another checkout's audit that fails to import
                out[name] = f"broken ({type(exc).__name__})"
        return out

    return versions


def _worker_versions(packages: tuple[str, ...]) -> dict[str, str]:
    return _probe()(packages)


def check_workers(client, packages: tuple[str, ...] = WORKER_PACKAGES, *, expected: dict[str, str] | None = None) -> None:
    """Raise ConfigError naming the first worker whose packages differ from ``expected``
    (default: the versions this process has)."""
    ours = expected or _worker_versions(packages)
    ours = {p: v for p, v in ours.items() if v != "missing"}  # what this process lacks, no worker needs
    packages = tuple(ours)
    theirs = client.run(_probe(), packages)
    if not theirs:
        raise ConfigError("the Dask cluster has no workers")
    for worker, versions in sorted(theirs.items()):
        bad = [f"{p} {versions[p]} (here {ours[p]})" for p in packages if versions.get(p) != ours[p]]
        if bad:
            raise ConfigError(f"Dask worker {worker} lacks the project's packages: {', '.join(bad)}")


@contextlib.contextmanager
def connect(spec: EngineSpec, *, timeout: float = 10.0) -> Iterator[object | None]:
    """A ``distributed.Client`` for ``spec`` (``None`` for the local engine), closed on exit."""
    if spec.kind == "local":
        yield None
        return
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if spec.kind == "dask":
            # Processes, one thread each: the statistics are numpy-bound and hold the GIL
            # in places; loopback only, no dashboard (nothing listens beyond this machine). Logs at
            # CRITICAL only: a failed task's reason reaches the user as the audit's one-line error,
            # not as the workers' tracebacks on the terminal.
            cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None, silence_logs=50)
            client = Client(cluster, timeout=timeout)
        else:
            client = Client(spec.address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        where = spec.address or "a local cluster"
        raise ConfigError(f"cannot reach the Dask scheduler at {where}: {exc}") from exc
    try:
        check_workers(client)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def worker_deaths(what: str) -> Iterator[None]:
    """Turn a task whose workers kept dying into one line naming ``what`` was being computed.

    The scheduler reruns a task whose worker died on another worker, up to
    ``distributed.scheduler.allowed-failures`` times (3 by default); past that, the
    computation stops with ``KilledWorker`` and so does the audit, before any report is made.
    """
    from distributed import KilledWorker

    try:
        yield
    except KilledWorker as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AuditError(f"a Dask worker died while {what} and the task was not retried further; the audit "
                         f"stopped without a report ({detail[:300]})") from exc


__all__ = ["ENV_SCHEDULER", "EngineSpec", "check_workers", "connect", "parse_engine", "worker_deaths"]
