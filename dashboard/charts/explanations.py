"""Explanation charts: global SHAP importance, beeswarm, one row's waterfall, dependence, permutation
importance and the features behind a gap between groups."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from dashboard.charts.base import (
    SENSITIVE_COLOUR,
    TEST_COLOUR,
    TRAIN_COLOUR,
    VAL_COLOUR,
    error_bars,
    finite,
    layout,
    metric_name,
    nan_to_none,
    safe,
    safe_all,
)


def shap_bar_chart(expl, *, top: int = 15) -> go.Figure:
    """Global importance: mean |SHAP| per original feature; sensitive attributes in red."""
    imp = sorted(expl.importance, key=lambda f: f.rank)[:top]
    fig = go.Figure(go.Bar(
        x=[f.mean_abs_shap for f in imp], y=safe_all(f.feature for f in imp), orientation="h",
        marker_color=[SENSITIVE_COLOUR if f.sensitive else TEST_COLOUR for f in imp],
        customdata=[[f.mean_shap, "sensitive" if f.sensitive else ""] for f in imp],
        hovertemplate="%{y}: mean |SHAP| %{x:.4f}, mean SHAP %{customdata[0]:.4f} %{customdata[1]}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=f"mean |SHAP value| ({expl.output_space.replace('_', ' ')})")
    return layout(fig, f"Global importance over {expl.n_explained:,} rows", height=max(280, 24 * len(imp) + 110))


def _jitter(i: int) -> float:
    """A fixed, evenly spread vertical offset for the i-th point (golden-ratio sequence): layout only."""
    return ((i * 0.6180339887) % 1.0 - 0.5) * 0.7


def shap_beeswarm_chart(expl, *, top: int = 10) -> go.Figure:
    """Every explained row's SHAP value per feature, coloured by the feature's value (low blue, high red)."""
    order = [f.feature for f in sorted(expl.importance, key=lambda f: f.rank)[:top]]
    by_name = {fv.feature: fv for fv in expl.beeswarm}
    fig = go.Figure()
    for pos, name in enumerate(order):
        fv = by_name.get(name)
        if fv is None:
            continue
        vals = [v if finite(v) else None for v in fv.values]
        present = [v for v in vals if v is not None]
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        span = (hi - lo) or 1.0
        # Category codes have no order: those points stay neutral (the hover names the category).
        colour = [None if v is None or fv.categories else (v - lo) / span for v in vals]
        shown = [fv.categories[int(v)] if fv.categories and v is not None and 0 <= int(v) < len(fv.categories)
                 else ("missing" if v is None else f"{v:g}") for v in vals]
        fig.add_scatter(
            x=nan_to_none(fv.shap), y=[pos + _jitter(i) for i in range(len(fv.shap))], mode="markers", name=safe(name),
            marker=dict(size=5, color=TRAIN_COLOUR) if fv.categories else
            dict(size=5, color=[c if c is not None else 0.5 for c in colour], colorscale="RdBu_r", cmin=0, cmax=1,
                 showscale=True, colorbar=dict(title="feature value", tickvals=[0, 1], ticktext=["low", "high"])),
            # The feature's name comes through meta, not the template itself: "%{...}" in a name would be a placeholder.
            meta=safe(name), customdata=safe_all(shown),
            hovertemplate="%{meta} = %{customdata}: SHAP %{x:.3f}<extra></extra>", showlegend=False,
        )
    fig.add_vline(x=0, line_color=TRAIN_COLOUR)
    fig.update_yaxes(tickvals=list(range(len(order))), ticktext=safe_all(order), autorange="reversed")
    fig.update_xaxes(title=f"SHAP value ({expl.output_space.replace('_', ' ')})")
    return layout(fig, "SHAP values per row (beeswarm)", height=max(320, 34 * len(order) + 120))


def row_contributions(expl, row: int) -> list[tuple[str, str, float]]:
    """(feature, shown value, SHAP) of one explained row, read from the beeswarm arrays."""
    out = []
    for fv in expl.beeswarm:
        v = fv.values[row]
        if fv.categories and finite(v) and 0 <= int(v) < len(fv.categories):
            shown = fv.categories[int(v)]
        else:
            shown = f"{v:g}" if finite(v) else "missing"
        out.append((fv.feature, shown, fv.shap[row]))
    return out


def _base(expl, row: int) -> float:
    """The row's base value: multiclass rows explain their predicted class, whose base value differs."""
    return expl.row_base_values[row] if expl.row_base_values else expl.base_value


def shap_waterfall_chart(expl, row: int, *, top: int = 12) -> go.Figure:
    """Local explanation of one explained row: from the base value to the model output, feature by feature."""
    contrib = sorted(row_contributions(expl, row), key=lambda c: -abs(c[2]) if finite(c[2]) else 0)
    if len(contrib) <= top + 1:
        top = len(contrib)
    shown, rest = contrib[:top], contrib[top:]
    labels = [safe(f"{f} = {v}") for f, v, _ in shown]
    values = [s if finite(s) else 0.0 for _, _, s in shown]
    if rest:
        labels.append(f"{len(rest)} other features")
        values.append(sum(s for _, _, s in rest if finite(s)))
    fig = go.Figure(go.Waterfall(
        orientation="h", y=["base value", *labels, "model output"], x=[_base(expl, row), *values, expl.outputs[row]],
        measure=["absolute", *["relative"] * len(values), "total"],
        increasing=dict(marker_color=SENSITIVE_COLOUR), decreasing=dict(marker_color=TEST_COLOUR),
        totals=dict(marker_color=TRAIN_COLOUR), connector=dict(line=dict(color="#bbb", width=1)),
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=expl.output_space.replace("_", " "))
    return layout(fig, f"Why the model scored row {expl.data_rows[row]} as it did", height=max(320, 28 * len(labels) + 150))


def dependence_chart(dep) -> go.Figure:
    """Mean SHAP value of a feature per bin (or category), with the interval the report gives."""
    bins = list(dep.bins)
    vals = [b.mean_shap for b in bins]
    x = safe_all(b.label for b in bins)
    fig = go.Figure(go.Scatter(
        x=x, y=nan_to_none(vals), mode="lines+markers" if dep.kind == "numeric" else "markers",
        marker=dict(size=[6 + 3 * math.log1p(b.count) for b in bins], color=TEST_COLOUR),
        error_y=error_bars(vals, [b.low for b in bins], [b.high for b in bins]),
        customdata=[b.count for b in bins], hovertemplate="%{x}: mean SHAP %{y:.3f} (%{customdata} rows)<extra></extra>",
    ))
    fig.add_hline(y=0, line_color=TRAIN_COLOUR)
    fig.update_xaxes(title=safe(dep.feature), type="category")
    fig.update_yaxes(title="SHAP value")
    title = f"Dependence on {dep.feature}" + (f" (strongest interaction: {dep.interaction})" if dep.interaction else "")
    return layout(fig, title)


def permutation_chart(perm, *, top: int = 15) -> go.Figure:
    """Drop in the test metric when each feature is shuffled, with the spread over repeats."""
    feats = list(perm.features)[:top]
    fig = go.Figure(go.Bar(
        x=[f.mean for f in feats], y=safe_all(f.feature for f in feats), orientation="h", marker_color=VAL_COLOUR,
        error_x=dict(type="data", array=nan_to_none(f.std for f in feats), thickness=1.5, width=4),
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=f"drop in {metric_name(perm.metric)} ({perm.n_repeats} repeats on {perm.n_rows:,} rows)")
    return layout(fig, "Permutation importance", height=max(280, 24 * len(feats) + 110))


def group_gap_chart(gap, *, top: int = 10) -> go.Figure:
    """Which features explain the gap in mean model output between two groups."""
    contrib = list(gap.contributions)[:top]
    fig = go.Figure(go.Bar(
        x=[c.contribution for c in contrib], y=safe_all(c.feature for c in contrib), orientation="h",
        marker_color=[SENSITIVE_COLOUR if c.contribution > 0 else TEST_COLOUR for c in contrib],
        customdata=[c.share for c in contrib], hovertemplate="%{y}: %{x:.3f} (%{customdata:.0%} of the gap)<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="contribution to the gap in mean output")
    return layout(fig, f"{gap.attribute}: {gap.high_group} vs {gap.low_group}, gap {gap.gap:.3f}",
                   height=max(260, 26 * len(contrib) + 110))
