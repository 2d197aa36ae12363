"""Fairness: per-group metrics with intervals, disparities, the four-fifths rule, mitigations and their trade-off."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import classes as class_charts
from dashboard.charts import fairness as charts

report = ui.require_report()
ui.header(report, "Fairness", "fairness")
fr = ui.require_section(report, "fairness")
ui.verdict(fr.verdict)
overall = fr
if fr.per_class:  # multiclass: one class at a time, one-vs-rest; the worst class first
    classes = list(fr.per_class)
    label = st.selectbox("Class (one-vs-rest)", classes, index=classes.index(fr.worst_class) if fr.worst_class in classes else 0,
                         key="fair_class", format_func=lambda c: c + (" (worst)" if c == fr.worst_class else ""))
    fr = class_charts.fairness_class_slice(fr, label or classes[0])
    st.caption(f"Rates below are for predicting {ui.md(label)} or not. fairlearn's mitigations support binary targets only and were not run.")

keys = list(fr.keys)
key = st.segmented_control("Groups by", keys, default=keys[0], format_func=ui.md, key="fair_key") or keys[0]
dis = fr.disparities_adequate.get(key, {})
c = st.columns(4)
for col, name in zip(c, [n for n in charts.disparity_names(fr, key) if n.endswith("difference")][:2]):
    if name in dis:
        col.metric(charts.disparity_name(name), ui.fmt(dis[name].value),
                   help=f"{fr.confidence:.0%} CI [{ui.fmt(dis[name].low)}, {ui.fmt(dis[name].high)}]; groups of at least {fr.min_group_size} test rows")
ff = fr.four_fifths.get(key)
if ff is not None:
    c[2].metric("Four-fifths rule", "passes" if ff.passes else "fails",
                help=f"lowest ratio {ff.lowest_ratio:.2f} ({ui.md(ff.lowest_group)} vs {ui.md(ff.reference_group)})")
c[3].metric("Proxy features", str(len(fr.flagged_proxies())), help="see the Data page")

held = charts.group_metric_names(fr, key)
preferred = [m for m in ("selection_rate", "tpr", "fpr") if m in held] or held[:3]
pick = st.multiselect("Metrics", held, default=preferred, format_func=charts.disparity_name, key=f"fair_metrics_{key}")
ui.chart(charts.group_metrics_chart(fr, key, pick or preferred))
ui.table([{"group": r.group, "test rows": r.count, "adequate": r.adequate,
           **{charts.GROUP_METRICS.get(m, m): ui.fmt_ci(iv.value, iv.low, iv.high) for m, iv in r.metrics.items()}}
          for r in fr.groups[key]], download="fairness_groups.csv")
for group, why in fr.excluded_groups.get(key, {}).items():
    st.caption(f"{ui.md(group)}: {ui.md(why)}")

left, right = st.columns(2)
with left:
    ui.chart(charts.disparity_chart(fr, key))
with right:
    if ff is not None:
        ui.chart(charts.four_fifths_chart(ff, key))

st.subheader("Mitigations")
disparity = st.selectbox("Disparity", [d for d in charts.disparity_names(fr, key) if d.endswith("difference")],
                         format_func=charts.disparity_name, key=f"fair_tradeoff_{key}")
if disparity is not None:
    ui.chart(charts.tradeoff_chart(fr, key, disparity=disparity))
ui.table([{"variant": v.label, "status": v.status, "detail": v.detail, "fitted on": f"{v.fit_split} ({v.fit_rows:,} rows)",
           **{ui.metric_name(m): iv.value for m, iv in v.metrics.items()},
           charts.disparity_name(disparity or ""): v.disparities.get(key, {}).get(disparity).value
           if v.disparities.get(key, {}).get(disparity) else None, "seconds": v.seconds}
          for v in (*fr.mitigations, fr.unawareness) if v is not None])
if overall.group_accuracy:
    st.subheader("Accuracy per group (all classes)")
    ui.table([{"group": g.group, "test rows": g.count, "adequate": g.adequate,
               "accuracy": ui.fmt_ci(g.metrics["accuracy"].value, g.metrics["accuracy"].low, g.metrics["accuracy"].high)}
              for g in overall.group_accuracy.get(key, ())])
ui.whole_json(overall)
