"""Robustness charts: perturbation curves, evasion attacks by budget, flip tests."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.charts.base import SENSITIVE_COLOUR, STATUS_COLOURS, TEST_COLOUR, TRAIN_COLOUR, VAL_COLOUR, layout, metric_name, nan_to_none, safe, safe_all


def perturbation_chart(curves, *, metric: str) -> go.Figure:
    """The metric (left axis) and the share of flipped decisions (right axis) as each perturbation grows.

    One figure with a panel per perturbation: one chart draws faster in the browser than three.
    """
    from plotly.subplots import make_subplots

    curves = list(curves)
    titles = [safe(f"{c.name.replace('_', ' ').capitalize()} ({c.repeats}×{c.n_rows:,} rows)") for c in curves]
    fig = make_subplots(rows=1, cols=len(curves), subplot_titles=titles, specs=[[{"secondary_y": True}] * len(curves)],
                        horizontal_spacing=0.09)
    for i, curve in enumerate(curves, start=1):
        pts = list(curve.points)
        x = [p.level for p in pts]
        fig.add_scatter(name=metric_name(metric), x=x, y=nan_to_none(p.metric for p in pts), mode="lines+markers",
                        line=dict(color=TEST_COLOUR), legendgroup="metric", showlegend=i == 1, row=1, col=i, secondary_y=False)
        fig.add_scatter(name="decisions flipped", x=x, y=nan_to_none(p.flip_rate for p in pts), mode="lines+markers",
                        line=dict(color=SENSITIVE_COLOUR, dash="dot"), legendgroup="flip", showlegend=i == 1,
                        row=1, col=i, secondary_y=True)
        fig.update_xaxes(title_text=safe(curve.unit), row=1, col=i)
        fig.update_yaxes(title_text=metric_name(metric) if i == 1 else None, row=1, col=i, secondary_y=False)
        fig.update_yaxes(title_text="flip rate" if i == len(curves) else None, tickformat=".0%", rangemode="tozero",
                         row=1, col=i, secondary_y=True)
    fig.update_annotations(font_size=13)
    return layout(fig, "Perturbations", height=400)


def attack_chart(attacks, *, thresholds=None) -> go.Figure:
    """Share of attacked rows whose decision an attack flips within each perturbation budget."""
    fig = go.Figure()
    for res, colour in ((attacks.decision_based, SENSITIVE_COLOUR), (attacks.gradient, VAL_COLOUR)):
        if res is None:
            continue
        pts = list(res.success_by_budget)
        fig.add_scatter(name=safe(f"{res.name} ({res.kind})"), x=[p.budget for p in pts], y=nan_to_none(p.success_rate for p in pts),
                        mode="lines+markers", line=dict(color=colour))
    th = dict(thresholds or {})
    if "verdict_budget" in th:
        fig.add_vline(x=th["verdict_budget"], line_dash="dash", line_color=TRAIN_COLOUR, annotation_text="verdict budget")
    for key, colour in (("warn_attack_success", STATUS_COLOURS["warn"]), ("fail_attack_success", STATUS_COLOURS["fail"])):
        if key in th:
            fig.add_hline(y=th[key], line_dash="dot", line_color=colour, annotation_text=key.split("_")[0])
    fig.update_xaxes(title=safe(f"budget ({attacks.norm}, standard deviations)"))
    fig.update_yaxes(title="attack success rate", tickformat=".0%", range=[0, 1.02])
    return layout(fig, f"Evasion attacks on {attacks.n_rows:,} test rows")


def flip_test_chart(flip, *, warn: float | None = None, fail: float | None = None) -> go.Figure:
    """Share of each group's decisions that change when only ``flip.column`` is changed."""
    groups = list(flip.groups)
    fig = go.Figure(go.Bar(
        x=safe_all(g.group for g in groups), y=[g.flip_rate for g in groups],
        marker_color=[TRAIN_COLOUR if g.small else TEST_COLOUR for g in groups],
        customdata=[[g.n, " (small group)" if g.small else ""] for g in groups],
        hovertemplate="%{x}: %{y:.1%} of %{customdata[0]} rows flip%{customdata[1]}<extra></extra>",
    ))
    for value, colour, text in ((warn, STATUS_COLOURS["warn"], "warn"), (fail, STATUS_COLOURS["fail"], "fail")):
        if value is not None:
            fig.add_hline(y=value, line_dash="dot", line_color=colour, annotation_text=text)
    fig.update_yaxes(title="decisions flipped", tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(title=safe(f"group of {flip.sensitive}"), type="category")
    return layout(fig, f"Changing {flip.column} ({flip.role}): {flip.flip_rate:.1%} of decisions flip")
