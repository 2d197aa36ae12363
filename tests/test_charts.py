"""dashboard/charts/ and dashboard/forms.py: pure functions, tested without Streamlit.

The report comes from the real pipeline on small synthetic data (tests/conftest.py),
and each figure is checked against the numbers the report holds.
"""

from __future__ import annotations

import math
import subprocess
import sys

import plotly.graph_objects as go
import pytest

from audit.config import config_from_mapping
from audit.pipeline import resolve_options, run_audit
from dashboard import forms
from dashboard.charts import base
from dashboard.charts import data as data_charts
from dashboard.charts import drift as drift_charts
from dashboard.charts import explanations as explain_charts
from dashboard.charts import fairness as fair_charts
from dashboard.charts import performance as perf_charts
from dashboard.charts import privacy as privacy_charts
from dashboard.charts import robustness as robust_charts
from tests.conftest import ROOT, make_synthetic


def _quick_config(sections):
    raw = {"target": "label", "sensitive": ["sex"], "sections": list(sections), "seed": 0}
    for section, values in forms.quick_overlay().items():
        raw[section] = dict(values)
    return config_from_mapping(raw)


@pytest.fixture(scope="module")
def report():
    current = make_synthetic(400, seed=7)
    current["x1"] = current["x1"] + 2.0  # a mean shift in x1 only
    return run_audit(_quick_config(forms.available_sections()), make_synthetic(600, seed=1), current=current, workers=2)


def _section(report, name):
    sec = getattr(report, name)
    assert sec is not None, f"the {name} section did not run"
    return sec


def _close(a, b):
    return (a is None and (b is None or not math.isfinite(b))) or (a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12))


def test_charts_module_imports_without_streamlit():
    code = ("import importlib, pkgutil, sys, dashboard.charts, dashboard.forms\n"
            "for m in pkgutil.iter_modules(dashboard.charts.__path__): importlib.import_module('dashboard.charts.' + m.name)\n"
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_confusion_matrix_shows_the_report_counts(report):
    perf = report.performance
    fig = perf_charts.confusion_matrix_chart(perf, report.models.positive_label)
    z = [list(r) for r in fig.data[0].z]
    assert z == [list(r) for r in perf.confusion_matrix]
    assert sum(map(sum, z)) == perf.n_test
    assert fig.data[0].x[1] == "predicted 1"


def test_metric_ci_error_bars_reach_the_interval_bounds(report):
    perf = report.performance
    fig = perf_charts.metric_ci_chart(perf)
    test = fig.data[0]
    assert list(test.y) == [base.metric_name(m) for m in perf_charts._BOUNDED if m in perf.metrics]
    for label, x, plus, minus in zip(test.y, test.x, test.error_x.array, test.error_x.arrayminus):
        key = next(k for k in perf.metrics if base.metric_name(k) == label)
        mc = perf.metrics[key]
        assert _close(x, mc.value)
        assert _close(x + plus, mc.high) and _close(x - minus, mc.low)


def test_reliability_curve_skips_empty_bins_and_draws_the_diagonal(report):
    perf = report.performance
    fig = perf_charts.reliability_chart(perf)
    diag, model = fig.data
    assert list(diag.x) == [0, 1] and list(diag.y) == [0, 1]
    filled = [b for b in perf.reliability if b.count > 0]
    assert len(model.x) == len(filled)
    assert all(_close(x, b.mean_predicted) for x, b in zip(model.x, filled))
    assert "ECE" in fig.layout.title.text


def test_learning_curve_and_leaderboard(report):
    perf, models = report.performance, report.models
    lc = perf_charts.learning_curve_chart(perf)
    assert list(lc.data[1].x) == [p.train_size for p in perf.learning_curve]
    assert all(_close(y, p.val_score) for y, p in zip(lc.data[1].y, perf.learning_curve))
    sizes = [p.train_size for p in perf.learning_curve]
    assert lc.layout.xaxis.type == ("log" if max(sizes) >= 4 * min(sizes) else "linear")
    lb = perf_charts.leaderboard_chart(models)
    assert [len(t.x) for t in lb.data] == [len(models.leaderboard)] * 3
    audited = [x for x in lb.data[0].x if "(audited)" in x]
    assert len(audited) == 1 and audited[0].startswith(models.selected_label)
    # The dummy's test AUC is 0.5: the bar shows the report's number, not a recomputed one.
    dummy = next(r for r in models.leaderboard if r.name == "dummy")
    assert _close(lb.data[2].y[[r.name for r in models.leaderboard].index("dummy")], dummy.test_score)


def test_missingness_chart_shows_columns_with_missing_values():
    from audit.data import ColumnSchema

    schema = (ColumnSchema("a", "numeric", "feature", 0, 5), ColumnSchema("b", "categorical", "feature", 25, 3),
              ColumnSchema("c", "numeric", "feature", 50, 9))
    fig = data_charts.missingness_chart(schema, 100)
    assert list(fig.data[0].y) == ["b", "c"] and list(fig.data[0].x) == [0.25, 0.5]


def test_nan_values_draw_as_gaps_not_errors():
    from audit.sections.performance import LearningCurvePoint

    class Perf:
        learning_curve = (LearningCurvePoint(10, float("nan"), 0.5), LearningCurvePoint(20, 0.9, float("nan")))
        learning_curve_metric = "roc_auc"

    fig = perf_charts.learning_curve_chart(Perf())
    assert list(fig.data[0].y) == [None, 0.9] and list(fig.data[1].y) == [0.5, None]
    assert isinstance(fig, go.Figure) and fig.layout.xaxis.type == "linear"  # 10 to 20 rows: no log scale


# -- forms: the New audit form's pure helpers ------------------------------------------


def test_quick_preset_is_a_valid_config_for_every_section():
    config = forms.sample_config(quick=True)
    assert config.data.max_rows > 0
    resolve_options(config)  # raises ConfigError on an unknown or invalid option


def test_option_fields_read_defaults_and_help_from_the_options_class():
    fields = {f.name: f for f in forms.option_fields("performance")}
    assert fields["bootstrap"].kind == "int" and fields["bootstrap"].default == 1000
    assert fields["confidence"].kind == "float"
    assert "resamples" in fields["bootstrap"].help
    assert "learning_curve_sizes" not in fields  # tuples are not form fields
    assert forms.changed_options(fields.values(), {"bootstrap": 1000, "confidence": 0.9}) == {"confidence": 0.9}


def test_schema_edits_map_to_data_options(report):
    cols = report.manifest.schema
    rows = forms.schema_rows(cols)
    assert forms.data_options_from_edits(cols, rows) == {}  # no edit, no option
    for r in rows:
        if r["column"] == "noise":
            r["exclude"] = True
        if r["column"] == "x1":
            r["immutable"] = True
        if r["column"] == "colour":
            r["type"] = "categorical"  # unchanged kind: no override
        if r["column"] == "x2":
            r["type"] = "categorical"
        if r["column"] == "sex":
            r["exclude"] = True  # sensitive columns keep their role
    opts = forms.data_options_from_edits(cols, rows)
    assert opts == {"column_types": {"x2": "categorical"}, "exclude": ["noise"], "immutable": ["x1"]}
    config = forms.build_config(target="label", sensitive=["sex"], sections=["performance"], seed=3, data=opts)
    assert config.data.exclude == ("noise",) and config.data.column_types == {"x2": "categorical"} and config.seed == 3


def test_guesses():
    assert forms.guess_target(["age", "sex", "income", "x"]) == 2
    assert forms.guess_target(["a", "b"]) == 1
    assert forms.guess_sensitive(["Sex", "race", "x"]) == ["Sex", "race"]


# -- explanations, robustness, drift, privacy ------------------------------------------


def test_shap_bar_follows_the_ranking_and_marks_sensitive_features(report):
    ex = _section(report, "explanations")
    fig = explain_charts.shap_bar_chart(ex)
    ranked = sorted(ex.importance, key=lambda f: f.rank)
    assert list(fig.data[0].y) == [f.feature for f in ranked]
    assert list(fig.data[0].x) == [f.mean_abs_shap for f in ranked]
    colours = dict(zip(fig.data[0].y, fig.data[0].marker.color))
    assert colours["sex"] == base.SENSITIVE_COLOUR and colours["x1"] == base.TEST_COLOUR
    assert fig.data[0].y[0] == "x1"  # the feature that drives the label ranks first


def test_waterfall_adds_up_to_the_model_output(report):
    ex = _section(report, "explanations")
    for row in (0, len(ex.rows) - 1):
        fig = explain_charts.shap_waterfall_chart(ex, row, top=3)
        w = fig.data[0]
        assert w.measure[0] == "absolute" and w.measure[-1] == "total"
        assert _close(w.x[0], ex.base_value) and _close(w.x[-1], ex.outputs[row])
        assert math.isclose(w.x[0] + sum(w.x[1:-1]), ex.outputs[row], abs_tol=max(1e-6, 10 * ex.additivity.tolerance))
        assert any("other features" in y for y in w.y)  # top=3 of 5 features: the rest is grouped


def test_beeswarm_has_one_point_per_explained_row(report):
    ex = _section(report, "explanations")
    fig = explain_charts.shap_beeswarm_chart(ex, top=3)
    assert len(fig.data) == 3
    assert all(len(t.x) == ex.n_explained for t in fig.data)
    colour_cat = next(t for t in fig.data if t.name == "colour").marker.color if any(t.name == "colour" for t in fig.data) else None
    assert colour_cat in (None, base.TRAIN_COLOUR)  # categories have no low/high


def test_dependence_and_permutation_charts(report):
    ex = _section(report, "explanations")
    dep = ex.dependence[0]
    fig = explain_charts.dependence_chart(dep)
    for y, plus, b in zip(fig.data[0].y, fig.data[0].error_y.array, dep.bins):
        assert _close(y, b.mean_shap) and _close(y + plus, b.high)
    perm = explain_charts.permutation_chart(ex.permutation)
    assert list(perm.data[0].x) == [f.mean for f in ex.permutation.features]


def test_robustness_curves_attacks_and_flips(report):
    rb = _section(report, "robustness")
    curves = (rb.noise, rb.categorical_corruption, rb.missing_values)
    fig = robust_charts.perturbation_chart(curves, metric=rb.metric)
    assert len(fig.data) == 2 * len(curves)
    for i, curve in enumerate(curves):
        metric, flips = fig.data[2 * i], fig.data[2 * i + 1]
        assert list(metric.x) == [p.level for p in curve.points]
        assert all(_close(y, p.metric) for y, p in zip(metric.y, curve.points))
        assert all(_close(y, p.flip_rate) for y, p in zip(flips.y, curve.points))
        assert flips.yaxis != metric.yaxis  # flip rates on the right-hand axis
    if rb.attacks.applicable:
        att = robust_charts.attack_chart(rb.attacks, thresholds=rb.thresholds)
        lines = [s.y0 for s in att.layout.shapes if s.y0 == s.y1]
        assert rb.thresholds["warn_attack_success"] in lines and rb.thresholds["fail_attack_success"] in lines
    for ft in rb.flip_tests:
        flip = robust_charts.flip_test_chart(ft, warn=0.01, fail=0.1)
        assert list(flip.data[0].y) == [g.flip_rate for g in ft.groups]


def test_drift_chart_flags_the_shifted_feature_against_its_threshold(report):
    dr = _section(report, "drift")
    fig = drift_charts.feature_drift_chart(dr.data)
    bars, thresholds = fig.data
    by_feature = {f.feature: f for f in dr.data.features}
    for name, y, colour, th in zip(bars.x, bars.y, bars.marker.color, thresholds.y):
        assert _close(y, by_feature[name].effect_size) and th == by_feature[name].effect_threshold
        assert (colour == base.SENSITIVE_COLOUR) == by_feature[name].drifted
    assert bars.x[0] == "x1" and by_feature["x1"].drifted  # the mean shift is the largest effect
    dist = drift_charts.distribution_chart(by_feature["x1"])
    assert math.isclose(sum(dist.data[0].y), 1.0, abs_tol=1e-6) and math.isclose(sum(dist.data[1].y), 1.0, abs_tol=1e-6)


def test_privacy_charts(report):
    pv = _section(report, "privacy")
    fig = privacy_charts.epsilon_accuracy_chart(pv)
    for net, trace in zip(pv.networks, fig.data):
        dp = sorted((m for m in pv.models if m.network == net and m.role == "dp"), key=lambda m: m.epsilon_spent)
        assert list(trace.x) == [m.epsilon_spent for m in dp] and list(trace.y) == [m.accuracy for m in dp]
    mem = privacy_charts.membership_chart(pv)
    assert any(s.y0 == 0.5 for s in mem.layout.shapes)
    assert {s.y0 for s in mem.layout.shapes} >= {pv.thresholds["warn_attack_auc"], pv.thresholds["fail_attack_auc"]} == {0.55, 0.75}
    first = mem.data[0]
    attack = next(a for a in pv.models[0].membership if a.attack.replace("_", " ") == first.name)
    assert _close(first.y[0], attack.auc.value) and _close(first.y[0] + first.error_y.array[0], attack.auc.high)
    roc = privacy_charts.membership_roc_chart(pv, 0)
    attacks = [a for a in pv.models[0].membership if a.roc_fpr]
    assert len(roc.data) == len(attacks) + 1 and roc.data[-1].name == "chance"
    assert list(roc.data[0].x) == list(attacks[0].roc_fpr) and list(roc.data[0].y) == list(attacks[0].roc_tpr)
    groups = privacy_charts.group_accuracy_chart(pv, "sex")
    assert {t.name for t in groups.data} == {"F", "M"}
    assert list(groups.data[0].x) == [privacy_charts.model_label(m) for m in pv.models]


def test_fairness_group_metrics_disparities_and_tradeoff(report):
    fr = _section(report, "fairness")
    fig = fair_charts.group_metrics_chart(fr, "sex", ["selection_rate", "tpr"])
    rows = fr.groups["sex"]
    sel = fig.data[0]
    assert list(sel.x) == [r.group for r in rows]
    for y, plus, minus, r in zip(sel.y, sel.error_y.array, sel.error_y.arrayminus, rows):
        iv = r.metrics["selection_rate"]
        assert _close(y, iv.value) and _close(y + plus, iv.high) and _close(y - minus, iv.low)
    # make_synthetic shifts the label log-odds of M: its selection rate is higher.
    assert dict(zip(sel.x, sel.y))["M"] > dict(zip(sel.x, sel.y))["F"]
    dis = fair_charts.disparity_chart(fr, "sex")
    dp = fr.disparities_adequate["sex"]["demographic_parity_difference"]
    assert _close(dis.data[0].x[0], dp.value)
    # the verdict's thresholds are drawn: 0.1 on the parity difference, 0.8 on the parity ratio
    drawn = sorted(sh.x0 for sh in dis.layout.shapes if sh.line.dash == "dash")
    assert drawn == sorted(v for k, v in fr.thresholds.items() if k in fr.disparities_adequate["sex"])
    assert fr.thresholds["demographic_parity_difference"] == 0.1 and fr.thresholds["demographic_parity_ratio"] == 0.8
    trade = fair_charts.tradeoff_chart(fr, "sex")
    done = [v for v in (*fr.mitigations, fr.unawareness) if v is not None and v.status == "done"]
    assert len(trade.data[0].x) == len(done)
    unmitigated = next(v for v in done if v.name == "unmitigated")
    i = list(trade.data[0].text).index(unmitigated.label)
    assert _close(trade.data[0].x[i], unmitigated.disparities["sex"]["demographic_parity_difference"].value)
    assert _close(trade.data[0].y[i], unmitigated.metrics["accuracy"].value)


def test_fairness_four_fifths_representation_and_proxies(report):
    fr = _section(report, "fairness")
    ff = fr.four_fifths["sex"]
    fig = fair_charts.four_fifths_chart(ff, "sex")
    assert list(fig.data[0].y) == [ff.ratios[g] for g in fig.data[0].x]
    assert any(s.y0 == ff.threshold for s in fig.layout.shapes)
    rep = fair_charts.representation_chart(fr, "sex")
    assert math.isclose(sum(rep.data[0].y), 1.0, abs_tol=1e-9)
    assert list(rep.data[3].y) == [r.base_rate for r in fr.representation["sex"]]
    px = fair_charts.proxy_chart(fr)
    assert list(px.data[0].y) == ["sex"] and "sex" not in px.data[0].x
