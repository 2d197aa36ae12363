"""Responsible-AI audit core: data, baseline models, and audit sections.

This package never imports streamlit; the dashboard renders what it computes.
"""

__version__ = "0.1.0"
