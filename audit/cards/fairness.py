"""The fairness part of a model card: groups, per-group metrics with intervals, disparities.

Reads the ``fairness`` section of a report (``audit.sections.fairness.section.FairnessReport`` as JSON):
``groups`` / ``disparities`` / ``four_fifths`` ... keyed by grouping key ("sex",
"sex x race"). Every access is defensive; when the section does not have that shape
the generic renderer draws it instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.cards.blocks import Bar, BarChart, Block, Bullets, Facts, Heading, Paragraph, StatusLine, ci, finite_or_none, num, pct, table
from audit.cards.generic import auto_blocks

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


def _rows(v: Any) -> list[Mapping[str, Any]]:
    return [x for x in (v or ()) if isinstance(x, Mapping)]


def _maps(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _known(fair: Any) -> bool:
    return isinstance(fair, Mapping) and isinstance(fair.get("groups"), Mapping)


def _iv(v: Any) -> str:
    """``0.425 [0.353, 0.508]`` from an interval dict, ``n/a`` when missing."""
    if not isinstance(v, Mapping):
        return "n/a"
    return f"{num(v.get('value'))} {ci(v.get('ci_low'), v.get('ci_high'))}".replace(" n/a", "")


def _metric_names(rows: list[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in rows:
        names += [k for k in _maps(r.get("metrics")) if k not in names]
    return names


def fairness_blocks(fair: Mapping[str, Any]) -> list[Block]:
    """Disaggregated (one attribute) and intersectional (several) results, with intervals."""
    v = _maps(fair.get("verdict"))
    out: list[Block] = [StatusLine(str(v.get("status", "not run")), tuple(map(str, v.get("reasons") or ())))]
    if not _known(fair):
        return out + auto_blocks(fair)
    conf = num(100 * (finite_or_none(fair.get("confidence")) or float("nan")), 0)
    threshold = f", at decision threshold {num(fair.get('decision_threshold'))}" if fair.get("task") == "binary" else ""
    out.append(Paragraph(f"On the {num(fair.get('n_test'))} test rows{threshold}; "
                         f"{conf}% percentile bootstrap intervals from {num(fair.get('n_bootstrap'))} resamples. Groups with fewer than "
                         f"{num(fair.get('min_group_size'))} test rows are shown but kept out of the verdict."))
    keys = _maps(fair.get("keys"))
    single = [k for k in fair["groups"] if len(keys.get(k) or (k,)) <= 1]
    multi = [k for k in fair["groups"] if k not in single]
    for key in single + multi:
        out += _key_blocks(fair, key, intersection=key in multi)
    if not multi and len(fair.get("sensitive") or ()) > 1:
        out.append(Paragraph("Intersectional results were not computed (fairness.intersections is off).", muted=True))
    out += _mitigation_blocks(fair)
    return out


def _key_blocks(fair: Mapping[str, Any], key: str, *, intersection: bool) -> list[Block]:
    rows = _rows(_maps(fair.get("groups")).get(key))
    out: list[Block] = [Heading(f"Intersectional: {key}" if intersection else f"By {key}")]
    names = _metric_names(rows)
    # The first table also holds the group sizes, so it takes one metric less: each fits a page width.
    chunks = [names[:METRICS_PER_TABLE - 1]] + [names[i:i + METRICS_PER_TABLE] for i in range(METRICS_PER_TABLE - 1, len(names), METRICS_PER_TABLE)]
    for first, chunk in ((j == 0, c) for j, c in enumerate(chunks)):
        cols = ["Group", *(["Test rows", "Share"] if first else []), *chunk]
        body = []
        for r in rows:
            label = str(r.get("group", "?")) + ("" if r.get("adequate", True) else " (small)")
            lead = [r.get("count"), pct(r.get("share"), 1)] if first else []
            body.append([label, *lead, *(_iv(_maps(r.get("metrics")).get(m)) for m in chunk)])
        out.append(table(cols, body, numeric=[False] + [True] * (len(cols) - 1),
                         caption=f"Per-group metrics with intervals ({key})" if first else ""))
    metric = next((m for m in ("selection_rate", "mean_prediction") if m in names), names[0] if names else None)
    if metric:
        bars = []
        for r in rows:
            iv = _maps(_maps(r.get("metrics")).get(metric))
            if finite_or_none(iv.get("value")) is not None:
                bars.append(Bar(str(r.get("group", "?")), float(iv["value"]), finite_or_none(iv.get("ci_low")), finite_or_none(iv.get("ci_high")),
                                flagged=not r.get("adequate", True)))
        if bars:
            overall = finite_or_none(_maps(fair.get("overall")).get(metric))
            out.append(BarChart(f"{metric.replace('_', ' ').capitalize()} by {key} (grey: below the minimum group size)", tuple(bars),
                                reference=overall, reference_label="all test rows" if overall is not None else ""))
    adequate = _maps(_maps(fair.get("disparities_adequate")).get(key))
    every = _maps(_maps(fair.get("disparities")).get(key))
    if adequate or every:
        measures = list(dict.fromkeys([*adequate, *every]))
        out.append(table(("Disparity", "Adequate groups (verdict)", "All groups"), [(m, _iv(adequate.get(m)), _iv(every.get(m))) for m in measures],
                         numeric=(False, True, True), caption=f"Disparities between groups of {key}; an interval containing 0 "
                                                             "(or 1 for a ratio) is not distinguishable from noise"))
    ff = _maps(_maps(fair.get("four_fifths")).get(key))
    if ff:
        out.append(Paragraph(f"Four-fifths rule ({num(ff.get('threshold'), 2)}): the lowest selection rate, of {ff.get('lowest_group')}, is "
                             f"{num(ff.get('lowest_ratio'), 2)} x that of {ff.get('reference_group')}: "
                             + ("passes." if ff.get("passes") else "fails for " + ", ".join(map(str, ff.get("failing_groups") or ())) + ".")))
    excluded = _maps(_maps(fair.get("excluded_groups")).get(key))
    if excluded:
        out.append(Bullets(tuple(f"{g}: {why}" for g, why in excluded.items())))
    return out


def _mitigation_blocks(fair: Mapping[str, Any]) -> list[Block]:
    mitigations = _rows(fair.get("mitigations"))
    variants = mitigations[:1] + _rows([fair.get("unawareness")]) + mitigations[1:]  # the unmitigated model first
    if not variants:
        return []
    key = next(iter(_maps(fair.get("groups"))), None)
    done = [m for m in variants if m.get("status") == "done"]
    metric_names = list(dict.fromkeys(k for m in done for k in _maps(m.get("metrics"))))
    disp_names = list(dict.fromkeys(k for m in done for k in _maps(_maps(m.get("disparities")).get(key))))
    # Two task metrics and two disparities: the binary defaults, else the first the report has.
    mets = [x for x in ("accuracy", "selection_rate") if x in metric_names] or metric_names[:2]
    disps = ([x for x in ("demographic_parity_difference", "equalized_odds_difference") if x in disp_names]
             or [x for x in disp_names if x.endswith("difference")][:2])
    rows = []
    for m in variants:
        name = m.get("label") or m.get("name")
        if m.get("status") != "done":
            rows.append((name, f"skipped: {m.get('detail', '')}", *[""] * (len(mets) + len(disps) - 1)))
            continue
        met, disp = _maps(m.get("metrics")), _maps(_maps(m.get("disparities")).get(key))
        rows.append((name, *(_iv(met.get(x)) for x in mets), *(_iv(disp.get(x)) for x in disps)))
    cols = ("Model", *mets, *(f"{x} ({key})" for x in disps))
    return [Heading("Mitigations tried"),
            table(cols, rows, numeric=[False] + [True] * (len(cols) - 1),
                  caption="On the same test rows and resamples as the audited model; the audited model itself is not changed")]


def fairness_factors(fair: Mapping[str, Any] | None) -> list[Block]:
    """Representation and base rates of the groups in the whole data, and proxy features."""
    if fair is None:
        return [Paragraph("Base rates, intersections and proxies come from the fairness audit, which was not run.", muted=True)]
    if not _known(fair):
        return []
    out: list[Block] = []
    for key, rows in _maps(fair.get("representation")).items():
        rows = _rows(rows)
        if not rows:
            continue
        gap = _maps(_maps(fair.get("base_rate_gap")).get(key))
        out.append(table(("Group", "Rows", "Share", "Train share", "Test share", "Base rate"),
                         [(r.get("group"), r.get("count"), pct(r.get("share"), 1), pct(r.get("share_train"), 1), pct(r.get("share_test"), 1), num(r.get("base_rate")))
                          for r in rows], numeric=(False, True, True, True, True, True),
                         caption=f"Representation and label base rate by {key} in the whole data"
                                 + (f"; base-rate gap {num(gap.get('difference'))} (ratio {num(gap.get('ratio'))})" if gap else "")))
    proxies = [p for p in _rows(fair.get("proxies")) if p.get("is_proxy") and not p.get("feature_is_sensitive")]
    metric = str(fair.get("proxy_metric", "cramers_v"))
    if proxies:
        out.append(Facts((("Proxy features", "; ".join(f"{p.get('feature')} for {p.get('sensitive')} ({metric} {num(p.get(metric), 2)})" for p in proxies)),)))
    elif fair.get("proxies") is not None:
        out.append(Paragraph(f"No feature reaches the proxy threshold ({metric} {num(fair.get('proxy_threshold'), 2)}) for a sensitive attribute."))
    return out


def fairness_metric_names(fair: Mapping[str, Any] | None) -> tuple[str, ...]:
    if not _known(fair):
        return ()
    names = _metric_names([r for rows in fair["groups"].values() for r in _rows(rows)])
    disp = list(dict.fromkeys(m for d in _maps(fair.get("disparities")).values() for m in _maps(d)))
    return tuple(f"{m}: {NOTES.get(m, 'see the audit report')}" for m in names + disp)


def fairness_findings(fair: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Ethical risks the fairness audit found beyond its verdict: proxies of sensitive attributes."""
    if not _known(fair):
        return ()
    metric = str(fair.get("proxy_metric", "cramers_v"))
    return tuple(f"{p.get('feature')} is a proxy for {p.get('sensitive')} ({metric} {num(p.get(metric), 2)}): removing the sensitive "
                 "attribute alone would not stop the model from using it." for p in _rows(fair.get("proxies"))
                 if p.get("is_proxy") and not p.get("feature_is_sensitive"))


def fairness_metric_entries(fair: Mapping[str, Any] | None) -> list[tuple[str, float | None, float | None, float | None, str]]:
    """(metric, value, ci_low, ci_high, slice) for every group metric and disparity, for the MCT JSON."""
    if not _known(fair):
        return []
    out = []
    for key, rows in fair["groups"].items():
        for r in _rows(rows):
            for m, iv in _maps(r.get("metrics")).items():
                iv = _maps(iv)
                out.append((m, finite_or_none(iv.get("value")), finite_or_none(iv.get("ci_low")), finite_or_none(iv.get("ci_high")), f"{key} = {r.get('group')}"))
    for key, disp in _maps(fair.get("disparities_adequate")).items():
        for m, iv in _maps(disp).items():
            iv = _maps(iv)
            out.append((m, finite_or_none(iv.get("value")), finite_or_none(iv.get("ci_low")), finite_or_none(iv.get("ci_high")), f"{key} (adequate groups)"))
    return out


def fairness_tradeoffs(fair: Mapping[str, Any] | None) -> tuple[str, ...]:
    """What each mitigation costs in accuracy and gains in parity, for the MCT tradeoffs."""
    if not _known(fair):
        return ()
    key = next(iter(fair["groups"]), None)
    variants = {m.get("name"): m for m in _rows(fair.get("mitigations"))}
    base = variants.get("unmitigated")
    if base is None:
        return ()

    def val(m: Mapping[str, Any], *path: str) -> str:
        v: Any = m
        for p in path:
            v = _maps(v).get(p)
        return num(_maps(v).get("value"))

    return tuple(
        f"{m.get('label')}: accuracy {val(base, 'metrics', 'accuracy')} -> {val(m, 'metrics', 'accuracy')}, demographic parity difference "
        f"({key}) {val(base, 'disparities', key, 'demographic_parity_difference')} -> {val(m, 'disparities', key, 'demographic_parity_difference')}."
        for name, m in variants.items() if name != "unmitigated" and m.get("status") == "done")
