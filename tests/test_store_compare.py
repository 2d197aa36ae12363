"""compare_reports: the section-by-section diff the History page shows for two runs."""

from __future__ import annotations

import json

import pytest

from audit.errors import StoreError
from audit.store.core import compare_reports


def _metric(value, low, high):
    return {"value": value, "ci_low": low, "ci_high": high}


def test_compare_reports_finds_metric_deltas_drift_changes_and_one_sided_keys():
    a = {
        "manifest": {"seed": 0},
        "performance": {"metrics": {"accuracy": _metric(0.80, 0.75, 0.85), "auc": _metric(0.9, 0.88, 0.92)}},
        "fairness": {"disparities": {"sex": {"demographic_parity_difference": 0.10}}, "verdict": "warn"},
        "drift": {"features": [{"name": "age", "drifted": True, "p_value": 0.01},
                               {"name": "hours", "drifted": False, "p_value": 0.5}]},
        "privacy": None,
        "robustness": {"noise": [0.9, 0.8]},
    }
    b = {
        "manifest": {"seed": 0},
        "performance": {"metrics": {"accuracy": _metric(0.85, 0.75, 0.90), "auc": _metric(0.9, 0.88, 0.92),
                                    "f1": _metric(0.7, 0.6, 0.8)}},
        "fairness": {"disparities": {"sex": {"demographic_parity_difference": 0.04}}, "verdict": "pass"},
        "drift": {"features": [{"name": "hours", "drifted": True, "p_value": 0.5},
                               {"name": "age", "drifted": False, "p_value": 0.01}]},
        "privacy": {"epsilon": 3.0},
        "new_section": {"score": 1},
    }
    result = compare_reports(a, b)
    assert [s.section for s in result.sections] == ["performance", "fairness", "drift", "privacy", "robustness",
                                                    "new_section"]
    perf = result.section("performance")
    assert [(d.path, d.before, d.after) for d in perf.deltas] == [
        ("performance.metrics.accuracy.value", 0.80, 0.85), ("performance.metrics.accuracy.ci_high", 0.85, 0.90)]
    assert perf.deltas[0].delta == pytest.approx(0.05)
    assert perf.only_in_b == ("performance.metrics.f1",) and perf.only_in_a == ()
    fairness = result.section("fairness")
    assert [(d.path, d.delta) for d in fairness.deltas] == [
        ("fairness.disparities.sex.demographic_parity_difference", pytest.approx(-0.06))]
    assert [(c.path, c.before, c.after) for c in fairness.changes] == [("fairness.verdict", "warn", "pass")]
    # Matched by name although the order changed; p-values equal, so only the flags differ.
    assert result.section("drift").deltas == ()
    assert result.newly_drifted == ("hours",) and result.no_longer_drifted == ("age",)
    assert result.section("privacy").only_in_b == ("privacy",)
    assert result.section("robustness").only_in_a == ("robustness",)
    assert result.section("new_section").only_in_b == ("new_section",)
    assert result.section("manifest") is None
    assert json.loads(json.dumps(result.to_dict()))["newly_drifted"] == ["hours"]


def test_compare_reports_on_identical_or_empty_reports_finds_nothing():
    report = {"performance": {"metrics": {"x": _metric(float("nan"), 0, 1)}}, "flag": True}
    same = compare_reports(report, json.loads(json.dumps(report, allow_nan=True)))
    assert same.sections == () and same.newly_drifted == ()
    assert compare_reports({}, {}).sections == ()
    flags = compare_reports({"s": {"ok": True, "n": 1}}, {"s": {"ok": 1, "n": True}}).section("s")
    assert flags.deltas == () and len(flags.changes) == 2  # booleans are not numbers
    with pytest.raises(StoreError, match="report_b must be a report object"):
        compare_reports({}, [1])


def test_compare_reports_reads_drift_nested_under_data():
    """The drift section keeps its per-feature results under drift.data.features."""
    def rep(drifted):
        feats = [{"feature": f, "drifted": f in drifted, "effect_size": 0.0} for f in ("age", "sex")]
        return {"drift": {"data": {"features": feats}}}

    cmp = compare_reports(rep(set()), rep({"age"}))
    assert cmp.newly_drifted == ("age",) and cmp.no_longer_drifted == ()


def test_compare_reports_reads_typed_reports_like_their_json():
    """The history page compares typed reports: the same differences as their JSON, drift read from AuditReport.drift."""
    from audit.config import config_from_mapping
    from audit.pipeline import run_audit
    from audit.report import AuditReport
    from tests.conftest import make_synthetic

    def audit(shift):
        cfg = config_from_mapping({"target": "label", "sensitive": ["sex"], "sections": ["drift"],
                                   "models": {"cv_folds": 0, "models": ["dummy", "logistic"]},
                                   "drift": {"performance_bootstrap": 20, "domain_classifier": False, "simulate_shift": shift}})
        return run_audit(cfg, make_synthetic(400, seed=1), workers=1)

    calm, shifted = audit(""), audit("x1:+2sd")
    assert "x1" in shifted.drift.data.drifted_features and "x1" not in calm.drift.data.drifted_features
    typed = compare_reports(calm, shifted)
    assert typed.newly_drifted == ("x1",) and typed.no_longer_drifted == ()
    as_json = compare_reports(json.loads(calm.to_json()), json.loads(shifted.to_json()))
    assert typed == as_json
    assert compare_reports(AuditReport.from_json(calm.to_json()), calm).section("drift") is None
