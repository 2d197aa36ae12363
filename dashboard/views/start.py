"""New audit: the embedded sample in one click, or an uploaded table with pickers, schema and options."""

import functools

import streamlit as st

from audit.pipeline import run_audit
from dashboard import components as ui
from dashboard import forms, state
from dashboard.components import intake

st.title("New audit")
st.markdown("Audit your own model (ONNX, skops or a predictions column) or baseline models trained on a table: performance, fairness, explanations, robustness, "
            "drift and privacy, each with a pass / warn / fail verdict and the reasons behind it.")
progress_area = st.container()  # progress shows at the top, whichever button started the run

pending = intake.sample_panel()
pending = intake.upload_panel() or pending
opened = intake.open_report_panel()

if opened is not None:
    st.switch_page(ui.OVERVIEW_PAGE)

if pending is not None:
    with progress_area:
        report = ui.run_audit_with_progress(pending.config, pending.data, current=pending.current, key=pending.key,
                                            available=forms.available_sections(),
                                            run=functools.partial(run_audit, model_file=pending.model_file))
    if report is not None:
        state.set_current(report, pending.key)
        st.switch_page(ui.OVERVIEW_PAGE)
