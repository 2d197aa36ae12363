"""Reviews: coming with the audit store (audit/store.py)."""

import streamlit as st

st.title("Reviews")
st.info("Coming soon: sign in, save audits to the shared store, review them and browse their history.")
