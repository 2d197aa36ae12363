"""Sections in forked processes (audit/engine/forked.py): the value, progress and errors come
back; a child that dies or is abandoned is reported and killed; the audit's numbers are the
same as with threads, and each section really ran in a process of its own."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from audit.config import AuditConfig, EngineOptions, ModelOptions
from audit.engine import forked
from audit.errors import ConfigError
from audit.pipeline import run_audit
from audit.sections import registry
from audit.sections.registry import SectionSpec
from tests.conftest import ROOT, make_synthetic

pytestmark = pytest.mark.skipif(not forked.available(), reason="fork is Linux-only here")


def test_value_seconds_and_progress_come_back_in_order():
    seen = []

    def work(progress):
        for k in range(3):
            progress(k / 3, f"step {k}")
        return {"pid": os.getpid(), "rows": list(range(5))}

    out, secs = forked.run_forked(work, lambda f, m: seen.append((f, m)), "toy")
    assert out["rows"] == [0, 1, 2, 3, 4] and out["pid"] != os.getpid()
    assert seen == [(0.0, "step 0"), (1 / 3, "step 1"), (2 / 3, "step 2")]
    assert 0 <= secs < 60


def test_an_error_keeps_its_type_and_message_and_the_childs_traceback():
    def work(progress):
        raise ConfigError("fairness.bootstrap must be at least 10, got 3")

    with pytest.raises(ConfigError, match="bootstrap must be at least 10") as info:
        forked.run_forked(work, lambda f, m: None)
    cause = info.value.__cause__
    assert isinstance(cause, forked.ChildTraceback) and "in work" in str(cause)


def _refuse(*args):
    raise TypeError("cannot rebuild")


class _Unreadable(Exception):
    def __reduce__(self):  # pickles, but cannot be rebuilt
        return (_refuse, ())


class _Unpicklable(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()  # does not pickle


def test_an_exception_that_cannot_cross_still_says_what_happened():
    def unreadable(progress):
        raise _Unreadable("x")

    with pytest.raises(RuntimeError, match="could not be read back"):
        forked.run_forked(unreadable, lambda f, m: None)

    def unpicklable(progress):
        raise _Unpicklable("the model file is damaged")

    with pytest.raises(RuntimeError, match="_Unpicklable: the model file is damaged"):
        forked.run_forked(unpicklable, lambda f, m: None)


def test_a_child_that_dies_is_reported_with_its_exit_code():
    def work(progress):
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(forked.SectionProcessDied, match="exit code -9"):
        forked.run_forked(work, lambda f, m: None, "privacy")


def test_a_child_is_killed_when_the_caller_stops_waiting():
    pids = []

    class Stop(Exception):
        pass

    def work(progress):
        progress(0.0, str(os.getpid()))
        time.sleep(60)

    def on_progress(f, m):
        pids.append(int(m))
        raise Stop

    t = time.perf_counter()
    with pytest.raises(Stop):
        forked.run_forked(work, on_progress)
    assert time.perf_counter() - t < 30
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(pids[0], 0)


PID_A = SectionSpec("pid_a", "Pid A", "tests.plugins.toy_section", "audit_pid", "ToyOptions", "ToyReport", priority=0)
PID_B = SectionSpec("pid_b", "Pid B", "tests.plugins.toy_section", "audit_pid", "ToyOptions", "ToyReport", priority=0)
FAILS = SectionSpec("fails", "Fails", "tests.plugins.toy_section", "audit_fails", "ToyOptions", "ToyReport", priority=0)


@pytest.mark.parametrize("processes", [True, False])
def test_each_section_runs_in_a_process_of_its_own(processes):
    frame = make_synthetic(300, seed=5)
    with registry.use(registry.BUILTIN.with_section(PID_A).with_section(PID_B)):
        cfg = AuditConfig(target="label", sensitive=("sex",), sections=("pid_a", "pid_b"), models=ModelOptions(cv_folds=0),
                          engine=EngineOptions(section_processes=processes))
        said = []
        rep = run_audit(cfg, frame, workers=2, progress=lambda s, f, m: said.append((s, m)))
    pids = {rep.sections["pid_a"].n, rep.sections["pid_b"].n}
    if processes:
        assert len(pids) == 2 and os.getpid() not in pids
    else:
        assert pids == {os.getpid()}
    # The progress a section reports from its process reaches the caller.
    assert ("pid_a", f"in process {rep.sections['pid_a'].n}") in said


def test_a_section_error_in_its_process_fails_the_audit_with_its_message():
    frame = make_synthetic(300, seed=5)
    with registry.use(registry.BUILTIN.with_section(FAILS)):
        cfg = AuditConfig(target="label", sensitive=("sex",), sections=("fails", "performance"), models=ModelOptions(cv_folds=0))
        with pytest.raises(ConfigError, match="refused by the section itself"):
            run_audit(cfg, frame, workers=2)


_TIMES = ("seconds", "relative_train_time", "dp_overhead", "started_at", "timings", "config")


def _numbers(value):
    """The report without what measures time (and the config, which names the mode)."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items() if not any(k.endswith(t) for t in _TIMES)}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def test_the_report_is_the_same_in_processes_and_in_threads():
    """Every field of every section (timings aside) equal: the same seeds, the same rows."""
    frame = make_synthetic(600, seed=11)
    reports = []
    for processes in (True, False):
        cfg = AuditConfig(target="label", sensitive=("sex",), models=ModelOptions(cv_folds=0),
                          engine=EngineOptions(section_processes=processes),
                          section_options={"performance": {"bootstrap": 50}, "fairness": {"bootstrap": 50},
                                           "privacy": {"target_epsilons": [1.0], "epochs": 2, "bootstrap": 50},
                                           "robustness": {"attack_rows": 20, "max_rows": 200}})
        reports.append(run_audit(cfg, frame, workers=2))
    a, b = (_numbers(r.to_dict()) for r in reports)
    for key in a:
        assert a[key] == b[key], key


def test_a_table_above_the_process_cap_runs_its_sections_in_threads(monkeypatch):
    """Processes would each hold their section's working copies: a large table stays in threads."""
    from audit.engine import local

    monkeypatch.setattr(local, "FORK_MAX_ROWS", 299)
    frame = make_synthetic(300, seed=5)
    with registry.use(registry.BUILTIN.with_section(PID_A).with_section(PID_B)):
        cfg = AuditConfig(target="label", sensitive=("sex",), sections=("pid_a", "pid_b"), models=ModelOptions(cv_folds=0))
        rep = run_audit(cfg, frame, workers=2)
    assert {rep.sections["pid_a"].n, rep.sections["pid_b"].n} == {os.getpid()}


@pytest.mark.parametrize("section, absent, present", [
    ("robustness", ("torch", "numba"), ("art.attacks.evasion.hop_skip_jump",)),
    ("privacy", ("torch", "numba"), ("art.attacks.inference.membership_inference",)),
    ("explanations", ("torch",), ("shap", "numba")),
])
def test_a_section_process_imports_what_it_needs_and_hides_what_art_would_drag_in(section, absent, present):
    """In its own process a section imports its preloads; ART's optional torch and numba stay out
    of an ART-only section (shap, which needs numba, gets it), and no hiding entry is left behind."""
    import subprocess
    import sys

    code = ("import sys; import audit.pipeline; from audit.engine.local import _preload_alone; "
            f"_preload_alone({section!r}); "
            "print(sorted(k for k, v in sys.modules.items() if v is None and k in ('torch', 'numba'))); "
            f"print([m in sys.modules for m in {absent + present!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == str([False] * len(absent) + [True] * len(present))
