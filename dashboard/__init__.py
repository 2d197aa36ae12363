"""Streamlit dashboard: renders audit reports, never computes them.

``charts`` and ``forms`` are pure (no streamlit import); ``state`` is the only
module touching ``st.session_state`` and the ``st.cache_*`` decorators.
"""
