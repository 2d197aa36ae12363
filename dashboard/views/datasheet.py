"""Data: the datasheet of the audited table (schema, missingness, groups, base rates, proxies)."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import data as charts
from dashboard.components import datasheet

report = ui.require_report()
ui.header(report, "Data", "data")
m = report.manifest
if "data" in report.scorecard:
    ui.verdict(report.scorecard["data"])

c = st.columns(4)
c[0].metric("Rows in the file", f"{m.dataset.rows:,}")
c[1].metric("Rows audited", f"{m.rows_used:,}", help="a seeded sample" if m.sampled else "every row")
c[2].metric("Features", len(m.features))
c[3].metric("Task", ui.md(m.task), help=f"positive class: {ui.md(m.positive_label)}" if m.positive_label is not None else None)
st.caption(f"File sha256 {m.dataset.sha256}" + (f" · current data: {ui.md(m.current_dataset.name)}, "
                                                f"{m.current_dataset.rows:,} rows" if m.current_dataset else ""))
for w in m.warnings:
    st.warning(ui.md(w))

st.subheader("Schema")
ui.table([{"column": s.name, "type": s.kind, "role": s.role, "missing": s.missing,
           "missing %": round(100 * s.missing / m.rows_used, 2) if m.rows_used else 0.0,
           "unique": s.unique, "why excluded": s.reason or ""} for s in m.schema], download="columns.csv")
if any(s.missing for s in m.schema):
    ui.chart(charts.missingness_chart(m.schema, m.rows_used))
else:
    st.caption("No column has missing values.")

datasheet.render_groups(report)
