"""Drift: per-feature drift with thresholds, distributions, the domain classifier, prediction and performance shift."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import drift as charts

report = ui.require_report()
ui.header(report, "Drift", "drift")
dr = ui.require_section(report, "drift")
ui.verdict(dr.verdict)
data = dr.data
st.caption(f"{ui.md(dr.comparison)}: {dr.n_reference:,} reference rows ({ui.md(dr.reference_source)}), "
           f"{dr.n_current:,} current rows ({ui.md(dr.current_source)})"
           + (f" · simulated shift {ui.md(dr.simulated_shift)}" if dr.simulated_shift else ""))
c = st.columns(3)
c[0].metric("Features drifted", f"{data.n_drifted} of {data.n_features}", help=f"{ui.md(data.correction)}-adjusted p < {data.alpha} and effect above threshold")
c[1].metric("Domain classifier AUC", ui.fmt(data.domain.auc.value) if data.domain else "n/a", help=ui.md(data.domain_note) if data.domain_note else "0.5: indistinguishable")
if dr.prediction is not None:
    c[2].metric("Prediction drift", "yes" if dr.prediction.drifted else "no",
                help=f"{ui.md(dr.prediction.test)} p = {dr.prediction.p_value_adjusted:.2g}, against {ui.md(dr.prediction_reference)}")
elif dr.prediction_note:
    c[2].metric("Prediction drift", "not run", help=ui.md(dr.prediction_note))
    st.info(f"Prediction drift not run: {ui.md(dr.prediction_note)}")

def features_view() -> None:
    ui.chart(charts.feature_drift_chart(data))
    names = [f.feature for f in data.features]
    default = names.index(data.drifted_features[0]) if data.drifted_features else 0
    pick = st.selectbox("Distribution of", range(len(names)), index=default, format_func=names.__getitem__, key="drift_feature")
    ui.chart(charts.distribution_chart(data.features[pick]))
    ui.table([{"feature": f.feature, "test": f.test, "adjusted p": f.p_value_adjusted, "effect": f.effect_metric,
               "effect size": f.effect_size, "threshold": f.effect_threshold, "drifted": f.drifted, "PSI": f.psi,
               "missing ref": f.missing_reference, "missing cur": f.missing_current} for f in data.features], download="drift_features.csv")


def domain_view() -> None:
    if data.domain is None:
        st.info(ui.md(data.domain_note) or "The domain classifier did not run.")
    else:
        ui.chart(charts.domain_classifier_chart(data.domain))


def outputs_view() -> None:
    left, right = st.columns(2)
    for col, extra, what in ((left, dr.prediction, "model scores"), (right, dr.labels, "labels")):
        with col:
            if extra is not None:
                ui.chart(charts.distribution_chart(extra))
            elif extra is dr.prediction and dr.prediction_note:
                st.info(f"No drift test of the {what}: {ui.md(dr.prediction_note)}")
            else:
                st.caption(f"No drift test of the {what}.")
    if dr.performance:
        ui.chart(charts.performance_shift_chart(dr.performance))
    elif dr.performance_note:
        st.info(ui.md(dr.performance_note))


ui.lazy_tabs({"Per feature": features_view, "Domain classifier": domain_view, "Predictions, labels, performance": outputs_view},
             key="drift_tab")
ui.whole_json(dr)
