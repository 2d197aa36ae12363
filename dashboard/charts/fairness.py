"""Fairness charts: per-group metrics, disparities, the four-fifths rule, mitigation trade-off,
representation and proxies; and the display names of group metrics and disparities."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.charts.base import (
    SENSITIVE_COLOUR,
    STATUS_COLOURS,
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

GROUP_METRICS = {"selection_rate": "Selection rate", "base_rate": "Base rate", "tpr": "True positive rate",
                 "fpr": "False positive rate", "fnr": "False negative rate", "precision": "Precision",
                 "mae": "Mean absolute error", "mean_prediction": "Mean prediction", "mean_target": "Mean target"}
DISPARITY_NAMES = {"demographic_parity_difference": "Demographic parity difference", "demographic_parity_ratio": "Demographic parity ratio",
                   "equalized_odds_difference": "Equalized odds difference", "equalized_odds_ratio": "Equalized odds ratio",
                   "equal_opportunity_difference": "Equal opportunity difference", "predictive_parity_difference": "Predictive parity difference"}


def disparity_name(key: str) -> str:
    """Display name of a group metric or a disparity ("mae_difference" -> "Mean absolute error difference")."""
    if key in DISPARITY_NAMES or key in GROUP_METRICS:
        return DISPARITY_NAMES.get(key) or GROUP_METRICS[key]
    for suffix in ("_difference", "_ratio"):
        if key.endswith(suffix):
            base = key[: -len(suffix)]
            return f"{GROUP_METRICS.get(base) or metric_name(base)} {suffix[1:]}"
    return metric_name(key)


def group_metric_names(fair, key: str) -> list[str]:
    """The per-group metrics the report holds for a grouping, in report order."""
    return list(dict.fromkeys(m for r in fair.groups.get(key, ()) for m in r.metrics))


def disparity_names(fair, key: str) -> list[str]:
    """The disparities the report holds for a grouping (differences first)."""
    names = list(fair.disparities_adequate.get(key, {}) or fair.disparities.get(key, {}))
    return sorted(names, key=lambda n: not n.endswith("difference"))


def group_metrics_chart(fair, key: str, metrics: Sequence[str] = ("selection_rate", "tpr", "fpr")) -> go.Figure:
    """Each group's metrics with bootstrap intervals; groups below the minimum size are drawn hollow."""
    rows = list(fair.groups[key])
    fig = go.Figure()
    palette = [TEST_COLOUR, VAL_COLOUR, SENSITIVE_COLOUR, "#00838f", "#6d4c41", TRAIN_COLOUR]
    for metric, colour in zip(metrics, palette):
        vals = [r.metrics[metric].value if metric in r.metrics else None for r in rows]
        fig.add_scatter(
            name=safe(GROUP_METRICS.get(metric, metric)), x=safe_all(r.group for r in rows), y=nan_to_none(vals), mode="markers",
            marker=dict(size=11, color=colour, symbol=["circle" if r.adequate else "circle-open" for r in rows]),
            error_y=error_bars(vals, [r.metrics[metric].low if metric in r.metrics else None for r in rows],
                         [r.metrics[metric].high if metric in r.metrics else None for r in rows]),
            customdata=[[r.count, "" if r.adequate else " (below the minimum size: not in verdicts)"] for r in rows],
            hovertemplate="%{x}: %{y:.3f} (%{customdata[0]} test rows%{customdata[1]})<extra>" + safe(GROUP_METRICS.get(metric, metric)) + "</extra>",
        )
        if metric in fair.overall and finite(fair.overall[metric]):
            fig.add_hline(y=fair.overall[metric], line_dash="dot", line_color=colour, opacity=0.6)
    fig.update_layout(scattermode="group")
    fig.update_xaxes(type="category", title=safe(key))
    if fair.task == "binary":
        fig.update_yaxes(title="rate", range=[0, 1.02])
    return layout(fig, f"Metrics by {key} ({fair.confidence:.0%} bootstrap intervals; dotted: all rows)", height=420)


def disparity_chart(fair, key: str, *, adequate_only: bool = True) -> go.Figure:
    """Every disparity of one grouping with its interval (differences: 0 = parity; ratios: 1 = parity)."""
    table = (fair.disparities_adequate if adequate_only else fair.disparities).get(key, {})
    names = list(table)
    vals = [table[n].value for n in names]
    fig = go.Figure(go.Scatter(
        x=nan_to_none(vals), y=safe_all(disparity_name(n) for n in names), mode="markers", marker=dict(size=11, color=SENSITIVE_COLOUR),
        error_x=error_bars(vals, [table[n].low for n in names], [table[n].high for n in names]),
    ))
    fig.add_vline(x=0, line_color=TRAIN_COLOUR)
    fig.add_vline(x=1, line_color=TRAIN_COLOUR, line_dash="dot")
    for name, limit in getattr(fair, "thresholds", {}).items():
        if name in table:
            fig.add_shape(type="line", x0=limit, x1=limit, yref="y", y0=names.index(name) - 0.4, y1=names.index(name) + 0.4,
                          line=dict(color=STATUS_COLOURS["warn"], dash="dash", width=2))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, f"Disparities by {key}" + (" (groups of adequate size)" if adequate_only else ""),
                   height=max(260, 42 * len(names) + 110))


def four_fifths_chart(ff, key: str) -> go.Figure:
    """Each group's selection rate as a ratio of the reference group's, against the four-fifths line."""
    groups = list(ff.ratios)
    ratios = [ff.ratios[g] for g in groups]
    fig = go.Figure(go.Bar(x=safe_all(groups), y=nan_to_none(ratios),
                           marker_color=[STATUS_COLOURS["fail"] if g in ff.failing_groups else TEST_COLOUR for g in groups]))
    fig.add_hline(y=ff.threshold, line_dash="dash", line_color=STATUS_COLOURS["warn"], annotation_text=f"{ff.threshold:g}")
    fig.update_xaxes(type="category", title=safe(key))
    fig.update_yaxes(title=safe(f"selection rate / that of {ff.reference_group}"), rangemode="tozero")
    return layout(fig, f"Four-fifths rule by {key}: " + ("passes" if ff.passes else f"fails for {len(ff.failing_groups)} group(s)"))


def tradeoff_chart(fair, key: str, *, disparity: str = "demographic_parity_difference", metric: str | None = None) -> go.Figure:
    """Accuracy against a disparity for the audited model, the unaware model and each mitigation."""
    variants = [v for v in (*fair.mitigations, fair.unawareness) if v is not None and v.status == "done"]
    if metric is None:  # accuracy for classification, R² (or the first metric held) for regression
        held = [m for v in variants for m in v.metrics]
        metric = next((m for m in ("accuracy", "r2") if m in held), held[0] if held else "accuracy")
    xs, ys, xl, xh, yl, yh, labels, colours = [], [], [], [], [], [], [], []
    for v in variants:
        d = v.disparities.get(key, {}).get(disparity)
        m = v.metrics.get(metric)
        if d is None or m is None:
            continue
        xs.append(d.value), xl.append(d.low), xh.append(d.high)
        ys.append(m.value), yl.append(m.low), yh.append(m.high)
        labels.append(v.label)
        colours.append(STATUS_COLOURS["pass"] if v.name == "unmitigated" else TRAIN_COLOUR if v.name == "unaware" else TEST_COLOUR)
    fig = go.Figure(go.Scatter(
        x=nan_to_none(xs), y=nan_to_none(ys), mode="markers+text", text=safe_all(labels), textposition="top center",
        marker=dict(size=12, color=colours), error_x=error_bars(xs, xl, xh), error_y=error_bars(ys, yl, yh),
        hovertemplate="%{text}: " + safe(disparity_name(disparity)) + " %{x:.3f}, " + safe(metric_name(metric)) + " %{y:.3f}<extra></extra>",
    ))
    fig.update_xaxes(title=safe(f"{disparity_name(disparity)} by {key} (lower is fairer)"), zeroline=True)
    fig.update_yaxes(title=safe(f"{metric_name(metric)} (test)"))
    return layout(fig, "Accuracy-fairness trade-off of the mitigations", height=480)


def representation_chart(fair, key: str) -> go.Figure:
    """Each group's share of the data (and of the train / test splits) with its label base rate."""
    rows = list(fair.representation[key])
    groups = safe_all(r.group for r in rows)
    fig = go.Figure()
    fig.add_bar(name="share of the data", x=groups, y=[r.share for r in rows], marker_color=TEST_COLOUR)
    fig.add_bar(name="share of train", x=groups, y=[r.share_train for r in rows], marker_color=TRAIN_COLOUR)
    fig.add_bar(name="share of test", x=groups, y=[r.share_test for r in rows], marker_color=VAL_COLOUR)
    fig.add_scatter(name="base rate (positive labels)", x=groups, y=nan_to_none(r.base_rate for r in rows), mode="markers",
                    marker=dict(size=12, symbol="diamond", color=SENSITIVE_COLOUR))
    fig.update_xaxes(type="category", title=safe(key))
    fig.update_yaxes(title="share", tickformat=".0%", rangemode="tozero")
    return layout(fig, f"Representation and base rates by {key}", barmode="group")


def proxy_chart(fair) -> go.Figure:
    """How well each feature alone predicts each sensitive attribute (the report's proxy metric)."""
    sens = list(dict.fromkeys(r.sensitive for r in fair.proxies))
    feats = list(dict.fromkeys(r.feature for r in fair.proxies if not r.feature_is_sensitive))
    cell = {(r.sensitive, r.feature): getattr(r, fair.proxy_metric) for r in fair.proxies}
    z = [[cell.get((s, f)) for f in feats] for s in sens]
    fig = go.Figure(go.Heatmap(z=[nan_to_none(row) for row in z], x=safe_all(feats), y=safe_all(sens), colorscale="Reds", zmin=0,
                               zmax=max(1.0, fair.proxy_threshold), colorbar=dict(title=safe(fair.proxy_metric.replace("_", " "))),
                               text=[["proxy" if (v is not None and finite(v) and v >= fair.proxy_threshold) else "" for v in row] for row in z],
                               texttemplate="%{text}", hovertemplate="%{y} from %{x}: %{z:.3f}<extra></extra>"))
    fig.update_xaxes(type="category")
    return layout(fig, f"Proxies: {fair.proxy_metric.replace('_', ' ')} (flagged at {fair.proxy_threshold:g})",
                   height=max(220, 50 * len(sens) + 150))
