"""The dashboard on a multiclass report (AppTest): every section page renders, class pickers work."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from audit.config import config_from_mapping
from audit.pipeline import run_audit
from audit.report import AuditReport
from dashboard import forms, state
from tests.conftest import ROOT, make_multiclass

APP = str(ROOT / "dashboard" / "app.py")
TABS = {
    "performance": ("perf_tab", ("Metrics and errors", "Per class", "Calibration and learning curve", "Baselines")),
    "explanations": ("explain_tab", ("Global", "Beeswarm", "One row", "Dependence", "Groups", "Surrogate and errors")),
    "robustness": ("robust_tab", ("Perturbations", "Evasion attacks", "Flip tests", "Edge cases")),
    "drift": ("drift_tab", ("Per feature", "Domain classifier", "Predictions, labels, performance")),
    "model_card": ("card_tab", ("Narrative", "Preview")),
}


@pytest.fixture(scope="module")
def mc_report() -> AuditReport:
    raw = {"target": "decision", "sensitive": ["group"], "sections": list(forms.available_sections()), "seed": 0}
    for section, values in forms.quick_overlay().items():
        raw[section] = dict(values)
    rep = run_audit(config_from_mapping(raw), make_multiclass(700, seed=3), workers=2)
    return AuditReport.from_json(rep.to_json())


def _page(report: AuditReport, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[state.REPORT] = report
    at.session_state[state.REPORT_KEY] = "test"
    at.run()
    return at.switch_page(f"views/{page}.py").run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.slow
@pytest.mark.parametrize("page", ["overview", "datasheet", "performance", "fairness", "explanations", "robustness", "drift",
                                  "privacy", "population", "model_card"])
def test_every_page_renders_a_multiclass_report(mc_report, page):
    assert mc_report.manifest.task == "multiclass"
    at = _page(mc_report, page)
    _ok(at)
    key, labels = TABS.get(page, (None, ()))
    for label in labels:
        at.session_state[key] = label
        at.run()
        _ok(at)


@pytest.mark.slow
def test_fairness_class_picker_shows_each_class_one_vs_rest(mc_report):
    fr = mc_report.fairness
    at = _page(mc_report, "fairness")
    picker = at.selectbox(key="fair_class")
    assert picker.value == fr.worst_class and len(picker.options) == len(fr.per_class)
    assert f"{fr.worst_class} (worst)" in picker.options
    for lab in fr.per_class:
        picker.set_value(lab).run()
        _ok(at)
        want = fr.per_class[lab].disparities_adequate["group"]["demographic_parity_difference"].value
        shown = [m.value for m in at.metric if m.label.lower().startswith("demographic parity")]
        assert shown and shown[0] == f"{want:.3f}"


@pytest.mark.slow
def test_explanations_picker_switches_to_one_class_importance(mc_report):
    at = _page(mc_report, "explanations")
    assert at.selectbox(key="explain_class").value is None  # summed over classes first
    at.selectbox(key="explain_class").set_value(mc_report.explanations.classes[0]).run()
    _ok(at)


@pytest.mark.slow
def test_every_row_class_picker_and_confusion_matrix(mc_report):
    po = mc_report.population
    at = _page(mc_report, "population")
    _ok(at)
    picker = at.selectbox(key="population_class")
    assert picker.value == po.worst_class and f"{po.worst_class} (worst)" in picker.options
    for lab in po.stats.classes:
        picker.set_value(lab).run()
        _ok(at)
        want = po.stats.per_class[lab]["overall"]["all"].rates["base_rate"]
        shown = [m.value for m in at.metric if m.label.startswith("Base rate of")]
        assert shown == [f"{want:.3f}"]
    group = at.selectbox(key="population_confusion")
    assert group.options[0] == "all" and set(group.options[1:]) == set(po.stats.confusion["group"])
    group.set_value(group.options[1]).run()
    _ok(at)
