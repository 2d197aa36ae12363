"""What this tool adds to a model card: explanations, robustness, drift, privacy and every-row results.

Each renderer reads its typed section report and picks the findings a card reader needs
(the full detail stays in the report and the dashboard). A section without a dedicated
renderer (one added to the report later) is drawn field by field by the generic renderer,
so nothing in a report is silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audit.cards.blocks import Bar, BarChart, Block, Bullets, Facts, Heading, Paragraph, Section, ci, finite_or_none, num, table
from audit.cards.generic import auto_blocks
from audit.cards.sections import not_run, verdict_block
from audit.report import AuditReport
from audit.sections.drift.section import DriftReport
from audit.sections.population.section import PopulationReport
from audit.sections.explanations.section import ExplanationReport
from audit.sections.privacy.section import ModelPrivacy, PrivacyReport
from audit.sections.robustness.section import RobustnessReport
from audit.serial import to_jsonable
from audit.sections import registry

TOP = 10


def extra_section(name: str, r: AuditReport) -> Section:
    sec = getattr(r, name)
    title = registry.active()[name].title
    if sec is None:
        return Section(name, title, not_run(name, r))
    render = _RENDERERS.get(name)
    body = render(sec) if render else auto_blocks(to_jsonable(sec))
    body.append(Paragraph(f"Full detail: the {name} section of the audit report and the dashboard.", muted=True))
    return Section(name, title, (verdict_block(sec), *body))


def _explanations(e: ExplanationReport) -> list[Block]:
    add = e.additivity
    facts = [
        ("Explainer", f"{e.explainer} on {num(e.n_explained)} of {num(e.n_test)} test rows "
                      f"({e.sample_strategy}), {num(e.n_background)} background rows"),
        ("Output explained", str(e.output_space)),
        ("Additivity check", f"{'passed' if add.passed else 'failed'}: max |error| {num(add.max_abs_error)} "
                             f"(tolerance {num(add.tolerance)}) on {num(add.n_rows)} rows"),
        (f"Sensitive features in the top {e.top_k}", ", ".join(map(str, e.sensitive_in_top_k)) or "none"),
    ]
    out: list[Block] = [Facts(tuple(facts))]
    imp = e.importance[:TOP]
    if imp:
        out += [Heading("Most influential features (mean |SHAP|)"),
                table(("Rank", "Feature", "Mean |SHAP|", "Mean SHAP", "Sensitive"),
                      [(x.rank, x.feature, num(x.mean_abs_shap, 4), num(x.mean_shap, 4), "yes" if x.sensitive else "") for x in imp],
                      numeric=(True, False, True, True, False)),
                BarChart("Mean |SHAP| of the top features (grey: sensitive attribute)",
                         tuple(Bar(x.feature, finite_or_none(x.mean_abs_shap) or 0.0, flagged=x.sensitive) for x in imp))]
    perm = e.permutation
    if perm.features:
        out += [Heading(f"Permutation importance (drop in {perm.metric})"),
                table(("Feature", "Mean drop", "Std"), [(x.feature, num(x.mean, 4), num(x.std, 4)) for x in perm.features[:TOP]],
                      numeric=(False, True, True))]
    if e.group_gaps:
        out.append(Heading("What drives the gap between groups"))
        out.append(Bullets(tuple(
            f"{x.attribute}: mean output of {x.high_group} exceeds {x.low_group} by {num(x.gap)}; "
            "largest contributions: " + ", ".join(f"{c.feature} ({num(c.contribution)})" for c in x.contributions[:3])
            for x in e.group_gaps)))
    return out + _surrogate(e) + _errors(e)


def _surrogate(e: ExplanationReport) -> list[Block]:
    sur = e.surrogate
    out: list[Block] = [
        Heading("Surrogate decision tree"),
        Paragraph(f"A depth-{sur.max_depth} tree with {sur.n_leaves} leaves mimics the model with "
                  f"{sur.fidelity_metric} {num(sur.fidelity)} on the test split "
                  f"(always predicting the most frequent output: {num(sur.baseline_fidelity)}).")]
    rules = sorted(sur.rules, key=lambda x: -(x.n_rows or 0))[:8]
    if rules:
        out.append(table(("Rule", "Prediction", "Positive share", "Training rows"),
                         [(" and ".join(map(str, x.conditions)) or "all rows", num(x.prediction), num(x.positive_share), x.n_rows)
                          for x in rules], numeric=(False, True, True, True), caption="Largest leaves"))
    return out


def _errors(e: ExplanationReport) -> list[Block]:
    err = e.errors
    cohorts = sorted(err.tree_cohorts + err.cluster_cohorts, key=lambda c: -(finite_or_none(c.error.value) or 0))
    cohorts = [c for c in cohorts if c.versus_overall == "higher"][:5]
    out: list[Block] = [Heading("Where the model errs most"),
                        Paragraph(f"Overall {err.error_metric}: {num(err.overall.value)} {ci(err.overall.low, err.overall.high)}."
                                  + (f" The k-means cohorts come from a fit on a seeded sample of {err.n_cluster_fit:,} of the "
                                     f"{err.n_test:,} test rows." if 0 < err.n_cluster_fit < err.n_test else ""))]
    if cohorts:
        out.append(table(("Cohort", "Rows", "Error", "Interval"),
                         [(c.description or " and ".join(map(str, c.conditions)), c.size, num(c.error.value), ci(c.error.low, c.error.high))
                          for c in cohorts], numeric=(False, True, True, True), caption="Cohorts whose error interval lies above the overall error"))
    else:
        out.append(Paragraph("No cohort's error is clearly above the overall error."))
    return out


def _drift(d: DriftReport) -> list[Block]:
    data = d.data
    facts = [("Comparison", str(d.comparison)),
             ("Reference", f"{d.reference_source} ({num(d.n_reference)} rows)"),
             ("Current", f"{d.current_source} ({num(d.n_current)} rows)")]
    if d.simulated_shift:
        facts.append(("Simulated shift", str(d.simulated_shift)))
    facts.append(("Drifted features", f"{num(data.n_drifted)} of {num(data.n_features)} "
                                      f"({', '.join(map(str, data.drifted_features)) or 'none'})"))
    dom = data.domain
    if dom is not None:
        facts.append(("Domain classifier AUC", f"{num(dom.auc.value)} {ci(dom.auc.low, dom.auc.high)} (0.5 = the two data sets are indistinguishable)"))
    # One entry per metric (ROC AUC and accuracy for binary tasks, R² for regression).
    for perf in d.performance:
        facts.append(("Performance shift", f"{perf.metric} {num(perf.reference.value)} {ci(perf.reference.low, perf.reference.high)} "
                                           f"on the reference, {num(perf.current.value)} {ci(perf.current.low, perf.current.high)} on current data"))
    if not d.performance and d.performance_note:
        facts.append(("Performance shift", str(d.performance_note)))
    pred = d.prediction
    if pred is not None:
        facts.append(("Prediction drift", f"{pred.effect_metric} {num(pred.effect_size)}, PSI {num(pred.psi)}"
                                          + (" (drifted)" if pred.drifted else "")))
    elif d.prediction_note:
        facts.append(("Prediction drift", f"not run: {d.prediction_note}"))
    out: list[Block] = [Facts(tuple(facts))]
    feats = sorted(data.features, key=lambda f: (not f.drifted, -(finite_or_none(f.effect_size) or 0)))
    if feats:
        out.append(table(("Feature", "Test", "Adjusted p", "Effect", "PSI", "Drifted"),
                         [(f.feature, f.test, num(f.p_value_adjusted, 4), f"{num(f.effect_size)} ({f.effect_metric})",
                           num(f.psi), "yes" if f.drifted else "") for f in feats[:15]],
                         numeric=(False, False, True, True, True, False),
                         caption="Features, drifted first, by effect size" + (f"; first 15 of {len(feats)}" if len(feats) > 15 else "")))
    return out


def _epsilon(m: ModelPrivacy) -> str:
    return num(m.epsilon_spent, 2) if finite_or_none(m.epsilon_spent) is not None else "none (not private)"


def _privacy(p: PrivacyReport) -> list[Block]:
    facts = [("Accountant", f"{p.accountant}, delta {num(p.delta, 6)}"),
             ("Membership-inference data", f"{num(p.n_attack_members)} members, {num(p.n_attack_nonmembers)} non-members")]
    if p.membership_note:
        facts.append(("Membership inference on the audited model", str(p.membership_note)))
    if p.sweep_note:
        facts.append(("DP sweep", str(p.sweep_note)))
    out: list[Block] = [Facts(tuple(facts))]
    if p.models:
        rows = []
        for m in p.models:
            best = max(m.membership or (), key=lambda a: finite_or_none(a.auc.value) or 0, default=None)
            rows.append((m.name, m.role, _epsilon(m), num(m.accuracy), num(m.roc_auc),
                         f"{num(best.auc.value)} {ci(best.auc.low, best.auc.high)}" if best else "not run" if m.membership is None else "n/a",
                         num(best.advantage) if best else "n/a"))
        out.append(table(("Model", "Role", "Epsilon spent", "Accuracy", "ROC AUC", "Strongest attack AUC", "Advantage"), rows,
                         numeric=(False, False, True, True, True, True, True),
                         caption="Membership-inference attack AUC of 0.5 means the attacker cannot tell training rows from others"))
        audited = p.audited
        if audited is not None and audited.membership:
            out.append(table(("Attack on the audited model", "AUC", "Interval", "Advantage", "TPR at low FPR"),
                             [(a.attack, num(a.auc.value), ci(a.auc.low, a.auc.high), num(a.advantage),
                               f"{num(a.tpr_at_low_fpr)} (at FPR {num(a.low_fpr, 3)})") for a in audited.membership],
                             numeric=(False, True, True, True, True)))
        groups = [(m.name, gm.attribute, num(gm.demographic_parity_difference), num(gm.equalized_odds_difference))
                  for m in p.models for gm in m.groups]
        if groups:
            out.append(table(("Model", "Attribute", "Demographic parity difference", "Equalized odds difference"), groups,
                             numeric=(False, False, True, True), caption="Does privacy cost fairness? Group gaps of each model on the test split"))
    if p.notes:
        out.append(Bullets(tuple(map(str, p.notes))))
    return out


def _robustness(rb: RobustnessReport) -> list[Block]:
    metric = rb.metric
    out: list[Block] = [Facts(((f"Clean {metric}", f"{num(rb.clean_metric)} on {num(rb.n_rows)} test rows"),
                               ("A flip", str(rb.flip_definition))))]
    rows = [(c.name, c.unit, p.level, num(p.metric), num(p.flip_rate))
            for c in (rb.noise, rb.categorical_corruption, rb.missing_values) for p in c.points]
    if rows:
        out += [Heading("Perturbations"), table(("Perturbation", "Unit", "Level", metric.capitalize(), "Flip rate"), rows,
                                               numeric=(False, False, True, True, True), caption="Means over the repeats at each level")]
    out += _evasion(rb)
    if rb.flip_tests:
        out += [Heading("Flip tests"), table(("Column changed", "Role", "Flip rate", "By group"),
                                             [(f.column, f.role, num(f.flip_rate), "; ".join(f"{x.group}: {num(x.flip_rate)}" for x in f.groups))
                                              for f in rb.flip_tests], numeric=(False, False, True, False),
                                             caption="Share of decisions that change when only this column is set to another value")]
    edge = rb.edge_cases
    worst = sorted((x for x in edge.slices if x.n), key=lambda x: -(finite_or_none(x.gap) or 0))[:5]
    if worst:
        out += [Heading("Edge cases"), table(("Feature", "Slice", "Rows", edge.metric, "Gap"),
                                             [(x.feature, x.slice, x.n, num(x.metric), num(x.gap)) for x in worst],
                                             numeric=(False, False, True, True, True),
                                             caption=f"Worst slices (gap > 0: worse than the overall {num(edge.overall)})")]
    return out


def _evasion(rb: RobustnessReport) -> list[Block]:
    att = rb.attacks
    found = [a for a in (att.decision_based, att.gradient) if a is not None]
    if not found:
        return [Heading("Evasion attacks"), Paragraph(str(att.note), muted=True)]
    return [Heading("Evasion attacks"),
            table(("Attack", "Kind", "Rows", "Success rate", "By budget", "Median minimal perturbation"),
                  [(a.name, a.kind, a.n_rows, num(a.success_rate),
                    ", ".join(f"{num(b.budget, 2)}: {num(b.success_rate)}" for b in a.success_by_budget),
                    num(a.median_min_perturbation)) for a in found],
                  numeric=(False, False, True, True, False, True),
                  caption=f"Budgets in standard deviations ({att.norm} norm); "
                          f"immutable features: {', '.join(map(str, att.fixed_features)) or 'none'}")]


def privacy_tradeoffs(r: AuditReport) -> tuple[str, ...]:
    """The privacy-utility trade-off of each DP model, for the Model Card Toolkit's tradeoffs."""
    models = r.privacy.models if r.privacy is not None else ()
    base = {m.network: m for m in models if m.role == "non_private"}
    # Beside the user's model the networks are references: the card must not read as if its model was retrained.
    ref = " reference network, not the audited model" if r.privacy is not None and r.privacy.sweep_note else ""
    return tuple(f"Differential privacy at epsilon {num(m.epsilon_spent, 2)} changes accuracy from {num(base[m.network].accuracy)} "
                 f"to {num(m.accuracy)} ({m.network}{ref})." for m in models if m.role == "dp" and m.network in base)


def _population(p: PopulationReport) -> list[Block]:
    o = p.stats.groups["overall"]["all"]
    multi = bool(p.stats.classes)
    shares = (f"accuracy {num(o.rates['accuracy'])}, the most probable class predicted" if multi else
              f"accuracy {num(o.rates['accuracy'])}, base rate {num(o.rates['base_rate'])}, "
              f"selection rate {num(o.rates['selection_rate'])} at threshold {num(p.stats.threshold)}")
    out: list[Block] = [Paragraph(p.statement), Facts((
        ("Rows counted", f"{num(p.rows)} of {num(p.rows_in_table)} in the table, on {p.engine}"),
        ("Over every row", shares),
    ))]
    keys = [k for k in p.stats.groups if k != "overall"]
    if multi:
        out += [Heading("Every-row selection-rate gaps per class (one-vs-rest)"),
                table(("Class", *keys), [(c + (" (worst)" if c == p.worst_class else ""),
                                          *(num(p.per_class_gaps.get(c, {}).get(k, {}).get("selection_rate")) for k in keys))
                                         for c in p.stats.classes], numeric=(False, *(True for _ in keys)))]
    for key in keys:
        groups = p.stats.groups[key]
        out += [Heading(f"Every row by {key}" + (f", class {p.worst_class} one-vs-rest" if multi else "")),
                table(("Group", "Rows", "Share", "Base rate", "Selection rate", "TPR", "FPR", "Accuracy"),
                      [(g, r.n, num(r.share), num(r.rates["base_rate"]), num(r.rates["selection_rate"]),
                        num(r.rates["tpr"]), num(r.rates["fpr"]), num(r.rates["accuracy"])) for g, r in list(groups.items())[:TOP * 3]],
                      numeric=(False, True, True, True, True, True, True, True))]
    return out


_RENDERERS: dict[str, Callable[[Any], list[Block]]] = {
    "explanations": _explanations, "drift": _drift, "privacy": _privacy, "robustness": _robustness,
    "population": _population,
}
