"""Drift charts: effect size per feature, one column's distributions, the domain classifier, performance shift."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.charts.base import (
    SENSITIVE_COLOUR,
    STATUS_COLOURS,
    TEST_COLOUR,
    TRAIN_COLOUR,
    error_bars,
    finite,
    layout,
    metric_name,
    nan_to_none,
    safe,
    safe_all,
)


def feature_drift_chart(data) -> go.Figure:
    """Effect size per feature against its threshold; drifted features in red."""
    feats = sorted(data.features, key=lambda f: -(f.effect_size if finite(f.effect_size) else 0))
    names = safe_all(f.feature for f in feats)
    fig = go.Figure()
    fig.add_bar(name="effect size", x=names, y=nan_to_none(f.effect_size for f in feats),
                marker_color=[SENSITIVE_COLOUR if f.drifted else TEST_COLOUR for f in feats],
                customdata=[[safe(f.effect_metric.replace("_", " ")), safe(f.test), f.p_value_adjusted, "drifted" if f.drifted else "stable"] for f in feats],
                hovertemplate="%{x}: %{customdata[0]} %{y:.3f}, %{customdata[1]} adjusted p %{customdata[2]:.2g} (%{customdata[3]})<extra></extra>")
    fig.add_scatter(name="threshold", x=names, y=[f.effect_threshold for f in feats], mode="markers",
                    marker=dict(symbol="line-ew-open", size=26, line=dict(width=3, color=STATUS_COLOURS["warn"])))
    fig.update_yaxes(title="effect size", rangemode="tozero")
    fig.update_xaxes(type="category")
    return layout(fig, f"Drift per feature: {data.n_drifted} of {data.n_features} drifted")


def distribution_chart(fd, *, reference: str = "reference", current: str = "current") -> go.Figure:
    """Reference and current shares of one column's bins (or categories)."""
    fig = go.Figure()
    bins = safe_all(fd.bins)  # categories of a categorical column are the user's values
    fig.add_bar(name=safe(f"{reference} ({fd.n_reference:,})"), x=bins, y=list(fd.reference_share), marker_color=TRAIN_COLOUR)
    fig.add_bar(name=safe(f"{current} ({fd.n_current:,})"), x=bins, y=list(fd.current_share), marker_color=TEST_COLOUR)
    fig.update_yaxes(title="share of rows", tickformat=".0%")
    fig.update_xaxes(type="category")
    return layout(fig, f"{fd.feature}: {fd.test} p = {fd.p_value_adjusted:.2g}, {fd.effect_metric.replace('_', ' ')} {fd.effect_size:.3f}",
                   barmode="group")


def domain_classifier_chart(domain) -> go.Figure:
    """Features that most help a classifier tell current rows from reference rows."""
    feats = list(domain.features)[:15]
    fig = go.Figure(go.Bar(x=[f.importance for f in feats], y=safe_all(f.feature for f in feats), orientation="h",
                           marker_color=[SENSITIVE_COLOUR if f.feature in domain.separating else TEST_COLOUR for f in feats],
                           error_x=dict(type="data", array=nan_to_none(f.std for f in feats), thickness=1.5, width=4)))
    fig.add_vline(x=domain.min_importance, line_dash="dot", line_color=STATUS_COLOURS["warn"])
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="drop in the domain classifier's AUC when shuffled")
    return layout(fig, f"Domain classifier AUC {domain.auc.text()}",
                   height=max(260, 24 * len(feats) + 110))


def performance_shift_chart(shifts) -> go.Figure:
    """Each metric on the reference and the current data, with intervals."""
    shifts = list(shifts)
    names = [metric_name(s.metric) for s in shifts]
    fig = go.Figure()
    ref = [s.reference.value for s in shifts]
    cur = [s.current.value for s in shifts]
    fig.add_scatter(name="reference", x=names, y=nan_to_none(ref), mode="markers", marker=dict(size=11, color=TRAIN_COLOUR),
                    error_y=error_bars(ref, [s.reference.low for s in shifts], [s.reference.high for s in shifts]))
    fig.add_scatter(name="current", x=names, y=nan_to_none(cur), mode="markers", marker=dict(size=11, color=TEST_COLOUR),
                    error_y=error_bars(cur, [s.current.low for s in shifts], [s.current.high for s in shifts]))
    return layout(fig, "Model performance: reference vs current", height=340)
