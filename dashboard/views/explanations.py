"""Explanations: SHAP global and local, dependence, group gaps, permutation importance, surrogate, error cohorts."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import classes as class_charts
from dashboard.charts import explanations as charts

report = ui.require_report()
ui.header(report, "Explanations", "explanations")
ex = ui.require_section(report, "explanations")
ui.verdict(ex.verdict)
c = st.columns(4)
c[0].metric("Explainer", ui.md(ex.explainer), help=ui.md(f"{ex.sample_strategy}; background {ex.n_background}; output {ex.output_space}"))
c[1].metric("Rows explained", f"{ex.n_explained:,}", help=f"of {ex.n_test:,} test rows")
c[2].metric("Additivity error (max)", f"{ex.additivity.max_abs_error:.1e}", help=f"tolerance {ex.additivity.tolerance:g}, against {ui.md(ex.additivity.compared_with)}")
c[3].metric("Surrogate fidelity", ui.fmt(ex.surrogate.fidelity), help=f"{ui.md(ex.surrogate.fidelity_metric)}; a constant guess scores {ui.fmt(ex.surrogate.baseline_fidelity)}")


def global_view() -> None:
    shown = ex
    if ex.per_class:  # multiclass: summed over classes, or one class's own output
        label = st.selectbox("Importance for", [None, *ex.per_class], key="explain_class",
                             format_func=lambda c: "all classes (summed)" if c is None else c)
        shown = class_charts.explanations_class_slice(ex, label)
    left, right = st.columns(2)
    with left:
        ui.chart(charts.shap_bar_chart(shown))
    with right:
        ui.chart(charts.permutation_chart(ex.permutation))


def beeswarm_view() -> None:
    ui.chart(charts.shap_beeswarm_chart(ex))
    st.caption("One dot per explained row; numeric features coloured from their lowest (blue) to highest (red) value, "
               "categories in grey (hover to see the value).")


def row_view() -> None:
    row = st.selectbox("Explained row", range(len(ex.rows)), key="explain_row", format_func=lambda i:
                       f"data row {ex.data_rows[i]}: " + (f"predicted {ex.predicted_classes[i]} ({ex.predictions[i]:.3f}), "
                                                          f"label {ex.classes[int(ex.labels[i])]}" if ex.classes else
                                                          f"score {ex.predictions[i]:.3f}, label {ex.labels[i]:g}"))
    ui.chart(charts.shap_waterfall_chart(ex, row))
    ui.table([{"feature": f, "value": v, "SHAP": s} for f, v, s in charts.row_contributions(ex, row)])


def dependence_view() -> None:
    if ex.dependence:
        pick = st.selectbox("Feature", range(len(ex.dependence)), format_func=lambda i: ex.dependence[i].feature, key="explain_dep")
        ui.chart(charts.dependence_chart(ex.dependence[pick]))


def groups_view() -> None:
    for gap in ex.group_gaps:
        ui.chart(charts.group_gap_chart(gap))
    ui.table([{"attribute": g.attribute, "group": g.group, "rows": g.n, "small": g.small, "mean output": g.mean_output}
              for g in ex.by_group], download="explanation_groups.csv")


def rules_view() -> None:
    st.code(ex.surrogate.text, language=None)
    st.markdown(f"**Error cohorts** (overall {ui.md(ex.errors.error_metric.replace('_', ' '))} "
                f"{ui.fmt_ci(ex.errors.overall.value, ex.errors.overall.low, ex.errors.overall.high)})")
    if 0 < ex.errors.n_cluster_fit < ex.errors.n_test:
        st.caption(f"k-means was fitted on a seeded sample of {ex.errors.n_cluster_fit:,} of the {ex.errors.n_test:,} test rows "
                   "(explanations.cluster_max_rows); every row is labelled by its nearest centre.")
    ui.table([{"cohort": co.description, "method": co.method, "rows": co.size, "error": co.error.value, "CI low": co.error.low,
               "CI high": co.error.high, "vs overall": co.versus_overall} for co in (*ex.errors.tree_cohorts, *ex.errors.cluster_cohorts)], download="error_cohorts.csv")


ui.lazy_tabs({"Global": global_view, "Beeswarm": beeswarm_view, "One row": row_view, "Dependence": dependence_view, "Groups": groups_view,
              "Surrogate and errors": rules_view}, key="explain_tab")
ui.whole_json(ex)
