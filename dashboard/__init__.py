"""Streamlit dashboard: renders audit reports, never computes them.

``charts`` (one module per area) and ``forms`` are pure (no streamlit import);
``components`` holds the page helpers and panels; ``state`` is the only module
touching ``st.session_state`` and the ``st.cache_*`` decorators.
"""
