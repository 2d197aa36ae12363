"""The report contract: every section round-trips exactly through JSON."""

from __future__ import annotations

import json

import pytest

from audit.config import AuditConfig, ModelOptions
from audit.errors import AuditError
from audit.pipeline import run_audit
from audit.report import AuditReport
from audit.sections import registry

from conftest import make_synthetic


@pytest.fixture(scope="module")
def full_report():
    frame = make_synthetic(n=800, seed=1)
    config = AuditConfig(target="label", sensitive=("sex",), models=ModelOptions(cv_folds=2), section_options=SMALL_OPTIONS)
    return run_audit(config, frame)


# Small sample sizes so the whole pipeline runs in seconds on 800 rows.
SMALL_OPTIONS: dict = {
    "performance": {"bootstrap": 100},
}


def test_top_level_keys_are_the_contract(full_report):
    d = full_report.to_dict()
    assert list(d) == ["manifest", "models", "performance", "fairness", "explanations", "robustness", "drift", "privacy", "scorecard"]


@pytest.mark.slow
def test_every_section_type_round_trips(full_report):
    """Fails when a section type is missing: every registered section must be present and exact."""
    names = registry.active().names
    missing = [n for n in names if getattr(full_report, n) is None]
    assert not missing and full_report.models is not None, f"sections missing from the report: {missing}"
    text = full_report.to_json()
    back = AuditReport.from_json(text)
    assert back.to_json() == text
    assert type(back.models).__name__ == "ModelsReport"
    for spec in registry.active():
        sec = back.section(spec.name)
        assert type(sec).__name__ == spec.report_class
        assert sec.verdict.status in ("pass", "warn", "fail")
    assert set(full_report.scorecard) >= {"data", *names}


def test_manifest_describes_the_run(full_report):
    m = full_report.manifest
    assert len(m.dataset.sha256) == 64 and m.dataset.rows == 800
    assert m.target == "label" and m.sensitive == ("sex",) and m.task == "binary"
    assert m.config["target"] == "label" and m.seed == 0
    assert {"numpy", "scikit-learn", "fairlearn", "shap", "opacus", "torch"} <= set(m.libraries)
    names = [t.name for t in m.timings]
    assert names[:2] == ["data", "models"] and set(registry.active().names) <= set(names)
    assert all(t.seconds >= 0 for t in m.timings)
    assert m.duration_seconds >= sum(t.seconds for t in m.timings if t.name in ("data", "models"))


def test_json_is_strict_and_nulls_unrun_sections():
    frame = make_synthetic(n=400, seed=2)
    rep = run_audit(AuditConfig(target="label", sensitive=("sex",), sections=("performance",), models=ModelOptions(cv_folds=0), section_options=SMALL_OPTIONS), frame)
    d = json.loads(rep.to_json())  # allow_nan=False in to_json: strict JSON or it raises
    for name in ("fairness", "explanations", "robustness", "drift", "privacy"):
        assert d[name] is None
    assert d["scorecard"]["performance"]["status"] in ("pass", "warn", "fail")
    assert AuditReport.from_json(rep.to_json()).to_json() == rep.to_json()


@pytest.mark.parametrize("text, message", [("{", "does not parse"), ("[]", "no manifest"), ('{"manifest": {}}', "not a valid audit report")])
def test_invalid_report_json(text, message):
    with pytest.raises(AuditError, match=message):
        AuditReport.from_json(text)
