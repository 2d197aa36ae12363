"""Performance: test metrics with bootstrap intervals, confusion matrix, calibration, learning curve, leaderboard."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import classes as class_charts
from dashboard.charts import performance as charts

report = ui.require_report()
ui.header(report, "Performance", "performance")
perf = ui.require_section(report, "performance")
models = report.models
ui.verdict(perf.verdict)

k = perf.primary_metric
c = st.columns(4)
c[0].metric(f"{ui.md(ui.metric_name(k))} (test)", ui.fmt(perf.metrics[k].value),
            help=f"{perf.confidence:.0%} CI [{ui.fmt(perf.metrics[k].low)}, {ui.fmt(perf.metrics[k].high)}]")
c[1].metric("Dummy baseline", ui.fmt(perf.baseline_primary))
c[2].metric("Train - test gap", ui.fmt(perf.train_test_gap))
if "ece" in perf.metrics:
    c[3].metric("Calibration error (ECE)", ui.fmt(perf.metrics["ece"].value))

ui.table([{"metric": ui.metric_name(name), "test": mc.value, f"CI low ({perf.confidence:.0%})": mc.low,
           "CI high": mc.high, "train": perf.train_metrics[name]} for name, mc in perf.metrics.items()],
         column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("test", f"CI low ({perf.confidence:.0%})", "CI high", "train")})
decision = (f"{len(perf.classes)} classes, the most probable is predicted" if perf.classes
            else f"decision threshold {perf.decision_threshold:g}")
st.caption(f"Audited model: {ui.md(models.selected_label if models else perf.model)} · {perf.n_test:,} test rows · "
           f"{perf.n_bootstrap:,} bootstrap resamples · {decision}.")


def metrics_view() -> None:
    left, right = st.columns(2)
    with left:
        ui.chart(charts.metric_ci_chart(perf))
    with right:
        if perf.confusion_matrix:
            ui.chart(charts.confusion_matrix_chart(perf, models.positive_label if models else None))


def calibration_view() -> None:
    left, right = st.columns(2)
    with left:
        if perf.reliability:
            ui.chart(charts.reliability_chart(perf))
    with right:
        if perf.learning_curve:
            ui.chart(charts.learning_curve_chart(perf))


def baselines_view() -> None:
    if models is None:
        st.info("The models section is not in this report.")
        return
    ui.chart(charts.leaderboard_chart(models))
    ui.table([{"model": r.label, "audited": r.selected, "CV mean": r.cv_mean, "CV std": r.cv_std, "validation": r.val_score,
               "test": r.test_score, "train": r.train_score, "fit seconds": r.fit_seconds} for r in models.leaderboard],
             column_config={c: st.column_config.NumberColumn(format="%.3f")
                            for c in ("CV mean", "CV std", "validation", "test", "train", "fit seconds")})
    st.caption(f"Splits: {models.n_train:,} train / {models.n_val:,} validation / {models.n_test:,} test rows; "
               f"{models.cv_folds}-fold cross-validation"
               + (f" on a seeded sample of {models.cv_rows:,} training rows" if 0 < models.cv_rows < models.n_train else "")
               + f"; {models.n_encoded_features} encoded features.")


def classes_view() -> None:
    metric = st.selectbox("Metric", class_charts.PER_CLASS_METRICS, format_func=ui.metric_name, key="perf_class_metric")
    ui.chart(class_charts.per_class_chart(perf, metric or "f1"))
    ui.table([{"class": lab, "test rows": perf.class_support.get(lab, 0),
               **{ui.metric_name(m): ui.fmt_ci(v.value, v.low, v.high) for m, v in perf.per_class[lab].items()}}
              for lab in perf.classes])


tabs = {"Metrics and errors": metrics_view, "Calibration and learning curve": calibration_view, "Baselines": baselines_view}
if perf.classes:
    tabs = {"Metrics and errors": metrics_view, "Per class": classes_view, **{k: v for k, v in tabs.items() if k != "Metrics and errors"}}
ui.lazy_tabs(tabs, key="perf_tab")
ui.whole_json(perf)
