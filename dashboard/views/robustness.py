"""Robustness: noise, corruption and missing-value curves, evasion attacks, flip tests, edge cases."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import robustness as charts

report = ui.require_report()
ui.header(report, "Robustness", "robustness")
rb = ui.require_section(report, "robustness")
ui.verdict(rb.verdict)
th = dict(rb.thresholds)
c = st.columns(3)
c[0].metric(f"Clean {ui.md(ui.metric_name(rb.metric))}", ui.fmt(rb.clean_metric), help=f"{rb.n_rows:,} test rows")
att = rb.attacks.decision_based or rb.attacks.gradient
c[1].metric("Attack success (any budget)", f"{att.success_rate:.0%}" if att else "n/a", help=ui.md(rb.attacks.note) if rb.attacks.note else None)
c[2].metric("Decisions flipped by a sensitive value", f"{max((f.flip_rate for f in rb.flip_tests), default=0):.1%}",
            help=ui.md(rb.flip_definition))


def perturbations() -> None:
    curves = (rb.noise, rb.categorical_corruption, rb.missing_values)
    ui.chart(charts.perturbation_chart(curves, metric=rb.metric))
    for curve in curves:
        if curve.note:
            st.caption(f"{curve.name.replace('_', ' ').capitalize()}: {ui.md(curve.note)}")


def attacks() -> None:
    if rb.attacks.applicable:
        ui.chart(charts.attack_chart(rb.attacks, thresholds=th))
        st.caption(f"Mutable: {ui.md(', '.join(rb.attacks.mutable_features))} · fixed: {ui.md(', '.join(rb.attacks.fixed_features))}")
    else:
        st.info(f"No attack ran: {ui.md(rb.attacks.note)}")


def flip_tests() -> None:
    for ft in rb.flip_tests:
        sens = ft.role == "sensitive"
        ui.chart(charts.flip_test_chart(ft, warn=th.get("warn_sensitive_flip" if sens else "warn_proxy_flip"),
                                        fail=th.get("fail_sensitive_flip") if sens else None))


def edge_cases() -> None:
    ec = rb.edge_cases
    ui.table([{"feature": s.feature, "slice": s.slice, "threshold": s.threshold, "rows": s.n, ui.metric_name(ec.metric): s.metric,
               "gap vs overall": s.gap} for s in ec.slices], download="robustness_edge_slices.csv")
    for what, why in ec.skipped.items():
        st.caption(f"{ui.md(what)}: {ui.md(why)}")


ui.lazy_tabs({"Perturbations": perturbations, "Evasion attacks": attacks, "Flip tests": flip_tests, "Edge cases": edge_cases},
             key="robust_tab")
ui.whole_json(rb)
