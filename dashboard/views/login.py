"""Sign in: the account that saves, reviews and browses audits in the shared store."""

import streamlit as st

from dashboard import components as ui
from dashboard.components import auth

st.title("Sign in")
user = auth.require_user()
st.success(f"You can save audits, review them and browse their history as **{ui.md(user.username)}**.")
c = st.columns(2)
c[0].page_link("views/reviews.py", label="Reviews", icon=":material/rate_review:")
c[1].page_link("views/history.py", label="History", icon=":material/history:")
