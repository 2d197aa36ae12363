"""Headline numbers of the overview: the one or two numbers that sum up each area, read from the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audit.report import AuditReport
from dashboard.charts.base import metric_name
from dashboard.charts.fairness import disparity_name
from dashboard.components.text import fmt, md


def headlines(report: AuditReport, area: str) -> list[tuple[str, str, str | None]]:
    """(label, value, help) of the one or two numbers that sum up an area."""
    m = report.manifest
    if area == "data":
        return [("Rows audited", f"{m.rows_used:,}", f"{m.dataset.rows:,} rows in the file" + ("; a seeded sample" if m.sampled else "")),
                ("Features", str(len(m.features)), f"{len(m.excluded)} columns excluded")]
    sec = report.sections.get(area)
    if sec is None:
        return []
    fn = _HEADLINES.get(area)
    return fn(report, sec) if fn else []


def _perf_headlines(report: AuditReport, p: Any) -> list[tuple[str, str, str | None]]:
    k = p.primary_metric
    mc = p.metrics[k]
    out = [(f"{metric_name(k)} (test)", fmt(mc.value),
            f"{p.confidence:.0%} bootstrap CI [{fmt(mc.low)}, {fmt(mc.high)}]; dummy baseline {fmt(p.baseline_primary)}; "
            f"model {report.models.selected_label if report.models else p.model}")]
    if "accuracy" in p.metrics:
        a = p.metrics["accuracy"]
        out.append(("Accuracy (test)", fmt(a.value), f"CI [{fmt(a.low)}, {fmt(a.high)}]"))
    return out


def _explain_headlines(report: AuditReport, e: Any) -> list[tuple[str, str, str | None]]:
    top = sorted(e.importance, key=lambda f: f.rank)[:1]
    # A metric's value is Markdown too: the feature name is escaped here, where it is known to be text.
    out = [("Top feature", md(top[0].feature) if top else "n/a", f"largest mean |SHAP| over {e.n_explained:,} rows")]
    out.append(("Sensitive in the top 5", str(len(e.sensitive_in_top_k)), ", ".join(e.sensitive_in_top_k) or None))
    return out


def _robust_headlines(report: AuditReport, r: Any) -> list[tuple[str, str, str | None]]:
    out = []
    noise = [p for p in r.noise.points if p.level > 0]
    if noise:
        out.append((f"Flips at noise {noise[0].level:g} sd", f"{noise[0].flip_rate:.1%}", r.flip_definition))
    budget = r.thresholds.get("verdict_budget")
    for att in (r.attacks.decision_based, r.attacks.gradient):
        hit = next((p for p in att.success_by_budget if p.budget == budget), None) if att is not None else None
        if hit is not None:
            out.append((f"Attack success at {budget:g} sd", f"{hit.success_rate:.0%}", f"{att.name} on {att.n_rows} rows"))
            break
    return out


def _drift_headlines(report: AuditReport, d: Any) -> list[tuple[str, str, str | None]]:
    out = [("Features drifted", f"{d.data.n_drifted} / {d.data.n_features}", ", ".join(d.data.drifted_features) or None)]
    if d.data.domain is not None:
        dc = d.data.domain
        out.append(("Domain classifier AUC", fmt(dc.auc.value), f"{dc.auc.level:.0%} CI [{fmt(dc.auc.low)}, {fmt(dc.auc.high)}]; 0.5 = no shift"))
    return out


def _privacy_headlines(report: AuditReport, p: Any) -> list[tuple[str, str, str | None]]:
    audited = p.audited
    out = []
    if audited is not None and audited.membership:
        worst = max(audited.membership, key=lambda a: a.auc.value)
        out.append(("Membership attack AUC", fmt(worst.auc.value), f"{worst.attack} on the audited model; 0.5 = chance"))
    elif p.membership_note:
        out.append(("Membership attack", "not run", p.membership_note))
    dp = [m for m in p.models if m.role == "dp"]
    if dp:
        out.append(("DP models trained", str(len(dp)), f"epsilons {', '.join(f'{e:g}' for e in p.target_epsilons)}"))
    return out


def _fair_headlines(report: AuditReport, f: Any) -> list[tuple[str, str, str | None]]:
    out = []
    first = next(iter(f.disparities_adequate.values()), {})
    for name in [n for n in first if n.endswith("difference")][:2]:
        label = disparity_name(name).replace(" difference", " diff.") + " (worst)"
        vals = [(k, d[name]) for k, d in f.disparities_adequate.items() if name in d and d[name].value == d[name].value]
        if vals:
            k, iv = max(vals, key=lambda kv: kv[1].value)
            out.append((label, fmt(iv.value), f"by {k}; {f.confidence:.0%} CI [{fmt(iv.low)}, {fmt(iv.high)}]"))
    return out


_HEADLINES: dict[str, Callable[[AuditReport, Any], list[tuple[str, str, str | None]]]] = {
    "performance": _perf_headlines,
    "fairness": _fair_headlines,
    "explanations": _explain_headlines,
    "robustness": _robust_headlines,
    "drift": _drift_headlines,
    "privacy": _privacy_headlines,
}
