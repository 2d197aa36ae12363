"""Privacy charts: DP budget against accuracy, accuracy per group, membership-inference AUC and ROC."""

from __future__ import annotations

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
    nan_to_none,
    safe,
)


def model_label(m) -> str:
    """Short name of a privacy-section model: "audited", "mlp no DP", "mlp ε=1"."""
    if m.role == "audited":
        return "audited"
    if m.role == "non_private":
        return f"{m.network} no DP"
    return f"{m.network} ε={m.target_epsilon:g}" if finite(m.target_epsilon) else m.name


def _dp_models(priv, network: str):
    return sorted((m for m in priv.models if m.network == network and m.role == "dp" and finite(m.epsilon_spent)),
                  key=lambda m: m.epsilon_spent)


def epsilon_accuracy_chart(priv) -> go.Figure:
    """Test accuracy of DP-trained networks against the privacy budget spent, with the non-DP references."""
    fig = go.Figure()
    palette = [TEST_COLOUR, VAL_COLOUR, "#00838f", "#6d4c41"]
    for i, net in enumerate(priv.networks):
        dp = _dp_models(priv, net)
        colour = palette[i % len(palette)]
        fig.add_scatter(name=safe(f"{net} with DP"), x=[m.epsilon_spent for m in dp], y=nan_to_none(m.accuracy for m in dp),
                        mode="lines+markers", line=dict(color=colour),
                        customdata=[[m.noise_multiplier, m.target_epsilon] for m in dp],
                        hovertemplate="epsilon %{x:.2f} (target %{customdata[1]}): accuracy %{y:.3f}, noise %{customdata[0]:.2f}<extra></extra>")
        plain = next((m for m in priv.models if m.network == net and m.role == "non_private"), None)
        if plain is not None and finite(plain.accuracy):
            fig.add_hline(y=plain.accuracy, line_dash="dot", line_color=colour, annotation_text=safe(f"{net} without DP"))
    audited = priv.audited
    if audited is not None and finite(audited.accuracy):
        fig.add_hline(y=audited.accuracy, line_color=STATUS_COLOURS["pass"], annotation_text="audited model")
        fig.add_hrect(y0=audited.accuracy - priv.accuracy_budget, y1=audited.accuracy, fillcolor=STATUS_COLOURS["pass"],
                      opacity=0.08, line_width=0)
    eps = sorted({round(m.epsilon_spent, 2) for net in priv.networks for m in _dp_models(priv, net)})
    fig.update_xaxes(title=safe(f"epsilon spent (delta {priv.delta:g}, {priv.accountant.upper()} accountant)"), type="log",
                     tickvals=eps, ticktext=[f"{e:g}" for e in eps])
    fig.update_yaxes(title="test accuracy")
    return layout(fig, "Privacy budget vs accuracy")


def group_accuracy_chart(priv, attribute: str) -> go.Figure:
    """Accuracy of each group of ``attribute`` for every model (audited, without DP, each epsilon)."""
    fig = go.Figure()
    names = [safe(model_label(m)) for m in priv.models]  # network names come from the config
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
        # The group comes through meta, not the template itself: "%{...}" in a label would be a placeholder.
        fig.add_scatter(name=safe(grp), x=names, y=nan_to_none(ys), mode="lines+markers", customdata=ns, meta=safe(grp),
                        hovertemplate="%{meta}: accuracy %{y:.3f} (%{customdata} rows)<extra></extra>")
    fig.update_yaxes(title="test accuracy")
    fig.update_xaxes(type="category")
    return layout(fig, f"Accuracy by {attribute} across models", height=400)


def membership_chart(priv) -> go.Figure:
    """Membership-inference attack AUC (with interval) against each model; 0.5 is chance."""
    fig = go.Figure()
    attacks = sorted({a.attack for m in priv.models for a in m.membership or ()})
    for attack, colour in zip(attacks, (SENSITIVE_COLOUR, VAL_COLOUR, TEST_COLOUR, "#00838f")):
        xs, ys, lo, hi = [], [], [], []
        for m in priv.models:
            a = next((a for a in m.membership or () if a.attack == attack), None)
            if a is None:
                continue
            xs.append(safe(model_label(m)))
            ys.append(a.auc.value)
            lo.append(a.auc.low)
            hi.append(a.auc.high)
        fig.add_scatter(name=safe(attack.replace("_", " ")), x=xs, y=nan_to_none(ys), mode="markers", marker=dict(size=10, color=colour),
                        error_y=error_bars(ys, lo, hi))
    fig.add_hline(y=0.5, line_dash="dash", line_color=TRAIN_COLOUR, annotation_text="chance")
    for name, colour in (("warn_attack_auc", STATUS_COLOURS["warn"]), ("fail_attack_auc", STATUS_COLOURS["fail"])):
        if name in getattr(priv, "thresholds", {}):
            fig.add_hline(y=priv.thresholds[name], line_dash="dot", line_color=colour,
                          annotation_text=f"{name.split('_')[0]} {priv.thresholds[name]:g}")
    fig.update_yaxes(title="attack AUC")
    fig.update_xaxes(type="category")
    fig.update_layout(scattermode="group")
    return layout(fig, f"Membership inference ({priv.n_attack_members:,} members, {priv.n_attack_nonmembers:,} non-members)", height=400)


def membership_roc_chart(priv, model_index: int = 0) -> go.Figure:
    """ROC curves of the membership-inference attacks on one model (default: the audited one)."""
    fig = go.Figure()
    m = priv.models[model_index]
    for a, colour in zip(m.membership or (), (SENSITIVE_COLOUR, VAL_COLOUR, TEST_COLOUR, "#00838f")):
        if not a.roc_fpr:
            continue
        fig.add_scatter(name=safe(f"{a.attack.replace('_', ' ')} (AUC {a.auc.value:.3f})"), x=list(a.roc_fpr), y=list(a.roc_tpr),
                        mode="lines", line=dict(color=colour, shape="hv"),
                        hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}<extra></extra>")
    fig.add_scatter(name="chance", x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color=TRAIN_COLOUR))
    fig.update_xaxes(title="false positive rate (non-members called members)", range=[0, 1])
    fig.update_yaxes(title="true positive rate (members found)", range=[0, 1])
    return layout(fig, f"Membership-inference ROC: {model_label(m)}", height=400)
