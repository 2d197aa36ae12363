"""The fairness part of a model card: groups, per-group metrics with intervals, disparities.

Reads the typed ``fairness`` section (:class:`audit.sections.fairness.section.FairnessReport`):
``groups`` / ``disparities`` / ``four_fifths`` ... keyed by grouping key ("sex", "sex x race").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.cards.blocks import Bar, BarChart, Block, Bullets, Facts, Heading, Paragraph, StatusLine, ci, finite_or_none, num, pct, table
from audit.sections.fairness.metrics import GroupRow
from audit.stats import Estimate
from audit.sections.fairness.mitigation import ModelVariant
from audit.sections.fairness.section import FairnessReport

METRICS_PER_TABLE = 4
NOTES = {
    "base_rate": "share of positive labels in the group (before any model)",
    "selection_rate": "share of the group predicted positive",
    "tpr": "true positive rate: positives correctly predicted positive",
    "fpr": "false positive rate: negatives wrongly predicted positive",
    "fnr": "false negative rate: positives wrongly predicted negative",
    "precision": "share of predicted positives that are positive",
    "accuracy": "share of correct predictions",
    "roc_auc": "ranking quality within the group",
    "demographic_parity_difference": "largest gap in selection rate between groups",
    "demographic_parity_ratio": "lowest selection rate divided by the highest",
    "equalized_odds_difference": "larger of the TPR and FPR gaps between groups",
    "equalized_odds_ratio": "smaller of the TPR and FPR ratios between groups",
    "equal_opportunity_difference": "largest gap in true positive rate",
    "predictive_parity_difference": "largest gap in precision",
}


def _iv(v: Estimate | None) -> str:
    """``0.425 [0.353, 0.508]`` from an interval, ``n/a`` when missing."""
    if v is None:
        return "n/a"
    return f"{num(v.value)} {ci(v.low, v.high)}".replace(" n/a", "")


def _value(v: Estimate | None) -> str:
    return num(None if v is None else v.value)


def _metric_names(rows: tuple[GroupRow, ...] | list[GroupRow]) -> list[str]:
    names: list[str] = []
    for r in rows:
        names += [k for k in r.metrics if k not in names]
    return names


def fairness_blocks(fair: FairnessReport) -> list[Block]:
    """Disaggregated (one attribute) and intersectional (several) results, with intervals."""
    out: list[Block] = [StatusLine(str(fair.verdict.status), tuple(map(str, fair.verdict.reasons)))]
    conf = num(100 * (finite_or_none(fair.confidence) or float("nan")), 0)
    threshold = f", at decision threshold {num(fair.decision_threshold)}" if fair.task == "binary" else ""
    out.append(Paragraph(f"On the {num(fair.n_test)} test rows{threshold}; "
                         f"{conf}% percentile bootstrap intervals from {num(fair.n_bootstrap)} resamples. Groups with fewer than "
                         f"{num(fair.min_group_size)} test rows are shown but kept out of the verdict."))
    single = [k for k in fair.groups if len(fair.keys.get(k) or (k,)) <= 1]
    multi = [k for k in fair.groups if k not in single]
    for key in single + multi:
        out += _key_blocks(fair, key, intersection=key in multi)
    if not multi and len(fair.sensitive) > 1:
        out.append(Paragraph("Intersectional results were not computed (fairness.intersections is off).", muted=True))
    out += _mitigation_blocks(fair)
    return out


def _group_tables(rows: tuple[GroupRow, ...], names: list[str], key: str) -> list[Block]:
    # The first table also holds the group sizes, so it takes one metric less: each fits a page width.
    chunks = [names[:METRICS_PER_TABLE - 1]] + [names[i:i + METRICS_PER_TABLE] for i in range(METRICS_PER_TABLE - 1, len(names), METRICS_PER_TABLE)]
    out: list[Block] = []
    for first, chunk in ((j == 0, c) for j, c in enumerate(chunks)):
        cols = ["Group", *(["Test rows", "Share"] if first else []), *chunk]
        body = []
        for r in rows:
            label = r.group + ("" if r.adequate else " (small)")
            lead = [r.count, pct(r.share, 1)] if first else []
            body.append([label, *lead, *(_iv(r.metrics.get(m)) for m in chunk)])
        out.append(table(cols, body, numeric=[False] + [True] * (len(cols) - 1),
                         caption=f"Per-group metrics with intervals ({key})" if first else ""))
    return out


def _group_chart(fair: FairnessReport, rows: tuple[GroupRow, ...], names: list[str], key: str) -> list[Block]:
    metric = next((m for m in ("selection_rate", "mean_prediction") if m in names), names[0] if names else None)
    if not metric:
        return []
    bars = []
    for r in rows:
        iv = r.metrics.get(metric)
        if iv is not None and finite_or_none(iv.value) is not None:
            bars.append(Bar(r.group, float(iv.value), finite_or_none(iv.low), finite_or_none(iv.high), flagged=not r.adequate))
    if not bars:
        return []
    overall = finite_or_none(fair.overall.get(metric))
    return [BarChart(f"{metric.replace('_', ' ').capitalize()} by {key} (grey: below the minimum group size)", tuple(bars),
                     reference=overall, reference_label="all test rows" if overall is not None else "")]


def _key_blocks(fair: FairnessReport, key: str, *, intersection: bool) -> list[Block]:
    rows = fair.groups.get(key) or ()
    names = _metric_names(rows)
    out: list[Block] = [Heading(f"Intersectional: {key}" if intersection else f"By {key}")]
    out += _group_tables(rows, names, key) + _group_chart(fair, rows, names, key)
    adequate, every = fair.disparities_adequate.get(key) or {}, fair.disparities.get(key) or {}
    if adequate or every:
        measures = list(dict.fromkeys([*adequate, *every]))
        out.append(table(("Disparity", "Adequate groups (verdict)", "All groups"), [(m, _iv(adequate.get(m)), _iv(every.get(m))) for m in measures],
                         numeric=(False, True, True), caption=f"Disparities between groups of {key}; an interval containing 0 "
                                                             "(or 1 for a ratio) is not distinguishable from noise"))
    ff = fair.four_fifths.get(key)
    if ff is not None:
        out.append(Paragraph(f"Four-fifths rule ({num(ff.threshold, 2)}): the lowest selection rate, of {ff.lowest_group}, is "
                             f"{num(ff.lowest_ratio, 2)} x that of {ff.reference_group}: "
                             + ("passes." if ff.passes else "fails for " + ", ".join(map(str, ff.failing_groups)) + ".")))
    excluded = fair.excluded_groups.get(key) or {}
    if excluded:
        out.append(Bullets(tuple(f"{g}: {why}" for g, why in excluded.items())))
    return out


def _mitigation_blocks(fair: FairnessReport) -> list[Block]:
    mitigations = list(fair.mitigations)
    # The unmitigated model first.
    variants = mitigations[:1] + ([fair.unawareness] if fair.unawareness is not None else []) + mitigations[1:]
    if not variants:
        return []
    key = next(iter(fair.groups), None)
    done = [m for m in variants if m.status == "done"]
    metric_names = list(dict.fromkeys(k for m in done for k in m.metrics))
    disp_names = list(dict.fromkeys(k for m in done for k in _disparities(m, key)))
    # Two task metrics and two disparities: the binary defaults, else the first the report has.
    mets = [x for x in ("accuracy", "selection_rate") if x in metric_names] or metric_names[:2]
    disps = ([x for x in ("demographic_parity_difference", "equalized_odds_difference") if x in disp_names]
             or [x for x in disp_names if x.endswith("difference")][:2])
    rows = []
    for m in variants:
        name = m.label or m.name
        if m.status != "done":
            rows.append((name, f"skipped: {m.detail}", *[""] * (len(mets) + len(disps) - 1)))
            continue
        disp = _disparities(m, key)
        rows.append((name, *(_iv(m.metrics.get(x)) for x in mets), *(_iv(disp.get(x)) for x in disps)))
    cols = ("Model", *mets, *(f"{x} ({key})" for x in disps))
    return [Heading("Mitigations tried"),
            table(cols, rows, numeric=[False] + [True] * (len(cols) - 1),
                  caption="On the same test rows and resamples as the audited model; the audited model itself is not changed")]


def _disparities(m: ModelVariant, key: str | None) -> Mapping[str, Estimate]:
    return m.disparities.get(key) or {} if key is not None else {}


def _proxies(fair: FairnessReport) -> list[Any]:
    return [p for p in fair.proxies if p.is_proxy and not p.feature_is_sensitive]


def _proxy_strength(fair: FairnessReport, p: Any) -> str:
    return num(getattr(p, fair.proxy_metric, None), 2)


def fairness_factors(fair: FairnessReport | None) -> list[Block]:
    """Representation and base rates of the groups in the whole data, and proxy features."""
    if fair is None:
        return [Paragraph("Base rates, intersections and proxies come from the fairness audit, which was not run.", muted=True)]
    out: list[Block] = []
    for key, rows in fair.representation.items():
        if not rows:
            continue
        gap = fair.base_rate_gap.get(key) or {}
        out.append(table(("Group", "Rows", "Share", "Train share", "Test share", "Base rate"),
                         [(r.group, r.count, pct(r.share, 1), pct(r.share_train, 1), pct(r.share_test, 1), num(r.base_rate))
                          for r in rows], numeric=(False, True, True, True, True, True),
                         caption=f"Representation and label base rate by {key} in the whole data"
                                 + (f"; base-rate gap {num(gap.get('difference'))} (ratio {num(gap.get('ratio'))})" if gap else "")))
    proxies, metric = _proxies(fair), str(fair.proxy_metric)
    if proxies:
        out.append(Facts((("Proxy features", "; ".join(f"{p.feature} for {p.sensitive} ({metric} {_proxy_strength(fair, p)})" for p in proxies)),)))
    else:
        out.append(Paragraph(f"No feature reaches the proxy threshold ({metric} {num(fair.proxy_threshold, 2)}) for a sensitive attribute."))
    return out


def fairness_metric_names(fair: FairnessReport | None) -> tuple[str, ...]:
    if fair is None:
        return ()
    names = _metric_names([r for rows in fair.groups.values() for r in rows])
    disp = list(dict.fromkeys(m for d in fair.disparities.values() for m in d))
    return tuple(f"{m}: {NOTES.get(m, 'see the audit report')}" for m in names + disp)


def fairness_findings(fair: FairnessReport | None) -> tuple[str, ...]:
    """Ethical risks the fairness audit found beyond its verdict: proxies of sensitive attributes."""
    if fair is None:
        return ()
    return tuple(f"{p.feature} is a proxy for {p.sensitive} ({fair.proxy_metric} {_proxy_strength(fair, p)}): removing the sensitive "
                 "attribute alone would not stop the model from using it." for p in _proxies(fair))


def fairness_metric_entries(fair: FairnessReport | None) -> list[tuple[str, float | None, float | None, float | None, str]]:
    """(metric, value, ci_low, ci_high, slice) for every group metric and disparity, for the MCT JSON."""
    if fair is None:
        return []

    def entry(m: str, iv: Estimate, where: str) -> tuple[str, float | None, float | None, float | None, str]:
        return (m, finite_or_none(iv.value), finite_or_none(iv.low), finite_or_none(iv.high), where)

    out = [entry(m, iv, f"{key} = {r.group}") for key, rows in fair.groups.items() for r in rows for m, iv in r.metrics.items()]
    out += [entry(m, iv, f"{key} (adequate groups)") for key, disp in fair.disparities_adequate.items() for m, iv in disp.items()]
    return out


def fairness_tradeoffs(fair: FairnessReport | None) -> tuple[str, ...]:
    """What each mitigation costs in accuracy and gains in parity, for the MCT tradeoffs."""
    if fair is None:
        return ()
    key = next(iter(fair.groups), None)
    variants = {m.name: m for m in fair.mitigations}
    base = variants.get("unmitigated")
    if base is None:
        return ()
    dpd = "demographic_parity_difference"
    return tuple(
        f"{m.label}: accuracy {_value(base.metrics.get('accuracy'))} -> {_value(m.metrics.get('accuracy'))}, demographic parity difference "
        f"({key}) {_value(_disparities(base, key).get(dpd))} -> {_value(_disparities(m, key).get(dpd))}."
        for name, m in variants.items() if name != "unmitigated" and m.status == "done")
