"""Model card: editable narrative and downloads (Markdown, HTML, PDF, Model Card Toolkit JSON)."""

import streamlit as st

from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Model card")
st.info("The model card exporter (audit/modelcard.py) is not part of this build yet; "
        "the editable narrative and the downloads appear here once it lands.")
