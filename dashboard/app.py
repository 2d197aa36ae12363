"""Entry point: ``streamlit run dashboard/app.py``. Declares the navigation and the sidebar summary."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # streamlit puts dashboard/ on the path, not the repository root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from audit.sections import registry  # noqa: E402
from dashboard import components as ui  # noqa: E402
from dashboard import state  # noqa: E402
from dashboard.components import auth  # noqa: E402
from dashboard.components import cookie, links  # noqa: E402

st.set_page_config(page_title="Responsible-AI audit", page_icon=":material/balance:", layout="wide")


def _page(file: str, title: str, icon: str, **kw) -> st.Page:
    # Page scripts live in views/, not pages/: with a pages/ directory, a fresh server runs a
    # deep-linked page (/login) as Streamlit's old multipage app, without this script.
    return st.Page(f"views/{file}.py", title=title, icon=f":material/{icon}:", url_path=file, **kw)


pages = {
    "Audit": [
        _page("start", "New audit", "play_arrow", default=True),
        _page("overview", "Overview", "dashboard"),
        _page("datasheet", "Data", "table_chart"),
    ],
    # One page per registered section, views/<name>.py, in the registry's order.
    "Sections": [_page(s.name, s.title, s.icon) for s in registry.active()],
    "Share": [
        _page("model_card", "Model card", "description"),
        _page("reviews", "Reviews", "rate_review"),
        _page("history", "History", "history"),
        _page("login", "Sign in", "login"),
    ],
}
nav = st.navigation(pages, expanded=True)
cookie.write_pending()  # a sign-in or sign-out of the last run reaches the browser's cookie
with auth.database_errors():
    auth.resume_from_cookie()  # a reload or a new tab stays signed in while the session lasts
    links.follow()  # a link to a stored audit (?audit=42) opens it, or asks to sign in first
links.sync()  # and the stored audit being looked at stays in the URL, for reloads and copied links

report = state.current_report()
with st.sidebar:
    if report is None:
        st.caption("No audit loaded.")
    else:
        m = report.manifest
        st.markdown(f"**{ui.md(m.dataset.name)}** · {m.rows_used:,} rows  \n"
                    f"Overall {ui.badge(report.overall_status)}")
        if report.models is not None:  # every page, not only those with a report header, says which model this is
            st.caption(f"model {ui.md(report.models.selected_label)}")
        st.caption(f"audited {ui.md(m.started_at)} in {m.duration_seconds:.0f} s")
        if report.imported_from is not None:
            st.caption(f":orange-badge[imported] from {ui.md(report.imported_from)}: not computed here")

with auth.database_errors():  # a corrupted or lost database: one line, not SQL
    nav.run()
