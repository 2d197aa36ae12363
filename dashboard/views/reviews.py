"""Reviews: save the current audit to the shared store, submit it, comment, decide; the audit trail."""

import streamlit as st

from dashboard import state
from dashboard.components import auth
from dashboard.components import reviews as panels

st.title("Reviews")
user = auth.require_user()
store = auth.open_store()

report = state.current_report()
audit_id = state.saved_audit_id(state.current_key() or "report")
if report is not None and audit_id is None:
    panels.save_panel(store, user, report)
panels.review_queue(store, user, current=audit_id)
if audit_id is None:
    st.info("No stored audit is open. Save the current audit above, open one waiting for review, "
            "or open any past audit on the History page.")
    st.page_link("views/history.py", label="History", icon=":material/history:")
    st.stop()

record = panels.load(store, user, audit_id)
panels.header(record)
panels.workflow(store, user, record)
panels.comments(store, user, record)
panels.trail(store, user, audit_id)
