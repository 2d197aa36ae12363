"""Overview: the scorecard (pass / warn / fail per area with reasons) and the headline numbers."""

import streamlit as st

from audit.sections import registry
from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Overview")
st.markdown(f"Overall verdict {ui.badge(report.overall_status)}: the worst status of the areas below.")

for i, area in enumerate(registry.active().scorecard_areas):
    if i % 3 == 0:
        row = st.columns(3)
    v = report.scorecard.get(area)
    with row[i % 3].container(border=True, height="stretch"):
        st.markdown(f"#### {ui.area_label(area)} {ui.badge(v.status if v else None)}")
        for label, value, help in ui.headlines(report, area):
            st.metric(ui.md(label), value, help=ui.md(help) if help else None)
        if v is None:
            t = ui.section_timing(report, area)
            lead = "Not run" if t and t.status == "not run" else "Not computed"
            st.caption(f"{lead}: {ui.md(t.message) if t and t.message else 'not in this report'}.")
        else:
            st.markdown("\n".join(f"- {ui.md(r)}" for r in v.reasons) or "- no findings")

m = report.manifest
with st.expander("How this audit ran: timings, warnings, configuration"):
    ui.table([{"step": t.name, "status": t.status, "seconds": round(t.seconds, 2), "note": t.message} for t in m.timings])
    for w in m.warnings:
        st.warning(ui.md(w))
    st.caption(ui.md(f"seed {m.seed} · Python {m.python} · tool {m.tool_version} · "
                     + " · ".join(f"{k} {v}" for k, v in m.libraries.items())))
    st.json(dict(m.config), expanded=False)
st.download_button("Download the report (JSON)", data=lambda: report.to_json(), file_name="report.json",
                   mime="application/json", icon=":material/download:")
