"""Report section -> plotly figure. Pure functions: no streamlit, no computation.

Every function takes a finished report object (or part of one) and only draws
what it holds; a figure never shows a number the report does not contain.
``tests/test_charts.py`` checks the drawn values against the report and that
this module imports without streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

from audit.data import ColumnSchema

STATUS_COLOURS = {"pass": "#2e7d32", "warn": "#ed6c02", "fail": "#c62828"}
TRAIN_COLOUR, TEST_COLOUR, VAL_COLOUR = "#90a4ae", "#1565c0", "#6a1b9a"
_FONT = dict(size=13)
METRIC_NAMES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy",
                "f1": "F1", "precision": "Precision", "recall": "Recall", "r2": "R²", "mae": "MAE", "rmse": "RMSE",
                "log_loss": "Log loss", "brier": "Brier score", "ece": "ECE"}


def metric_name(key: str) -> str:
    """Display name of a metric key of the report."""
    return METRIC_NAMES.get(key, key.replace("_", " "))


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def _nan_to_none(values: Iterable[float | None]) -> list[float | None]:
    return [v if _finite(v) else None for v in values]


def _layout(fig: go.Figure, title: str, *, height: int = 380, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), height=height, font=_FONT,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2), **kw)
    return fig


def _err(values: Sequence[float], low: Sequence[float], high: Sequence[float]) -> dict:
    """Asymmetric error bars from interval bounds (missing bounds draw no bar)."""
    plus = [h - v if _finite(h) and _finite(v) else None for v, h in zip(values, high)]
    minus = [v - l if _finite(l) and _finite(v) else None for v, l in zip(values, low)]
    return dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.5, width=6)


# -- data -----------------------------------------------------------------------------


def missingness_chart(schema: Sequence[ColumnSchema], rows: int) -> go.Figure:
    """Share of missing values per column (columns with none are listed at 0)."""
    cols = sorted(schema, key=lambda c: c.missing)
    share = [c.missing / rows if rows else 0.0 for c in cols]
    fig = go.Figure(go.Bar(
        x=share, y=[c.name for c in cols], orientation="h", marker_color=TEST_COLOUR,
        customdata=[[c.missing, c.role] for c in cols],
        hovertemplate="%{y}: %{x:.1%} missing (%{customdata[0]} rows, %{customdata[1]})<extra></extra>",
    ))
    fig.update_xaxes(tickformat=".0%", title="missing values", rangemode="tozero")
    return _layout(fig, "Missing values per column", height=max(260, 22 * len(cols) + 90))


# -- models and performance -----------------------------------------------------------


def leaderboard_chart(models) -> go.Figure:
    """Every baseline's selection metric: cross-validation (with its spread), validation, test."""
    rows = list(models.leaderboard)
    names = [r.label + (" (audited)" if r.selected else "") for r in rows]
    fig = go.Figure()
    fig.add_bar(name="cross-validation (train)", x=names, y=_nan_to_none(r.cv_mean for r in rows), marker_color=TRAIN_COLOUR,
                error_y=dict(type="data", array=_nan_to_none(r.cv_std for r in rows), thickness=1.5, width=6))
    fig.add_bar(name="validation", x=names, y=_nan_to_none(r.val_score for r in rows), marker_color=VAL_COLOUR)
    fig.add_bar(name="test", x=names, y=_nan_to_none(r.test_score for r in rows), marker_color=TEST_COLOUR)
    fig.update_yaxes(title=metric_name(models.selection_metric))
    return _layout(fig, f"Baselines on {metric_name(models.selection_metric)}", barmode="group")


_BOUNDED = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "r2")


def metric_ci_chart(perf) -> go.Figure:
    """Test metrics with their bootstrap intervals, and the train value for comparison."""
    names = [m for m in _BOUNDED if m in perf.metrics]
    vals = [perf.metrics[m].value for m in names]
    fig = go.Figure()
    labels = [metric_name(m) for m in names]
    fig.add_scatter(name=f"test ({perf.confidence:.0%} CI)", x=_nan_to_none(vals), y=labels, mode="markers",
                    marker=dict(size=11, color=TEST_COLOUR),
                    error_x=_err(vals, [perf.metrics[m].ci_low for m in names], [perf.metrics[m].ci_high for m in names]))
    fig.add_scatter(name="train", x=_nan_to_none(perf.metrics[m].train for m in names), y=labels, mode="markers",
                    marker=dict(size=10, symbol="circle-open", color=TRAIN_COLOUR, line=dict(width=2)))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Test metrics, {perf.n_bootstrap} bootstrap resamples of {perf.n_test} rows",
                   height=max(280, 40 * len(names) + 110))


def confusion_matrix_chart(perf, positive_label: str | None = None) -> go.Figure:
    """The test confusion matrix at the decision threshold, counts and row shares."""
    cm = [list(r) for r in perf.confusion_matrix]
    pos = positive_label or "1"
    labels = [f"not {pos}", pos]
    text = []
    for row in cm:
        total = sum(row) or 1
        text.append([f"{v}<br>({v / total:.0%} of row)" for v in row])
    fig = go.Figure(go.Heatmap(z=cm, x=[f"predicted {l}" for l in labels], y=[f"actual {l}" for l in labels],
                               text=text, texttemplate="%{text}", colorscale="Blues", showscale=False,
                               hovertemplate="%{y}, %{x}: %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Confusion matrix (threshold {perf.decision_threshold:g})", height=360)


def reliability_chart(perf) -> go.Figure:
    """Observed positive rate against the mean predicted probability per bin (diagonal = calibrated)."""
    bins = [b for b in perf.reliability if b.count > 0]
    fig = go.Figure()
    fig.add_scatter(name="perfectly calibrated", x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color=TRAIN_COLOUR))
    sizes = [b.count for b in bins]
    biggest = max(sizes) if sizes else 1
    fig.add_scatter(name="model", x=_nan_to_none(b.mean_predicted for b in bins), y=_nan_to_none(b.observed_rate for b in bins),
                    mode="lines+markers", line=dict(color=TEST_COLOUR),
                    marker=dict(size=[8 + 22 * math.sqrt(s / biggest) for s in sizes], color=TEST_COLOUR),
                    customdata=[[b.count, b.lower, b.upper] for b in bins],
                    hovertemplate="scores %{customdata[1]:.1f}-%{customdata[2]:.1f}: predicted %{x:.2f}, observed %{y:.2f} (%{customdata[0]} rows)<extra></extra>")
    ece = perf.metrics.get("ece")
    title = "Reliability curve" + (f" (ECE {ece.value:.3f})" if ece is not None and _finite(ece.value) else "")
    fig.update_xaxes(title="mean predicted probability", range=[0, 1])
    fig.update_yaxes(title="observed positive rate", range=[0, 1])
    return _layout(fig, title)


def learning_curve_chart(perf) -> go.Figure:
    """Train and validation score of the audited model refitted on growing training subsets."""
    pts = list(perf.learning_curve)
    x = [p.train_size for p in pts]
    fig = go.Figure()
    fig.add_scatter(name="train", x=x, y=_nan_to_none(p.train_score for p in pts), mode="lines+markers", line=dict(color=TRAIN_COLOUR))
    fig.add_scatter(name="validation", x=x, y=_nan_to_none(p.val_score for p in pts), mode="lines+markers", line=dict(color=TEST_COLOUR))
    fig.update_xaxes(title="training rows")
    fig.update_yaxes(title=metric_name(perf.learning_curve_metric))
    return _layout(fig, f"Learning curve ({metric_name(perf.learning_curve_metric)})")
