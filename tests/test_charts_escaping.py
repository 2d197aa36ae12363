"""User text in dashboard/charts/ figures is escaped, once.

Plotly draws a subset of HTML (<b>, <i>, <a href>, <span style>, <sup>, ...) in trace names, category
and tick labels, hover text, annotations and titles. The audits here run the real pipeline on data
whose group labels, column names, categories and class labels are such markup, and every figure
drawn from them must hold only the escaped form (&lt;b&gt;...), never a tag from the data.
"""

from __future__ import annotations

import html
import json

import pytest

from audit.config import config_from_mapping
from audit.data import ColumnSchema
from audit.pipeline import run_audit
from audit.store.compare import compare_reports
from dashboard import forms
from dashboard.charts import base
from dashboard.charts import classes as class_charts
from dashboard.charts import data as data_charts
from dashboard.charts import drift as drift_charts
from dashboard.charts import explanations as explain_charts
from dashboard.charts import fairness as fair_charts
from dashboard.charts import performance as perf_charts
from dashboard.charts import privacy as privacy_charts
from dashboard.charts import reviews as review_charts
from dashboard.charts import robustness as robust_charts
from tests.conftest import MULTICLASS_LABELS, make_multiclass, make_synthetic

BOLD, LINK = "<b>x</b>", '<a href="https://evil.example">y</a>'  # the two sensitive groups
SEX, X1, RED = "<sup>sex</sup>", "<b>x1</b>", "<i>red</i>"       # a sensitive column, a feature, a category
NO, YES = "<i>no</i>", "<b>yes</b>"                              # binary labels
APPROVE, REFER = "<b>approve</b>", '<a href="https://evil.example">refer</a>'  # multiclass labels
# Tags only the data holds: the charts' own markup is <br> and <extra>.
RAW_TAGS = ("<b>", "</b>", "<a ", "</a>", "<i>", "<span", "<sup>")


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def _config(target, sensitive, sections):
    raw = {"target": target, "sensitive": [sensitive], "sections": list(sections), "seed": 0}
    for section, values in forms.quick_overlay().items():
        if section in raw["sections"]:
            raw[section] = dict(values)
    return config_from_mapping(raw)


def _hostile(n, seed):
    f = make_synthetic(n, seed=seed)
    f["sex"] = f["sex"].map({"F": BOLD, "M": LINK})
    f["colour"] = f["colour"].map({"red": RED, "green": "green", "blue": '<span style="color:red">blue</span>'})
    f["label"] = f["label"].map({0: NO, 1: YES})
    return f.rename(columns={"x1": X1, "sex": SEX})


@pytest.fixture(scope="module")
def report():
    current = _hostile(400, 7)
    current[X1] = current[X1] + 2.0  # a drift, so the drift charts have something to draw
    return run_audit(_config("label", SEX, forms.available_sections()), _hostile(600, 1), current=current, workers=2)


@pytest.fixture(scope="module")
def mc_report():
    f = make_multiclass(600, seed=0)
    f["decision"] = f["decision"].map(dict(zip(MULTICLASS_LABELS, (APPROVE, REFER, "decline"))))
    return run_audit(_config("decision", "group", ["performance"]), f, workers=2)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def assert_escaped(fig, *expected):
    """No tag from the data anywhere in the figure; the escaped text is there, escaped only once."""
    spec = fig.to_dict()
    texts = list(_strings(spec))
    raw = sorted({t for t in texts if any(tag in t for tag in RAW_TAGS)})
    assert not raw, f"user markup reached the figure: {raw[:5]}"
    assert not [t for t in texts if "&amp;lt;" in t or "&amp;gt;" in t], "escaped twice"
    for text in expected:
        assert any(esc(text) in t for t in texts), f"{esc(text)!r} is not in the figure"
    # User text reaches hovers through the points' fields, never the template ("%{" in it would be read).
    assert not [t.get("hovertemplate") for t in spec["data"] if "&lt;" in str(t.get("hovertemplate", ""))]


def _perturbed_fairness(rep):
    """The report's JSON with every fairness group number moved, for a comparison whose paths name groups."""
    def bump(obj):
        if isinstance(obj, dict):
            return {k: bump(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [bump(v) for v in obj]
        return obj + 0.01 if isinstance(obj, float) else obj

    before = json.loads(rep.to_json())
    after = json.loads(rep.to_json())
    after["fairness"]["groups"] = bump(after["fairness"]["groups"])
    return compare_reports(before, after)


def _feature(items, name):
    return next(i for i in items if i.feature == name)


# name -> (figure from the binary report and the multiclass one, texts that must appear escaped)
CHARTS = {
    "fairness.group_metrics_chart": (lambda r, m: fair_charts.group_metrics_chart(r.fairness, SEX), (BOLD, LINK, SEX)),
    "fairness.disparity_chart": (lambda r, m: fair_charts.disparity_chart(r.fairness, SEX), (SEX,)),
    "fairness.four_fifths_chart": (lambda r, m: fair_charts.four_fifths_chart(r.fairness.four_fifths[SEX], SEX), (BOLD, LINK, SEX)),
    "fairness.tradeoff_chart": (lambda r, m: fair_charts.tradeoff_chart(r.fairness, SEX), (SEX,)),
    "fairness.representation_chart": (lambda r, m: fair_charts.representation_chart(r.fairness, SEX), (BOLD, LINK, SEX)),
    "fairness.proxy_chart": (lambda r, m: fair_charts.proxy_chart(r.fairness), (SEX, X1)),
    "performance.confusion_matrix_chart": (
        lambda r, m: perf_charts.confusion_matrix_chart(r.performance, r.models.positive_label), (NO,)),
    "performance.confusion_matrix_chart multiclass": (
        lambda r, m: perf_charts.confusion_matrix_chart(m.performance), (APPROVE, REFER)),
    "classes.per_class_chart": (lambda r, m: class_charts.per_class_chart(m.performance, "f1"), (APPROVE, REFER)),
    "classes.confusion_counts_chart": (
        lambda r, m: class_charts.confusion_counts_chart(m.performance.confusion_matrix, m.performance.classes,
                                                         f"Confusion matrix, {SEX} = {BOLD}"), (APPROVE, REFER, SEX, BOLD)),
    "drift.feature_drift_chart": (lambda r, m: drift_charts.feature_drift_chart(r.drift.data), (X1, SEX)),
    "drift.distribution_chart": (
        lambda r, m: drift_charts.distribution_chart(_feature(r.drift.data.features, "colour")), (RED,)),
    "drift.distribution_chart title": (
        lambda r, m: drift_charts.distribution_chart(_feature(r.drift.data.features, X1)), (X1,)),
    "drift.domain_classifier_chart": (lambda r, m: drift_charts.domain_classifier_chart(r.drift.data.domain), (X1,)),
    "explanations.shap_bar_chart": (lambda r, m: explain_charts.shap_bar_chart(r.explanations), (X1, SEX)),
    "explanations.shap_beeswarm_chart": (lambda r, m: explain_charts.shap_beeswarm_chart(r.explanations, top=5), (X1, SEX, RED)),
    "explanations.shap_waterfall_chart": (lambda r, m: explain_charts.shap_waterfall_chart(r.explanations, 0, top=5), (X1, SEX)),
    "explanations.dependence_chart": (
        lambda r, m: explain_charts.dependence_chart(_feature(r.explanations.dependence, X1)), (X1,)),
    "explanations.dependence_chart categories": (
        lambda r, m: explain_charts.dependence_chart(_feature(r.explanations.dependence, "colour")), (RED,)),
    "explanations.permutation_chart": (lambda r, m: explain_charts.permutation_chart(r.explanations.permutation), (X1, SEX)),
    "explanations.group_gap_chart": (lambda r, m: explain_charts.group_gap_chart(r.explanations.group_gaps[0]), (SEX, X1)),
    "privacy.group_accuracy_chart": (lambda r, m: privacy_charts.group_accuracy_chart(r.privacy, SEX), (BOLD, LINK, SEX)),
    "robustness.flip_test_chart": (lambda r, m: robust_charts.flip_test_chart(r.robustness.flip_tests[0]), (BOLD, LINK, SEX)),
    "reviews.delta_figure": (lambda r, m: review_charts.delta_figure(_perturbed_fairness(r), "fairness", top=1000), (SEX, BOLD, LINK)),
}


@pytest.mark.parametrize("name", list(CHARTS))
def test_user_text_is_escaped_in(name, report, mc_report):
    build, expected = CHARTS[name]
    assert_escaped(build(report, mc_report), *expected)


def test_missingness_chart_escapes_column_names():
    schema = (ColumnSchema(X1, "numeric", "feature", 10, 5), ColumnSchema(SEX, "categorical", "sensitive", 20, 2))
    assert_escaped(data_charts.missingness_chart(schema, 100), X1, SEX)


def test_safe_escapes_markup_once_and_leaves_ordinary_labels_and_numbers_alone():
    assert base.safe(BOLD) == "&lt;b&gt;x&lt;/b&gt;"
    # Plotly decodes &amp; &lt; &gt; but shows &quot; as is: quotes stay, harmless without a "<".
    assert base.safe(LINK) == '&lt;a href="https://evil.example"&gt;y&lt;/a&gt;'
    assert base.safe("R&D") == "R&amp;D" and base.safe(3) == "3"
    assert base.safe_all(["F", "age > 40", 1.5, None, 2]) == ["F", "age &gt; 40", 1.5, None, 2]


def test_layout_escapes_the_title_once(mc_report):
    fig = class_charts.confusion_counts_chart(mc_report.performance.confusion_matrix, mc_report.performance.classes,
                                              f"Confusion matrix, group = {BOLD}")
    assert fig.layout.title.text == f"Confusion matrix, group = {esc(BOLD)}"
