"""Models and performance charts: the baseline leaderboard, test metrics with intervals, confusion matrix,
reliability and learning curves."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from dashboard.charts.base import TEST_COLOUR, TRAIN_COLOUR, VAL_COLOUR, error_bars, finite, layout, metric_name, nan_to_none, safe, safe_all


def leaderboard_chart(models) -> go.Figure:
    """Every baseline's selection metric: cross-validation (with its spread), validation, test."""
    rows = list(models.leaderboard)
    names = [safe(r.label + (" (audited)" if r.selected else "")) for r in rows]
    fig = go.Figure()
    fig.add_bar(name="cross-validation (train)", x=names, y=nan_to_none(r.cv_mean for r in rows), marker_color=TRAIN_COLOUR,
                error_y=dict(type="data", array=nan_to_none(r.cv_std for r in rows), thickness=1.5, width=6))
    fig.add_bar(name="validation", x=names, y=nan_to_none(r.val_score for r in rows), marker_color=VAL_COLOUR)
    fig.add_bar(name="test", x=names, y=nan_to_none(r.test_score for r in rows), marker_color=TEST_COLOUR)
    fig.update_yaxes(title=metric_name(models.selection_metric))
    return layout(fig, f"Baselines on {metric_name(models.selection_metric)}", barmode="group")


_BOUNDED = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "r2")


def metric_ci_chart(perf) -> go.Figure:
    """Test metrics with their bootstrap intervals, and the train value for comparison."""
    names = [m for m in _BOUNDED if m in perf.metrics]
    vals = [perf.metrics[m].value for m in names]
    fig = go.Figure()
    labels = [metric_name(m) for m in names]
    fig.add_scatter(name=f"test ({perf.confidence:.0%} CI)", x=nan_to_none(vals), y=labels, mode="markers",
                    marker=dict(size=11, color=TEST_COLOUR),
                    error_x=error_bars(vals, [perf.metrics[m].low for m in names], [perf.metrics[m].high for m in names]))
    fig.add_scatter(name="train", x=nan_to_none(perf.train_metrics[m] for m in names), y=labels, mode="markers",
                    marker=dict(size=10, symbol="circle-open", color=TRAIN_COLOUR, line=dict(width=2)))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, f"Test metrics, {perf.n_bootstrap} bootstrap resamples of {perf.n_test} rows",
                   height=max(280, 40 * len(names) + 110))


def confusion_matrix_chart(perf, positive_label: str | None = None) -> go.Figure:
    """The test confusion matrix at the decision threshold, counts and row shares."""
    cm = [list(r) for r in perf.confusion_matrix]
    pos = positive_label or "1"
    labels = safe_all(perf.classes) if perf.classes else [safe(f"not {pos}"), safe(pos)]
    text = []
    for row in cm:
        total = sum(row) or 1
        text.append([f"{v}<br>({v / total:.0%} of row)" for v in row])
    fig = go.Figure(go.Heatmap(z=cm, x=[f"predicted {l}" for l in labels], y=[f"actual {l}" for l in labels],
                               text=text, texttemplate="%{text}", colorscale="Blues", showscale=False,
                               hovertemplate="%{y}, %{x}: %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    if perf.classes:
        return layout(fig, "Confusion matrix (predicted = the most probable class)", height=max(360, 26 * len(labels) + 160))
    return layout(fig, f"Confusion matrix (threshold {perf.decision_threshold:g})", height=360)


def reliability_chart(perf) -> go.Figure:
    """Observed positive rate against the mean predicted probability per bin (diagonal = calibrated)."""
    bins = [b for b in perf.reliability if b.count > 0]
    fig = go.Figure()
    fig.add_scatter(name="perfectly calibrated", x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color=TRAIN_COLOUR))
    sizes = [b.count for b in bins]
    biggest = max(sizes) if sizes else 1
    fig.add_scatter(name="model", x=nan_to_none(b.mean_predicted for b in bins), y=nan_to_none(b.observed_rate for b in bins),
                    mode="lines+markers", line=dict(color=TEST_COLOUR),
                    marker=dict(size=[8 + 22 * math.sqrt(s / biggest) for s in sizes], color=TEST_COLOUR),
                    customdata=[[b.count, b.lower, b.upper] for b in bins],
                    hovertemplate="scores %{customdata[1]:.1f}-%{customdata[2]:.1f}: predicted %{x:.2f}, observed %{y:.2f} (%{customdata[0]} rows)<extra></extra>")
    ece = perf.metrics.get("ece")
    title = "Reliability curve" + (f" (ECE {ece.value:.3f})" if ece is not None and finite(ece.value) else "")
    top = bool(perf.classes)  # multiclass: the top label's probability against how often it is right
    fig.update_xaxes(title="mean probability of the predicted class" if top else "mean predicted probability", range=[0, 1])
    fig.update_yaxes(title="share predicted right" if top else "observed positive rate", range=[0, 1])
    return layout(fig, title)


def learning_curve_chart(perf) -> go.Figure:
    """Train and validation score of the audited model refitted on growing training subsets."""
    pts = list(perf.learning_curve)
    x = [p.train_size for p in pts]
    fig = go.Figure()
    fig.add_scatter(name="train", x=x, y=nan_to_none(p.train_score for p in pts), mode="lines+markers", line=dict(color=TRAIN_COLOUR))
    fig.add_scatter(name="validation", x=x, y=nan_to_none(p.val_score for p in pts), mode="lines+markers", line=dict(color=TEST_COLOUR))
    # The default sizes (10%, 25%, 50%, 100%) crowd the small end of a linear axis; a log axis
    # spaces them as the fractions grow, when they span a factor of 4 or more.
    log = len(x) > 1 and min(x) > 0 and max(x) >= 4 * min(x)
    fig.update_xaxes(title="training rows" + (" (log scale)" if log else ""), type="log" if log else "linear")
    fig.update_yaxes(title=metric_name(perf.learning_curve_metric))
    return layout(fig, f"Learning curve ({metric_name(perf.learning_curve_metric)})")
