"""A toy section for the registry test: the positive rate of the test labels.

It is registered only in a temporary registry (tests/test_registry.py) and reads
the performance section's result, so the test sees ordering and inputs work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from audit.errors import ConfigError
from audit.serial import ReportMixin
from audit.verdict import Verdict, decide


@dataclass(frozen=True)
class ToyOptions(ReportMixin):
    """Options of the toy section.

    min_rate : warn when the test split's positive rate is below this.
    """

    min_rate: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_rate <= 1.0:
            raise ConfigError(f"option min_rate in [toy] must be between 0 and 1, got {self.min_rate!r}")


@dataclass(frozen=True)
class ToyReport(ReportMixin):
    positive_rate: float
    n: int
    performance_seen: bool
    verdict: Verdict


def audit_toy(trained, *, options: ToyOptions, seed: int, progress=None, performance=None) -> ToyReport:
    rate = float(np.mean(trained.y_test))
    passes, warns = [], []
    (warns if rate < options.min_rate else passes).append(f"positive rate {rate:.3f} (threshold {options.min_rate})")
    return ToyReport(rate, int(len(trained.y_test)), performance is not None, decide([], warns, passes))


# Two toy sections for the scheduling test (tests/test_pipeline_cluster_slots.py): the first
# stands for a section whose work runs on a cluster and waits until the second, a local
# section, has run. With one local slot they finish only if the first does not take it.
SIGNAL = threading.Event()


def audit_waiter(trained, *, options: ToyOptions, seed: int, progress=None) -> ToyReport:
    seen = SIGNAL.wait(timeout=5)
    return ToyReport(1.0, 0, seen, decide([], [], ["waited"]))


def audit_signaller(trained, *, options: ToyOptions, seed: int, progress=None) -> ToyReport:
    SIGNAL.set()
    return ToyReport(1.0, 0, True, decide([], [], ["signalled"]))


def audit_pid(trained, *, options: ToyOptions, seed: int, progress=None) -> ToyReport:
    """Reports the process it ran in (tests/test_forked.py: each section in a process of its own)."""
    import os

    if progress is not None:
        progress(0.5, f"in process {os.getpid()}")
    return ToyReport(0.0, os.getpid(), False, decide([], [], ["ran"]))


def audit_fails(trained, *, options: ToyOptions, seed: int, progress=None) -> ToyReport:
    raise ConfigError("option min_rate in [toy] was refused by the section itself")
