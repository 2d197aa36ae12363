"""New audit: the embedded sample in one click, or an uploaded table with pickers, schema and options.

Signed in, an audit runs as a background job (components/jobs.py) listed at the top of the page.
"""

import functools

import streamlit as st

from audit.pipeline import run_audit
from dashboard import components as ui
from dashboard import forms, state
from dashboard.components import intake, jobs

st.title("New audit")
st.markdown("Audit your own model (ONNX, skops or a predictions column) or baseline models trained on a table: performance, fairness, explanations, robustness, "
            "drift and privacy, each with a pass / warn / fail verdict and the reasons behind it.")
user, _ = state.checked_user()
jobs_area = st.container()  # the jobs (or an in-page run's progress) show at the top, whichever button started it

pending = intake.sample_panel()
pending = intake.upload_panel() or pending
opened = intake.open_report_panel()

if opened is not None:
    st.switch_page(ui.OVERVIEW_PAGE)

if pending is not None and user is not None:
    jobs.submit(pending, user)
elif pending is not None:
    with jobs_area:
        report = ui.run_audit_with_progress(pending.config, pending.data, current=pending.current, key=pending.key,
                                            available=forms.available_sections(),
                                            run=functools.partial(run_audit, model_file=pending.model_file))
    if report is not None:
        state.set_current(report, pending.key)
        st.switch_page(ui.OVERVIEW_PAGE)

with jobs_area:
    if user is not None:
        jobs.jobs_panel(user)
    else:
        st.caption("Sign in to run audits as background jobs that survive a reload and that your team can follow.")
