"""What this tool adds to a model card: explanations, robustness, drift and privacy results.

Each renderer picks the findings a card reader needs (the full detail stays in the
report and the dashboard) and reads every field defensively: a field it does not
find is skipped, and a section whose shape it does not recognise at all is drawn
by the generic renderer instead, so a newer report never breaks the card.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from audit.cards.blocks import Bar, BarChart, Block, Bullets, Facts, Heading, Paragraph, Section, ci, finite_or_none, num, table
from audit.cards.generic import auto_blocks
from audit.cards.sections import g, not_run, verdict_block

TITLES = {"explanations": "Explanations", "robustness": "Robustness", "drift": "Drift", "privacy": "Privacy"}
TOP = 10


def extra_section(name: str, r: Mapping[str, Any]) -> Section:
    sec = g(r, name)
    if sec is None:
        return Section(name, TITLES[name], not_run(name, r))
    if not isinstance(sec, Mapping):
        return Section(name, TITLES[name], (Paragraph(f"The {name} section has an unexpected form and is not shown.", muted=True),))
    render = _RENDERERS.get(name) if _KNOWN.get(name, set()) & set(sec) else None
    try:
        body = render(sec) if render else []
    except (AttributeError, TypeError, KeyError, ValueError):
        body = []  # a field of an unexpected type: the generic view below still shows everything
    if not body:  # a shape this version does not know: show every field generically
        body = auto_blocks(sec)
    body.append(Paragraph(f"Full detail: the {name} section of the audit report and the dashboard.", muted=True))
    return Section(name, TITLES[name], (verdict_block(sec), *body))


def _rows(v: Any) -> list[Mapping[str, Any]]:
    return [x for x in (v or ()) if isinstance(x, Mapping)]


def _explanations(e: Mapping[str, Any]) -> list[Block]:
    out: list[Block] = []
    add = g(e, "additivity", default={})
    facts = [
        ("Explainer", f"{g(e, 'explainer', default='?')} on {num(g(e, 'n_explained'))} of {num(g(e, 'n_test'))} test rows "
                      f"({g(e, 'sample_strategy', default='?')}), {num(g(e, 'n_background'))} background rows"),
        ("Output explained", str(g(e, "output_space", default="?"))),
    ]
    if add:
        facts.append(("Additivity check", f"{'passed' if g(add, 'passed') else 'failed'}: max |error| {num(g(add, 'max_abs_error'))} "
                                          f"(tolerance {num(g(add, 'tolerance'))}) on {num(g(add, 'n_rows'))} rows"))
    sens_top = g(e, "sensitive_in_top_k", default=())
    if g(e, "top_k") is not None:
        facts.append((f"Sensitive features in the top {g(e, 'top_k')}", ", ".join(map(str, sens_top)) or "none"))
    out.append(Facts(tuple(facts)))
    imp = _rows(g(e, "importance"))[:TOP]
    if imp:
        out += [Heading("Most influential features (mean |SHAP|)"),
                table(("Rank", "Feature", "Mean |SHAP|", "Mean SHAP", "Sensitive"),
                      [(x.get("rank"), x.get("feature"), num(x.get("mean_abs_shap"), 4), num(x.get("mean_shap"), 4), "yes" if x.get("sensitive") else "")
                       for x in imp], numeric=(True, False, True, True, False)),
                BarChart("Mean |SHAP| of the top features (grey: sensitive attribute)",
                         tuple(Bar(str(x.get("feature")), finite_or_none(x.get("mean_abs_shap")) or 0.0, flagged=bool(x.get("sensitive"))) for x in imp))]
    perm = g(e, "permutation", default={})
    if _rows(g(perm, "features")):
        out += [Heading(f"Permutation importance (drop in {g(perm, 'metric', default='score')})"),
                table(("Feature", "Mean drop", "Std"), [(x.get("feature"), num(x.get("mean"), 4), num(x.get("std"), 4)) for x in _rows(g(perm, "features"))[:TOP]],
                      numeric=(False, True, True))]
    gaps = _rows(g(e, "group_gaps"))
    if gaps:
        out.append(Heading("What drives the gap between groups"))
        out.append(Bullets(tuple(
            f"{x.get('attribute')}: mean output of {x.get('high_group')} exceeds {x.get('low_group')} by {num(x.get('gap'))}; "
            "largest contributions: " + ", ".join(f"{c.get('feature')} ({num(c.get('contribution'))})" for c in _rows(x.get("contributions"))[:3])
            for x in gaps)))
    sur = g(e, "surrogate", default={})
    if sur:
        out += [Heading("Surrogate decision tree"),
                Paragraph(f"A depth-{g(sur, 'max_depth', default='?')} tree with {g(sur, 'n_leaves', default='?')} leaves mimics the model with "
                          f"{g(sur, 'fidelity_metric', default='fidelity')} {num(g(sur, 'fidelity'))} on the test split "
                          f"(always predicting the most frequent output: {num(g(sur, 'baseline_fidelity'))}).")]
        rules = sorted(_rows(g(sur, "rules")), key=lambda x: -(x.get("n_rows") or 0))[:8]
        if rules:
            out.append(table(("Rule", "Prediction", "Positive share", "Training rows"),
                             [(" and ".join(map(str, x.get("conditions") or ())) or "all rows", num(x.get("prediction")), num(x.get("positive_share")), x.get("n_rows"))
                              for x in rules], numeric=(False, True, True, True), caption="Largest leaves"))
    err = g(e, "errors", default={})
    if err:
        cohorts = sorted(_rows(g(err, "tree_cohorts")) + _rows(g(err, "cluster_cohorts")), key=lambda c: -(finite_or_none(c.get("error")) or 0))
        cohorts = [c for c in cohorts if c.get("versus_overall") == "higher"][:5]
        out += [Heading("Where the model errs most"),
                Paragraph(f"Overall {g(err, 'error_metric', default='error')}: {num(g(err, 'overall_error'))} "
                          f"{ci(g(err, 'overall_ci_low'), g(err, 'overall_ci_high'))}.")]
        if cohorts:
            out.append(table(("Cohort", "Rows", "Error", "Interval"),
                             [(c.get("description") or " and ".join(map(str, c.get("conditions") or ())), c.get("size"), num(c.get("error")), ci(c.get("ci_low"), c.get("ci_high")))
                              for c in cohorts], numeric=(False, True, True, True), caption="Cohorts whose error interval lies above the overall error"))
        else:
            out.append(Paragraph("No cohort's error is clearly above the overall error."))
    return out


def _drift(d: Mapping[str, Any]) -> list[Block]:
    data = g(d, "data", default={})
    facts = [("Comparison", str(g(d, "comparison", default="?"))),
             ("Reference", f"{g(d, 'reference_source', default='?')} ({num(g(d, 'n_reference'))} rows)"),
             ("Current", f"{g(d, 'current_source', default='?')} ({num(g(d, 'n_current'))} rows)")]
    if g(d, "simulated_shift"):
        facts.append(("Simulated shift", str(g(d, "simulated_shift"))))
    if data:
        facts.append(("Drifted features", f"{num(g(data, 'n_drifted'))} of {num(g(data, 'n_features'))} "
                                          f"({', '.join(map(str, g(data, 'drifted_features', default=()))) or 'none'})"))
        dom = g(data, "domain")
        if dom:
            facts.append(("Domain classifier AUC", f"{num(g(dom, 'auc'))} {ci(g(dom, 'ci_low'), g(dom, 'ci_high'))} (0.5 = the two data sets are indistinguishable)"))
    perfs = g(d, "performance")
    # One entry per metric (ROC AUC and accuracy for binary tasks, R² for regression).
    perfs = perfs if isinstance(perfs, (list, tuple)) else ([perfs] if perfs else [])
    for perf in perfs:
        facts.append(("Performance shift", f"{g(perf, 'metric', default='?')} {num(g(perf, 'reference'))} {ci(g(perf, 'reference_ci_low'), g(perf, 'reference_ci_high'))} "
                                           f"on the reference, {num(g(perf, 'current'))} {ci(g(perf, 'current_ci_low'), g(perf, 'current_ci_high'))} on current data"))
    if not perfs and g(d, "performance_note"):
        facts.append(("Performance shift", str(g(d, "performance_note"))))
    pred = g(d, "prediction")
    if pred:
        facts.append(("Prediction drift", f"{g(pred, 'effect_metric', default='effect')} {num(g(pred, 'effect_size'))}, PSI {num(g(pred, 'psi'))}"
                                          + (" (drifted)" if g(pred, "drifted") else "")))
    out: list[Block] = [Facts(tuple(facts))]
    feats = sorted(_rows(g(data, "features")), key=lambda f: (not f.get("drifted"), -(finite_or_none(f.get("effect_size")) or 0)))
    if feats:
        out.append(table(("Feature", "Test", "Adjusted p", "Effect", "PSI", "Drifted"),
                         [(f.get("feature"), f.get("test"), num(f.get("p_value_adjusted"), 4), f"{num(f.get('effect_size'))} ({f.get('effect_metric')})",
                           num(f.get("psi")), "yes" if f.get("drifted") else "") for f in feats[:15]],
                         numeric=(False, False, True, True, True, False),
                         caption="Features, drifted first, by effect size" + (f"; first 15 of {len(feats)}" if len(feats) > 15 else "")))
    return out


def _privacy(p: Mapping[str, Any]) -> list[Block]:
    models = _rows(g(p, "models"))
    out: list[Block] = [Facts((("Accountant", f"{g(p, 'accountant', default='?')}, delta {num(g(p, 'delta'), 6)}"),
                               ("Membership-inference data", f"{num(g(p, 'n_attack_members'))} members, {num(g(p, 'n_attack_nonmembers'))} non-members")))]
    if models:
        rows = []
        for m in models:
            attacks = _rows(m.get("membership"))
            best = max(attacks, key=lambda a: finite_or_none(a.get("auc")) or 0, default=None)
            rows.append((m.get("name"), m.get("role"), num(m.get("epsilon_spent"), 2) if m.get("epsilon_spent") is not None else "none (not private)",
                         num(m.get("accuracy")), num(m.get("roc_auc")),
                         f"{num(best.get('auc'))} {ci(best.get('auc_ci_low'), best.get('auc_ci_high'))}" if best else "n/a",
                         num(best.get("advantage")) if best else "n/a"))
        out.append(table(("Model", "Role", "Epsilon spent", "Accuracy", "ROC AUC", "Strongest attack AUC", "Advantage"), rows,
                         numeric=(False, False, True, True, True, True, True),
                         caption="Membership-inference attack AUC of 0.5 means the attacker cannot tell training rows from others"))
        audited = models[0]
        attacks = _rows(audited.get("membership"))
        if attacks:
            out.append(table(("Attack on the audited model", "AUC", "Interval", "Advantage", "TPR at low FPR"),
                             [(a.get("attack"), num(a.get("auc")), ci(a.get("auc_ci_low"), a.get("auc_ci_high")), num(a.get("advantage")),
                               f"{num(a.get('tpr_at_low_fpr'))} (at FPR {num(a.get('low_fpr'), 3)})") for a in attacks],
                             numeric=(False, True, True, True, True)))
        groups = [(m.get("name"), gm.get("attribute"), num(gm.get("demographic_parity_difference")), num(gm.get("equalized_odds_difference")))
                  for m in models for gm in _rows(m.get("groups"))]
        if groups:
            out.append(table(("Model", "Attribute", "Demographic parity difference", "Equalized odds difference"), groups,
                             numeric=(False, False, True, True), caption="Does privacy cost fairness? Group gaps of each model on the test split"))
    notes = g(p, "notes", default=())
    if notes:
        out.append(Bullets(tuple(map(str, notes))))
    return out


def _robustness(rb: Mapping[str, Any]) -> list[Block]:
    metric = g(rb, "metric", default="metric")
    out: list[Block] = [Facts(((f"Clean {metric}", f"{num(g(rb, 'clean_metric'))} on {num(g(rb, 'n_rows'))} test rows"),
                               ("A flip", str(g(rb, "flip_definition", default="a changed decision")))))]
    curves = [c for c in (g(rb, k) for k in ("noise", "categorical_corruption", "missing_values")) if isinstance(c, Mapping)]
    rows = [(c.get("name"), c.get("unit"), p.get("level"), num(p.get("metric")), num(p.get("flip_rate")))
            for c in curves for p in _rows(c.get("points"))]
    if rows:
        out += [Heading("Perturbations"), table(("Perturbation", "Unit", "Level", metric.capitalize(), "Flip rate"), rows,
                                               numeric=(False, False, True, True, True), caption="Means over the repeats at each level")]
    att = g(rb, "attacks", default={})
    if att:
        out.append(Heading("Evasion attacks"))
        found = [a for a in (g(att, "decision_based"), g(att, "gradient")) if isinstance(a, Mapping)]
        if found:
            out.append(table(("Attack", "Kind", "Rows", "Success rate", "By budget", "Median minimal perturbation"),
                             [(a.get("name"), a.get("kind"), a.get("n_rows"), num(a.get("success_rate")),
                               ", ".join(f"{num(b.get('budget'), 2)}: {num(b.get('success_rate'))}" for b in _rows(a.get("success_by_budget"))),
                               num(a.get("median_min_perturbation"))) for a in found],
                             numeric=(False, False, True, True, False, True),
                             caption=f"Budgets in standard deviations ({g(att, 'norm', default='?')} norm); "
                                     f"immutable features: {', '.join(map(str, g(att, 'fixed_features', default=()))) or 'none'}"))
        else:
            out.append(Paragraph(str(g(att, "note", default="No attack ran.")), muted=True))
    flips = _rows(g(rb, "flip_tests"))
    if flips:
        out += [Heading("Flip tests"), table(("Column changed", "Role", "Flip rate", "By group"),
                                             [(f.get("column"), f.get("role"), num(f.get("flip_rate")),
                                               "; ".join(f"{x.get('group')}: {num(x.get('flip_rate'))}" for x in _rows(f.get("groups"))))
                                              for f in flips], numeric=(False, False, True, False),
                                             caption="Share of decisions that change when only this column is set to another value")]
    edge = g(rb, "edge_cases", default={})
    worst = sorted((x for x in _rows(g(edge, "slices")) if x.get("n")), key=lambda x: -(finite_or_none(x.get("gap")) or 0))[:5]
    if worst:
        out += [Heading("Edge cases"), table(("Feature", "Slice", "Rows", g(edge, "metric", default=metric), "Gap"),
                                             [(x.get("feature"), x.get("slice"), x.get("n"), num(x.get("metric")), num(x.get("gap"))) for x in worst],
                                             numeric=(False, False, True, True, True),
                                             caption=f"Worst slices (gap > 0: worse than the overall {num(g(edge, 'overall'))})")]
    return out


def privacy_tradeoffs(r: Mapping[str, Any]) -> tuple[str, ...]:
    """The privacy-utility trade-off of each DP model, for the Model Card Toolkit's tradeoffs."""
    models = _rows(g(r, "privacy", "models"))
    base = {m.get("network"): m for m in models if m.get("role") == "non_private"}
    out = []
    for m in models:
        if m.get("role") == "dp" and m.get("network") in base:
            b = base[m.get("network")]
            out.append(f"Differential privacy at epsilon {num(m.get('epsilon_spent'), 2)} changes accuracy from {num(b.get('accuracy'))} "
                       f"to {num(m.get('accuracy'))} ({m.get('network', 'network')}).")
    return tuple(out)


# A section is drawn by its dedicated renderer only when it has one of these fields.
_KNOWN = {"explanations": {"importance", "explainer"}, "robustness": {"clean_metric", "flip_tests", "noise"},
          "drift": {"data", "comparison"}, "privacy": {"models", "accountant"}}
_RENDERERS: dict[str, Callable[[Mapping[str, Any]], list[Block]]] = {
    "explanations": _explanations, "drift": _drift, "privacy": _privacy, "robustness": _robustness,
}
