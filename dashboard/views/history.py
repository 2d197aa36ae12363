"""History: past audits with filters; open one exactly as it was saved; compare two side by side."""

import streamlit as st

from dashboard import components as ui
from dashboard.components import auth
from dashboard.components import history as panels

st.title("History")
user = auth.require_user()
store = auth.open_store()

audits = panels.filtered_list(store, user)
if panels.open_panel(store, user, audits):
    st.switch_page(ui.OVERVIEW_PAGE)
st.divider()
panels.compare_panel(store, user, audits)
