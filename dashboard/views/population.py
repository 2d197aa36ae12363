"""Every row: counts, representation, base rates and the model's rates over every row of the table, per group."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import classes as class_charts

report = ui.require_report()
ui.header(report, "Every row", "population")
po = ui.require_section(report, "population")
ui.verdict(po.verdict)
st.caption(ui.md(po.statement))
stats = po.stats
groups_of, gaps_of = stats.groups, po.gaps
if stats.classes:  # multiclass: one class at a time, one-vs-rest; the worst class first
    classes = list(stats.classes)
    label = st.selectbox("Class (one-vs-rest)", classes, index=classes.index(po.worst_class) if po.worst_class in classes else 0,
                         key="population_class", format_func=lambda c: c + (" (worst)" if c == po.worst_class else ""))
    label = label or classes[0]
    groups_of, gaps_of = stats.per_class[label], po.per_class_gaps.get(label, {})
overall = groups_of["overall"]["all"]
rule = "predicted class = the most probable one" if stats.classes else f"threshold {stats.threshold:g}"
c = st.columns(4)
c[0].metric("Rows counted", f"{po.rows:,}", help=f"of {po.rows_in_table:,} in the table; on {ui.md(po.engine)}")
c[1].metric("Rows the sampled sections audited", f"{po.sample_rows:,}")
c[2].metric("Accuracy over every row", ui.fmt(overall.rates["accuracy"]),
            help=f"{rule}; the model was fitted on {po.model_fitted_on:,} of these rows")
c[3].metric("Base rate" + (f" of {ui.md(label)}" if stats.classes else ""), ui.fmt(overall.rates["base_rate"]))

keys = [k for k in groups_of if k != "overall"]
key = st.segmented_control("Groups of", keys, default=keys[0], format_func=ui.md, key="population_key") or keys[0]
level = f"{stats.confidence:.0%}"
ui.table([{"group": g, "rows": r.n, "share": r.share, "base rate": r.rates["base_rate"],
           "selection rate": r.rates["selection_rate"],
           f"selection {level} CI": "[{}, {}]".format(*map(ui.fmt, r.intervals["selection_rate"])),
           "accuracy": r.rates["accuracy"], "TPR": r.rates["tpr"], "FPR": r.rates["fpr"], "AUC (binned)": r.auc,
           "TN": r.counts["tn"], "FP": r.counts["fp"], "FN": r.counts["fn"], "TP": r.counts["tp"],
           "below minimum size": r.n < po.min_group_size}
          for g, r in [("all", overall), *groups_of[key].items()]], download=f"population_{key.replace(' ', '_')}.csv")
gaps = gaps_of.get(key, {})
st.caption("Highest minus lowest rate among groups of at least "
           f"{po.min_group_size:,} rows: " + ", ".join(f"{ui.md(m)} {ui.fmt(v)}" for m, v in gaps.items()))
if stats.classes:
    st.caption("Counts are one-vs-rest for the chosen class; accuracy is the share whose predicted class is right.")
    group = st.selectbox("Confusion matrix over every row of", ["all", *stats.confusion[key]], key="population_confusion")
    matrix = stats.confusion["overall"]["all"] if group in (None, "all") else stats.confusion[key][group]
    where = "every row" if group in (None, "all") else f"{key} = {group}"
    ui.chart(class_charts.confusion_counts_chart(matrix, stats.classes, f"Confusion matrix, {where}"), key="population_confusion_chart")
ui.whole_json(po)
