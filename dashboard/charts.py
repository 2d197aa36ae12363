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
    """Share of missing values per column that has any."""
    cols = sorted((c for c in schema if c.missing > 0), key=lambda c: c.missing)
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


# -- explanations ---------------------------------------------------------------------

SENSITIVE_COLOUR = "#c62828"


def shap_bar_chart(expl, *, top: int = 15) -> go.Figure:
    """Global importance: mean |SHAP| per original feature; sensitive attributes in red."""
    imp = sorted(expl.importance, key=lambda f: f.rank)[:top]
    fig = go.Figure(go.Bar(
        x=[f.mean_abs_shap for f in imp], y=[f.feature for f in imp], orientation="h",
        marker_color=[SENSITIVE_COLOUR if f.sensitive else TEST_COLOUR for f in imp],
        customdata=[[f.mean_shap, "sensitive" if f.sensitive else ""] for f in imp],
        hovertemplate="%{y}: mean |SHAP| %{x:.4f}, mean SHAP %{customdata[0]:.4f} %{customdata[1]}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=f"mean |SHAP value| ({expl.output_space.replace('_', ' ')})")
    return _layout(fig, f"Global importance over {expl.n_explained:,} rows", height=max(280, 24 * len(imp) + 110))


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
        vals = [v if _finite(v) else None for v in fv.values]
        finite = [v for v in vals if v is not None]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        span = (hi - lo) or 1.0
        # Category codes have no order: those points stay neutral (the hover names the category).
        colour = [None if v is None or fv.categories else (v - lo) / span for v in vals]
        shown = [fv.categories[int(v)] if fv.categories and v is not None and 0 <= int(v) < len(fv.categories)
                 else ("missing" if v is None else f"{v:g}") for v in vals]
        fig.add_scatter(
            x=_nan_to_none(fv.shap), y=[pos + _jitter(i) for i in range(len(fv.shap))], mode="markers", name=name,
            marker=dict(size=5, color=TRAIN_COLOUR) if fv.categories else
            dict(size=5, color=[c if c is not None else 0.5 for c in colour], colorscale="RdBu_r", cmin=0, cmax=1,
                 showscale=True, colorbar=dict(title="feature value", tickvals=[0, 1], ticktext=["low", "high"])),
            customdata=shown, hovertemplate=f"{name} = %{{customdata}}: SHAP %{{x:.3f}}<extra></extra>", showlegend=False,
        )
    fig.add_vline(x=0, line_color=TRAIN_COLOUR)
    fig.update_yaxes(tickvals=list(range(len(order))), ticktext=order, autorange="reversed")
    fig.update_xaxes(title=f"SHAP value ({expl.output_space.replace('_', ' ')})")
    return _layout(fig, "SHAP values per row (beeswarm)", height=max(320, 34 * len(order) + 120))


def row_contributions(expl, row: int) -> list[tuple[str, str, float]]:
    """(feature, shown value, SHAP) of one explained row, read from the beeswarm arrays."""
    out = []
    for fv in expl.beeswarm:
        v = fv.values[row]
        if fv.categories and _finite(v) and 0 <= int(v) < len(fv.categories):
            shown = fv.categories[int(v)]
        else:
            shown = f"{v:g}" if _finite(v) else "missing"
        out.append((fv.feature, shown, fv.shap[row]))
    return out


def shap_waterfall_chart(expl, row: int, *, top: int = 12) -> go.Figure:
    """Local explanation of one explained row: from the base value to the model output, feature by feature."""
    contrib = sorted(row_contributions(expl, row), key=lambda c: -abs(c[2]) if _finite(c[2]) else 0)
    if len(contrib) <= top + 1:
        top = len(contrib)
    shown, rest = contrib[:top], contrib[top:]
    labels = [f"{f} = {v}" for f, v, _ in shown]
    values = [s if _finite(s) else 0.0 for _, _, s in shown]
    if rest:
        labels.append(f"{len(rest)} other features")
        values.append(sum(s for _, _, s in rest if _finite(s)))
    fig = go.Figure(go.Waterfall(
        orientation="h", y=["base value", *labels, "model output"], x=[expl.base_value, *values, expl.outputs[row]],
        measure=["absolute", *["relative"] * len(values), "total"],
        increasing=dict(marker_color=SENSITIVE_COLOUR), decreasing=dict(marker_color=TEST_COLOUR),
        totals=dict(marker_color=TRAIN_COLOUR), connector=dict(line=dict(color="#bbb", width=1)),
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=expl.output_space.replace("_", " "))
    return _layout(fig, f"Why the model scored row {expl.data_rows[row]} as it did", height=max(320, 28 * len(labels) + 150))


def dependence_chart(dep) -> go.Figure:
    """Mean SHAP value of a feature per bin (or category), with the interval the report gives."""
    bins = list(dep.bins)
    vals = [b.mean_shap for b in bins]
    x = [b.label for b in bins]
    fig = go.Figure(go.Scatter(
        x=x, y=_nan_to_none(vals), mode="lines+markers" if dep.kind == "numeric" else "markers",
        marker=dict(size=[6 + 3 * math.log1p(b.count) for b in bins], color=TEST_COLOUR),
        error_y=_err(vals, [b.low for b in bins], [b.high for b in bins]),
        customdata=[b.count for b in bins], hovertemplate="%{x}: mean SHAP %{y:.3f} (%{customdata} rows)<extra></extra>",
    ))
    fig.add_hline(y=0, line_color=TRAIN_COLOUR)
    fig.update_xaxes(title=dep.feature, type="category")
    fig.update_yaxes(title="SHAP value")
    title = f"Dependence on {dep.feature}" + (f" (strongest interaction: {dep.interaction})" if dep.interaction else "")
    return _layout(fig, title)


def permutation_chart(perm, *, top: int = 15) -> go.Figure:
    """Drop in the test metric when each feature is shuffled, with the spread over repeats."""
    feats = list(perm.features)[:top]
    fig = go.Figure(go.Bar(
        x=[f.mean for f in feats], y=[f.feature for f in feats], orientation="h", marker_color=VAL_COLOUR,
        error_x=dict(type="data", array=_nan_to_none(f.std for f in feats), thickness=1.5, width=4),
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=f"drop in {metric_name(perm.metric)} ({perm.n_repeats} repeats on {perm.n_rows:,} rows)")
    return _layout(fig, "Permutation importance", height=max(280, 24 * len(feats) + 110))


def group_gap_chart(gap, *, top: int = 10) -> go.Figure:
    """Which features explain the gap in mean model output between two groups."""
    contrib = list(gap.contributions)[:top]
    fig = go.Figure(go.Bar(
        x=[c.contribution for c in contrib], y=[c.feature for c in contrib], orientation="h",
        marker_color=[SENSITIVE_COLOUR if c.contribution > 0 else TEST_COLOUR for c in contrib],
        customdata=[c.share for c in contrib], hovertemplate="%{y}: %{x:.3f} (%{customdata:.0%} of the gap)<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="contribution to the gap in mean output")
    return _layout(fig, f"{gap.attribute}: {gap.high_group} vs {gap.low_group}, gap {gap.gap:.3f}",
                   height=max(260, 26 * len(contrib) + 110))


# -- robustness -----------------------------------------------------------------------


def perturbation_chart(curves, *, metric: str) -> go.Figure:
    """The metric (left axis) and the share of flipped decisions (right axis) as each perturbation grows.

    One figure with a panel per perturbation: one chart draws faster in the browser than three.
    """
    from plotly.subplots import make_subplots

    curves = list(curves)
    titles = [f"{c.name.replace('_', ' ').capitalize()} ({c.repeats}×{c.n_rows:,} rows)" for c in curves]
    fig = make_subplots(rows=1, cols=len(curves), subplot_titles=titles, specs=[[{"secondary_y": True}] * len(curves)],
                        horizontal_spacing=0.09)
    for i, curve in enumerate(curves, start=1):
        pts = list(curve.points)
        x = [p.level for p in pts]
        fig.add_scatter(name=metric_name(metric), x=x, y=_nan_to_none(p.metric for p in pts), mode="lines+markers",
                        line=dict(color=TEST_COLOUR), legendgroup="metric", showlegend=i == 1, row=1, col=i, secondary_y=False)
        fig.add_scatter(name="decisions flipped", x=x, y=_nan_to_none(p.flip_rate for p in pts), mode="lines+markers",
                        line=dict(color=SENSITIVE_COLOUR, dash="dot"), legendgroup="flip", showlegend=i == 1,
                        row=1, col=i, secondary_y=True)
        fig.update_xaxes(title_text=curve.unit, row=1, col=i)
        fig.update_yaxes(title_text=metric_name(metric) if i == 1 else None, row=1, col=i, secondary_y=False)
        fig.update_yaxes(title_text="flip rate" if i == len(curves) else None, tickformat=".0%", rangemode="tozero",
                         row=1, col=i, secondary_y=True)
    fig.update_annotations(font_size=13)
    return _layout(fig, "Perturbations", height=400)


def attack_chart(attacks, *, thresholds=None) -> go.Figure:
    """Share of attacked rows whose decision an attack flips within each perturbation budget."""
    fig = go.Figure()
    for res, colour in ((attacks.decision_based, SENSITIVE_COLOUR), (attacks.gradient, VAL_COLOUR)):
        if res is None:
            continue
        pts = list(res.success_by_budget)
        fig.add_scatter(name=f"{res.name} ({res.kind})", x=[p.budget for p in pts], y=_nan_to_none(p.success_rate for p in pts),
                        mode="lines+markers", line=dict(color=colour))
    th = dict(thresholds or {})
    if "verdict_budget" in th:
        fig.add_vline(x=th["verdict_budget"], line_dash="dash", line_color=TRAIN_COLOUR, annotation_text="verdict budget")
    for key, colour in (("warn_attack_success", STATUS_COLOURS["warn"]), ("fail_attack_success", STATUS_COLOURS["fail"])):
        if key in th:
            fig.add_hline(y=th[key], line_dash="dot", line_color=colour, annotation_text=key.split("_")[0])
    fig.update_xaxes(title=f"budget ({attacks.norm}, standard deviations)")
    fig.update_yaxes(title="attack success rate", tickformat=".0%", range=[0, 1.02])
    return _layout(fig, f"Evasion attacks on {attacks.n_rows:,} test rows")


def flip_test_chart(flip, *, warn: float | None = None, fail: float | None = None) -> go.Figure:
    """Share of each group's decisions that change when only ``flip.column`` is changed."""
    groups = list(flip.groups)
    fig = go.Figure(go.Bar(
        x=[g.group for g in groups], y=[g.flip_rate for g in groups],
        marker_color=[TRAIN_COLOUR if g.small else TEST_COLOUR for g in groups],
        customdata=[[g.n, " (small group)" if g.small else ""] for g in groups],
        hovertemplate="%{x}: %{y:.1%} of %{customdata[0]} rows flip%{customdata[1]}<extra></extra>",
    ))
    for value, colour, text in ((warn, STATUS_COLOURS["warn"], "warn"), (fail, STATUS_COLOURS["fail"], "fail")):
        if value is not None:
            fig.add_hline(y=value, line_dash="dot", line_color=colour, annotation_text=text)
    fig.update_yaxes(title="decisions flipped", tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(title=f"group of {flip.sensitive}", type="category")
    return _layout(fig, f"Changing {flip.column} ({flip.role}): {flip.flip_rate:.1%} of decisions flip")


# -- drift ----------------------------------------------------------------------------


def feature_drift_chart(data) -> go.Figure:
    """Effect size per feature against its threshold; drifted features in red."""
    feats = sorted(data.features, key=lambda f: -(f.effect_size if _finite(f.effect_size) else 0))
    fig = go.Figure()
    fig.add_bar(name="effect size", x=[f.feature for f in feats], y=_nan_to_none(f.effect_size for f in feats),
                marker_color=[SENSITIVE_COLOUR if f.drifted else TEST_COLOUR for f in feats],
                customdata=[[f.effect_metric.replace("_", " "), f.test, f.p_value_adjusted, "drifted" if f.drifted else "stable"] for f in feats],
                hovertemplate="%{x}: %{customdata[0]} %{y:.3f}, %{customdata[1]} adjusted p %{customdata[2]:.2g} (%{customdata[3]})<extra></extra>")
    fig.add_scatter(name="threshold", x=[f.feature for f in feats], y=[f.effect_threshold for f in feats], mode="markers",
                    marker=dict(symbol="line-ew-open", size=26, line=dict(width=3, color=STATUS_COLOURS["warn"])))
    fig.update_yaxes(title="effect size", rangemode="tozero")
    fig.update_xaxes(type="category")
    return _layout(fig, f"Drift per feature: {data.n_drifted} of {data.n_features} drifted")


def distribution_chart(fd, *, reference: str = "reference", current: str = "current") -> go.Figure:
    """Reference and current shares of one column's bins (or categories)."""
    fig = go.Figure()
    fig.add_bar(name=f"{reference} ({fd.n_reference:,})", x=list(fd.bins), y=list(fd.reference_share), marker_color=TRAIN_COLOUR)
    fig.add_bar(name=f"{current} ({fd.n_current:,})", x=list(fd.bins), y=list(fd.current_share), marker_color=TEST_COLOUR)
    fig.update_yaxes(title="share of rows", tickformat=".0%")
    fig.update_xaxes(type="category")
    return _layout(fig, f"{fd.feature}: {fd.test} p = {fd.p_value_adjusted:.2g}, {fd.effect_metric.replace('_', ' ')} {fd.effect_size:.3f}",
                   barmode="group")


def domain_classifier_chart(domain) -> go.Figure:
    """Features that most help a classifier tell current rows from reference rows."""
    feats = list(domain.features)[:15]
    fig = go.Figure(go.Bar(x=[f.importance for f in feats], y=[f.feature for f in feats], orientation="h",
                           marker_color=[SENSITIVE_COLOUR if f.feature in domain.separating else TEST_COLOUR for f in feats],
                           error_x=dict(type="data", array=_nan_to_none(f.std for f in feats), thickness=1.5, width=4)))
    fig.add_vline(x=domain.min_importance, line_dash="dot", line_color=STATUS_COLOURS["warn"])
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="drop in the domain classifier's AUC when shuffled")
    return _layout(fig, f"Domain classifier AUC {domain.auc:.3f} [{domain.ci_low:.3f}, {domain.ci_high:.3f}]",
                   height=max(260, 24 * len(feats) + 110))


def performance_shift_chart(shifts) -> go.Figure:
    """Each metric on the reference and the current data, with intervals."""
    shifts = list(shifts)
    names = [metric_name(s.metric) for s in shifts]
    fig = go.Figure()
    ref = [s.reference for s in shifts]
    cur = [s.current for s in shifts]
    fig.add_scatter(name="reference", x=names, y=_nan_to_none(ref), mode="markers", marker=dict(size=11, color=TRAIN_COLOUR),
                    error_y=_err(ref, [s.reference_ci_low for s in shifts], [s.reference_ci_high for s in shifts]))
    fig.add_scatter(name="current", x=names, y=_nan_to_none(cur), mode="markers", marker=dict(size=11, color=TEST_COLOUR),
                    error_y=_err(cur, [s.current_ci_low for s in shifts], [s.current_ci_high for s in shifts]))
    return _layout(fig, "Model performance: reference vs current", height=340)


# -- privacy --------------------------------------------------------------------------


def model_label(m) -> str:
    """Short name of a privacy-section model: "audited", "mlp no DP", "mlp ε=1"."""
    if m.role == "audited":
        return "audited"
    if m.role == "non_private":
        return f"{m.network} no DP"
    return f"{m.network} ε={m.target_epsilon:g}" if _finite(m.target_epsilon) else m.name


def _dp_models(priv, network: str):
    return sorted((m for m in priv.models if m.network == network and m.role == "dp" and _finite(m.epsilon_spent)),
                  key=lambda m: m.epsilon_spent)


def epsilon_accuracy_chart(priv) -> go.Figure:
    """Test accuracy of DP-trained networks against the privacy budget spent, with the non-DP references."""
    fig = go.Figure()
    palette = [TEST_COLOUR, VAL_COLOUR, "#00838f", "#6d4c41"]
    for i, net in enumerate(priv.networks):
        dp = _dp_models(priv, net)
        colour = palette[i % len(palette)]
        fig.add_scatter(name=f"{net} with DP", x=[m.epsilon_spent for m in dp], y=_nan_to_none(m.accuracy for m in dp),
                        mode="lines+markers", line=dict(color=colour),
                        customdata=[[m.noise_multiplier, m.target_epsilon] for m in dp],
                        hovertemplate="epsilon %{x:.2f} (target %{customdata[1]}): accuracy %{y:.3f}, noise %{customdata[0]:.2f}<extra></extra>")
        plain = next((m for m in priv.models if m.network == net and m.role == "non_private"), None)
        if plain is not None and _finite(plain.accuracy):
            fig.add_hline(y=plain.accuracy, line_dash="dot", line_color=colour, annotation_text=f"{net} without DP")
    audited = priv.audited
    if audited is not None and _finite(audited.accuracy):
        fig.add_hline(y=audited.accuracy, line_color=STATUS_COLOURS["pass"], annotation_text="audited model")
        fig.add_hrect(y0=audited.accuracy - priv.accuracy_budget, y1=audited.accuracy, fillcolor=STATUS_COLOURS["pass"],
                      opacity=0.08, line_width=0)
    eps = sorted({round(m.epsilon_spent, 2) for net in priv.networks for m in _dp_models(priv, net)})
    fig.update_xaxes(title=f"epsilon spent (delta {priv.delta:g}, {priv.accountant.upper()} accountant)", type="log",
                     tickvals=eps, ticktext=[f"{e:g}" for e in eps])
    fig.update_yaxes(title="test accuracy")
    return _layout(fig, "Privacy budget vs accuracy")


def group_accuracy_chart(priv, attribute: str) -> go.Figure:
    """Accuracy of each group of ``attribute`` for every model (audited, without DP, each epsilon)."""
    fig = go.Figure()
    names = [model_label(m) for m in priv.models]
    groups: list[str] = []
    for m in priv.models:
        for g in m.groups:
            if g.attribute == attribute:
                groups += [k for k in g.accuracy if k not in groups]
    for grp in groups:
        ys, ns = [], []
        for m in priv.models:
            gm = next((g for g in m.groups if g.attribute == attribute), None)
            ys.append(gm.accuracy.get(grp) if gm is not None else None)
            ns.append(gm.counts.get(grp, 0) if gm is not None else 0)
        fig.add_scatter(name=grp, x=names, y=_nan_to_none(ys), mode="lines+markers", customdata=ns,
                        hovertemplate=f"{grp}: accuracy %{{y:.3f}} (%{{customdata}} rows)<extra></extra>")
    fig.update_yaxes(title="test accuracy")
    fig.update_xaxes(type="category")
    return _layout(fig, f"Accuracy by {attribute} across models", height=400)


def membership_chart(priv) -> go.Figure:
    """Membership-inference attack AUC (with interval) against each model; 0.5 is chance."""
    fig = go.Figure()
    attacks = sorted({a.attack for m in priv.models for a in m.membership})
    for attack, colour in zip(attacks, (SENSITIVE_COLOUR, VAL_COLOUR, TEST_COLOUR, "#00838f")):
        xs, ys, lo, hi = [], [], [], []
        for m in priv.models:
            a = next((a for a in m.membership if a.attack == attack), None)
            if a is None:
                continue
            xs.append(model_label(m))
            ys.append(a.auc)
            lo.append(a.auc_ci_low)
            hi.append(a.auc_ci_high)
        fig.add_scatter(name=attack.replace("_", " "), x=xs, y=_nan_to_none(ys), mode="markers", marker=dict(size=10, color=colour),
                        error_y=_err(ys, lo, hi))
    fig.add_hline(y=0.5, line_dash="dash", line_color=TRAIN_COLOUR, annotation_text="chance")
    for name, colour in (("warn_attack_auc", STATUS_COLOURS["warn"]), ("fail_attack_auc", STATUS_COLOURS["fail"])):
        if name in getattr(priv, "thresholds", {}):
            fig.add_hline(y=priv.thresholds[name], line_dash="dot", line_color=colour,
                          annotation_text=f"{name.split('_')[0]} {priv.thresholds[name]:g}")
    fig.update_yaxes(title="attack AUC")
    fig.update_xaxes(type="category")
    fig.update_layout(scattermode="group")
    return _layout(fig, f"Membership inference ({priv.n_attack_members:,} members, {priv.n_attack_nonmembers:,} non-members)", height=400)


def membership_roc_chart(priv, model_index: int = 0) -> go.Figure:
    """ROC curves of the membership-inference attacks on one model (default: the audited one)."""
    fig = go.Figure()
    m = priv.models[model_index]
    for a, colour in zip(m.membership, (SENSITIVE_COLOUR, VAL_COLOUR, TEST_COLOUR, "#00838f")):
        if not a.roc_fpr:
            continue
        fig.add_scatter(name=f"{a.attack.replace('_', ' ')} (AUC {a.auc:.3f})", x=list(a.roc_fpr), y=list(a.roc_tpr),
                        mode="lines", line=dict(color=colour, shape="hv"),
                        hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}<extra></extra>")
    fig.add_scatter(name="chance", x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color=TRAIN_COLOUR))
    fig.update_xaxes(title="false positive rate (non-members called members)", range=[0, 1])
    fig.update_yaxes(title="true positive rate (members found)", range=[0, 1])
    return _layout(fig, f"Membership-inference ROC: {model_label(m)}", height=400)


# -- fairness -------------------------------------------------------------------------

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
            name=GROUP_METRICS.get(metric, metric), x=[r.group for r in rows], y=_nan_to_none(vals), mode="markers",
            marker=dict(size=11, color=colour, symbol=["circle" if r.adequate else "circle-open" for r in rows]),
            error_y=_err(vals, [r.metrics[metric].ci_low if metric in r.metrics else None for r in rows],
                         [r.metrics[metric].ci_high if metric in r.metrics else None for r in rows]),
            customdata=[[r.count, "" if r.adequate else " (below the minimum size: not in verdicts)"] for r in rows],
            hovertemplate="%{x}: %{y:.3f} (%{customdata[0]} test rows%{customdata[1]})<extra>" + GROUP_METRICS.get(metric, metric) + "</extra>",
        )
        if metric in fair.overall and _finite(fair.overall[metric]):
            fig.add_hline(y=fair.overall[metric], line_dash="dot", line_color=colour, opacity=0.6)
    fig.update_layout(scattermode="group")
    fig.update_xaxes(type="category", title=key)
    if fair.task == "binary":
        fig.update_yaxes(title="rate", range=[0, 1.02])
    return _layout(fig, f"Metrics by {key} ({fair.confidence:.0%} bootstrap intervals; dotted: all rows)", height=420)


def disparity_chart(fair, key: str, *, adequate_only: bool = True) -> go.Figure:
    """Every disparity of one grouping with its interval (differences: 0 = parity; ratios: 1 = parity)."""
    table = (fair.disparities_adequate if adequate_only else fair.disparities).get(key, {})
    names = list(table)
    vals = [table[n].value for n in names]
    fig = go.Figure(go.Scatter(
        x=_nan_to_none(vals), y=[disparity_name(n) for n in names], mode="markers", marker=dict(size=11, color=SENSITIVE_COLOUR),
        error_x=_err(vals, [table[n].ci_low for n in names], [table[n].ci_high for n in names]),
    ))
    fig.add_vline(x=0, line_color=TRAIN_COLOUR)
    fig.add_vline(x=1, line_color=TRAIN_COLOUR, line_dash="dot")
    for name, limit in getattr(fair, "thresholds", {}).items():
        if name in table:
            fig.add_shape(type="line", x0=limit, x1=limit, yref="y", y0=names.index(name) - 0.4, y1=names.index(name) + 0.4,
                          line=dict(color=STATUS_COLOURS["warn"], dash="dash", width=2))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Disparities by {key}" + (" (groups of adequate size)" if adequate_only else ""),
                   height=max(260, 42 * len(names) + 110))


def four_fifths_chart(ff, key: str) -> go.Figure:
    """Each group's selection rate as a ratio of the reference group's, against the four-fifths line."""
    groups = list(ff.ratios)
    ratios = [ff.ratios[g] for g in groups]
    fig = go.Figure(go.Bar(x=groups, y=_nan_to_none(ratios),
                           marker_color=[STATUS_COLOURS["fail"] if g in ff.failing_groups else TEST_COLOUR for g in groups]))
    fig.add_hline(y=ff.threshold, line_dash="dash", line_color=STATUS_COLOURS["warn"], annotation_text=f"{ff.threshold:g}")
    fig.update_xaxes(type="category", title=key)
    fig.update_yaxes(title=f"selection rate / that of {ff.reference_group}", rangemode="tozero")
    return _layout(fig, f"Four-fifths rule by {key}: " + ("passes" if ff.passes else f"fails for {len(ff.failing_groups)} group(s)"))


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
        xs.append(d.value), xl.append(d.ci_low), xh.append(d.ci_high)
        ys.append(m.value), yl.append(m.ci_low), yh.append(m.ci_high)
        labels.append(v.label)
        colours.append(STATUS_COLOURS["pass"] if v.name == "unmitigated" else TRAIN_COLOUR if v.name == "unaware" else TEST_COLOUR)
    fig = go.Figure(go.Scatter(
        x=_nan_to_none(xs), y=_nan_to_none(ys), mode="markers+text", text=labels, textposition="top center",
        marker=dict(size=12, color=colours), error_x=_err(xs, xl, xh), error_y=_err(ys, yl, yh),
        hovertemplate="%{text}: " + disparity_name(disparity) + " %{x:.3f}, " + metric_name(metric) + " %{y:.3f}<extra></extra>",
    ))
    fig.update_xaxes(title=f"{disparity_name(disparity)} by {key} (lower is fairer)", zeroline=True)
    fig.update_yaxes(title=f"{metric_name(metric)} (test)")
    return _layout(fig, "Accuracy-fairness trade-off of the mitigations", height=480)


def representation_chart(fair, key: str) -> go.Figure:
    """Each group's share of the data (and of the train / test splits) with its label base rate."""
    rows = list(fair.representation[key])
    groups = [r.group for r in rows]
    fig = go.Figure()
    fig.add_bar(name="share of the data", x=groups, y=[r.share for r in rows], marker_color=TEST_COLOUR)
    fig.add_bar(name="share of train", x=groups, y=[r.share_train for r in rows], marker_color=TRAIN_COLOUR)
    fig.add_bar(name="share of test", x=groups, y=[r.share_test for r in rows], marker_color=VAL_COLOUR)
    fig.add_scatter(name="base rate (positive labels)", x=groups, y=_nan_to_none(r.base_rate for r in rows), mode="markers",
                    marker=dict(size=12, symbol="diamond", color=SENSITIVE_COLOUR))
    fig.update_xaxes(type="category", title=key)
    fig.update_yaxes(title="share", tickformat=".0%", rangemode="tozero")
    return _layout(fig, f"Representation and base rates by {key}", barmode="group")


def proxy_chart(fair) -> go.Figure:
    """How well each feature alone predicts each sensitive attribute (the report's proxy metric)."""
    sens = list(dict.fromkeys(r.sensitive for r in fair.proxies))
    feats = list(dict.fromkeys(r.feature for r in fair.proxies if not r.feature_is_sensitive))
    cell = {(r.sensitive, r.feature): getattr(r, fair.proxy_metric) for r in fair.proxies}
    z = [[cell.get((s, f)) for f in feats] for s in sens]
    fig = go.Figure(go.Heatmap(z=[_nan_to_none(row) for row in z], x=feats, y=sens, colorscale="Reds", zmin=0,
                               zmax=max(1.0, fair.proxy_threshold), colorbar=dict(title=fair.proxy_metric.replace("_", " ")),
                               text=[["proxy" if (v is not None and _finite(v) and v >= fair.proxy_threshold) else "" for v in row] for row in z],
                               texttemplate="%{text}", hovertemplate="%{y} from %{x}: %{z:.3f}<extra></extra>"))
    fig.update_xaxes(type="category")
    return _layout(fig, f"Proxies: {fair.proxy_metric.replace('_', ' ')} (flagged at {fair.proxy_threshold:g})",
                   height=max(220, 50 * len(sens) + 150))
