"""Every row: counts, representation, base rates and the model's rates over every row of the table, per group."""

import streamlit as st

from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Every row", "population")
po = ui.require_section(report, "population")
ui.verdict(po.verdict)
st.caption(ui.md(po.statement))
stats = po.stats
overall = stats.groups["overall"]["all"]
c = st.columns(4)
c[0].metric("Rows counted", f"{po.rows:,}", help=f"of {po.rows_in_table:,} in the table; on {ui.md(po.engine)}")
c[1].metric("Rows the sampled sections audited", f"{po.sample_rows:,}")
c[2].metric("Accuracy over every row", ui.fmt(overall.rates["accuracy"]),
            help=f"threshold {stats.threshold:g}; the model was fitted on {po.model_fitted_on:,} of these rows")
c[3].metric("Base rate", ui.fmt(overall.rates["base_rate"]))

keys = [k for k in stats.groups if k != "overall"]
key = st.segmented_control("Groups of", keys, default=keys[0], format_func=ui.md, key="population_key") or keys[0]
level = f"{stats.confidence:.0%}"
ui.table([{"group": g, "rows": r.n, "share": r.share, "base rate": r.rates["base_rate"],
           "selection rate": r.rates["selection_rate"],
           f"selection {level} CI": "[{}, {}]".format(*map(ui.fmt, r.intervals["selection_rate"])),
           "accuracy": r.rates["accuracy"], "TPR": r.rates["tpr"], "FPR": r.rates["fpr"], "AUC (binned)": r.auc,
           "TN": r.counts["tn"], "FP": r.counts["fp"], "FN": r.counts["fn"], "TP": r.counts["tp"],
           "below minimum size": r.n < po.min_group_size}
          for g, r in [("all", overall), *stats.groups[key].items()]], download=f"population_{key.replace(' ', '_')}.csv")
gaps = po.gaps.get(key, {})
st.caption("Highest minus lowest rate among groups of at least "
           f"{po.min_group_size:,} rows: " + ", ".join(f"{ui.md(m)} {ui.fmt(v)}" for m, v in gaps.items()))
ui.whole_json(po)
