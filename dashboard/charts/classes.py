"""Per-class views of a multiclass report: a chart of every class, and one class's slice of a section.

``class_slice`` functions turn a multiclass section report into the same report type
holding one class's numbers, so the existing section charts draw it unchanged (the page's
class picker chooses the class; one class at a time keeps wide charts readable).
"""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go

from dashboard.charts.base import TEST_COLOUR, error_bars, layout, metric_name, nan_to_none, safe, safe_all

PER_CLASS_METRICS = ("precision", "recall", "f1", "roc_auc")


def per_class_chart(perf, metric: str) -> go.Figure:
    """One test metric for every class with its bootstrap interval."""
    labels = list(perf.classes)
    vals = [perf.per_class[c][metric].value for c in labels]
    fig = go.Figure(go.Scatter(
        x=nan_to_none(vals), y=safe_all(labels), mode="markers", marker=dict(size=11, color=TEST_COLOUR), name=metric_name(metric),
        error_x=error_bars(vals, [perf.per_class[c][metric].low for c in labels], [perf.per_class[c][metric].high for c in labels]),
        customdata=[perf.class_support.get(c, 0) for c in labels],
        hovertemplate="%{y}: %{x:.3f} (%{customdata} test rows)<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title=metric_name(metric))
    return layout(fig, f"{metric_name(metric)} per class ({perf.confidence:.0%} CI)", height=max(280, 28 * len(labels) + 110))


def fairness_class_slice(fair, label: str):
    """The fairness report as seen for one class (one-vs-rest)."""
    pc = fair.per_class[label]
    return dataclasses.replace(fair, groups=pc.groups, disparities=pc.disparities, disparities_adequate=pc.disparities_adequate,
                               four_fifths=fair.four_fifths_per_class.get(label, {}))


def explanations_class_slice(expl, label: str | None):
    """The explanations report with one class's importance (``None``: summed over classes)."""
    return expl if label is None else dataclasses.replace(expl, importance=expl.per_class[label].importance)


def confusion_counts_chart(matrix, classes, title: str) -> go.Figure:
    """A k x k confusion matrix of counts (rows the true class), each cell with its share of the row."""
    cm = [list(r) for r in matrix]
    text = [[f"{v:,}<br>({v / (sum(row) or 1):.0%} of row)" for v in row] for row in cm]
    labels = [safe(c) for c in classes]
    fig = go.Figure(go.Heatmap(z=cm, x=[f"predicted {c}" for c in labels], y=[f"actual {c}" for c in labels], text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False,
                               hovertemplate="%{y}, %{x}: %{z:,}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title, height=max(360, 26 * len(labels) + 160))
