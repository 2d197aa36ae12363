"""run_audit: determinism, progress, options validated up front, gates."""

from __future__ import annotations

import threading

import pytest

from audit.config import AuditConfig, GateOptions, ModelOptions, config_from_mapping
from audit.errors import ConfigError
from audit.pipeline import gate_failed, run_audit

from conftest import make_synthetic

_TIMING_KEYS = ("seconds", "duration", "started_at", "time")


def _strip_timings(obj):
    if isinstance(obj, dict):
        return {k: _strip_timings(v) for k, v in obj.items() if not any(t in k for t in _TIMING_KEYS)}
    if isinstance(obj, list):
        return [_strip_timings(v) for v in obj]
    return obj


def _config(**kw):
    base = dict(target="label", sensitive=("sex",), sections=("performance",), models=ModelOptions(cv_folds=2), section_options={"performance": {"bootstrap": 50}})
    base.update(kw)
    return AuditConfig(**base)


def test_same_seed_same_report_timings_aside():
    frame = make_synthetic(n=600, seed=5)
    a = run_audit(_config(seed=7), frame).to_dict()
    b = run_audit(_config(seed=7), frame).to_dict()
    c = run_audit(_config(seed=8), frame).to_dict()
    assert _strip_timings(a) == _strip_timings(b)
    assert _strip_timings(a)["performance"] != _strip_timings(c)["performance"]


def test_progress_is_reported_from_the_callers_thread():
    calls = []
    caller = threading.get_ident()

    def progress(section, fraction, message):
        calls.append((section, fraction, message, threading.get_ident()))

    run_audit(_config(), make_synthetic(n=400), progress=progress)
    assert {c[0] for c in calls} >= {"data", "models", "performance"}
    assert all(c[3] == caller for c in calls)
    assert any(c[0] == "performance" and c[1] == 1.0 for c in calls)
    assert all(0.0 <= c[1] <= 1.0 for c in calls)


def test_bad_section_option_fails_before_any_work():
    calls = []
    with pytest.raises(ConfigError, match=r"unknown option 'bootstrapp' in \[performance\]"):
        run_audit(_config(section_options={"performance": {"bootstrapp": 3}}), make_synthetic(n=400), progress=lambda *a: calls.append(a))
    assert calls == []


def test_config_from_mapping_errors():
    with pytest.raises(ConfigError, match="names no target"):
        config_from_mapping({"sensitive": ["sex"]})
    with pytest.raises(ConfigError, match=r"unknown table \[fairnes\]"):
        config_from_mapping({"target": "y", "fairnes": {}})
    with pytest.raises(ConfigError, match=r"option 'max_file_mb' in \[data\] must be a number, got 'big'"):
        config_from_mapping({"target": "y", "data": {"max_file_mb": "big"}})
    with pytest.raises(ConfigError, match="unknown section 'fairness2'"):
        config_from_mapping({"target": "y", "sections": ["fairness2"]})
    cfg = config_from_mapping({"target": "y", "sensitive": "a, b", "data": {"exclude": ["z"]}})
    assert cfg.sensitive == ("a", "b") and cfg.data.exclude == ("z",)


def test_gate():
    rep = run_audit(_config(models=ModelOptions(models=("dummy",), cv_folds=0)), make_synthetic(n=400))
    assert rep.scorecard["performance"].status == "fail"
    assert gate_failed(rep, _config()) == []
    assert gate_failed(rep, _config(gate=GateOptions(fail_on="fail"))) == ["performance"]
    assert gate_failed(rep, _config(gate=GateOptions(fail_on="fail", areas=("data",)))) == []


@pytest.mark.slow
def test_the_largest_allowed_seed_runs_every_section():
    """The config accepts seeds up to 2**32 - 1; seed + 1 handed to scikit-learn's random_state
    (the validation split, the drift folds, the explanations' samples) raised mid-audit there."""
    from audit.stats import derived_seed

    assert derived_seed(2**32 - 1, 1) == 0 and derived_seed(7, 2) == 9
    sections = ("performance", "fairness", "explanations", "robustness", "drift", "privacy", "population")
    report = run_audit(_config(seed=2**32 - 1, sections=sections), make_synthetic(n=600, seed=5))
    assert report.manifest.seed == 2**32 - 1
    assert all(t.status == "done" for t in report.manifest.timings), report.manifest.timings
