"""Sampled sections as tasks on the Dask cluster (issue 16).

On ``--engine dask`` / ``tcp://…`` the sections that work on the stratified sample (fairness
and its mitigations, SHAP, the attacks, DP training, drift's domain classifier) run as one
task each on the cluster's workers, so independent sections use different workers and none
holds the audit process's GIL. The audited models and the sample travel once (scattered, then
copied to every worker, so a section whose worker dies is rerun elsewhere); a section's report
comes back as its value.

What stays in the audit process: sections that drive the cluster themselves (``on_cluster``:
the every-row statistics; drift over every row), and models a worker could not score the same
way (a predictions column, whose rows are matched by the identity of the audit's frames).

Progress crosses as Dask structured events (``Worker.log_event`` on the worker,
``Client.subscribe_topic`` here: distributed's supported channel since its Pub/Sub was
removed), one topic per audit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from audit.sections.registry import SectionNotRun, SectionSpec

TOPIC = "rai-audit-progress"


def model_travels(trained) -> bool:
    """Whether the audited model scores the same on a worker (a predictions column does not:
    it scores the audit's own frames only, matched by their identity)."""
    user = getattr(trained, "user", None)
    return user is None or bool(getattr(user, "callable", True))


def holds_cluster(extra: Mapping[str, Any]) -> bool:
    """Whether a section's inputs hand it the cluster itself: it then drives the cluster from here."""
    from audit.engine.sample import ClusterRows

    for value in extra.values():
        items = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, ClusterRows) for v in items):
            return True
    return False


def _run_on_worker(spec: SectionSpec, trained, options, seed: int, extra: dict, topic: str) -> tuple[Any, float, str]:
    """The task: one section on a worker; its progress goes out as events of ``topic``."""
    from distributed import get_worker

    from audit.threads import one_thread

    worker = get_worker()

    def progress(fraction: float, message: str) -> None:
        worker.log_event(topic, (spec.name, float(fraction), str(message)))

    t = time.perf_counter()
    try:
        # A worker runs several tasks in threads; like a local section, one OpenMP thread each.
        with one_thread("openmp"):
            rep = spec.entry()(trained, options=options, seed=seed, progress=progress, **extra)
    except SectionNotRun as why:
        rep = why
    return rep, time.perf_counter() - t, worker.address


class RemoteSections:
    """Submits sections to ``client``; the caller's thread pool waits on :meth:`run`."""

    def __init__(self, client, trained, on_progress: Callable[[str, float, str], None]) -> None:
        self.client = client
        self.topic = f"{TOPIC}-{uuid.uuid4().hex}"
        self._futures: list[Any] = []
        client.subscribe_topic(self.topic, lambda event: on_progress(*event[1]))
        # Once, not once per section, and to every worker: a worker that dies mid-section takes
        # its copy with it, and the scheduler's rerun of the section on another worker needs one.
        self._trained = client.scatter(trained, hash=False, broadcast=True)

    def run(self, spec: SectionSpec, options, seed: int, extra: dict) -> tuple[Any, float, str]:
        from audit.engine.cluster import worker_deaths

        import pandas as pd

        # Frames (drift's current and reference samples) travel as data, not inside the task's graph.
        extra = {k: self.client.scatter(v, hash=False, broadcast=True) if isinstance(v, pd.DataFrame) else v for k, v in extra.items()}
        self._futures += [v for v in extra.values() if hasattr(v, "key") and hasattr(v, "done")]
        fut = self.client.submit(_run_on_worker, spec, self._trained, options, seed, extra, self.topic,
                                 key=f"audit-section-{spec.name}-{uuid.uuid4().hex}", pure=False)
        self._futures.append(fut)
        with worker_deaths(f"running the {spec.title.lower()} section"):
            return fut.result()

    def close(self) -> None:
        """Cancel what still runs (an audit that failed or was cancelled) and stop listening."""
        try:
            self.client.cancel([f for f in self._futures if not f.done()] + [self._trained])
        finally:
            self.client.unsubscribe_topic(self.topic)


__all__ = ["RemoteSections", "TOPIC", "holds_cluster", "model_travels"]
