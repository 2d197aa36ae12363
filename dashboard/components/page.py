"""Building blocks of a page: verdict box, tables, charts, lazy tabs, the page header, the report guard.

They draw what the report holds; they compute nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from audit.report import AuditReport
from audit.verdict import Verdict
from dashboard import state
from dashboard.components.links import copy_link
from dashboard.components.nav import START_PAGE, area_label
from dashboard.components.text import badge, md, table_csv


def verdict(v: Verdict, *, title: str = "Verdict") -> None:
    """The section's verdict in a coloured box, with the reasons (which name their thresholds)."""
    box = {"pass": st.success, "warn": st.warning, "fail": st.error}[v.status]
    reasons = "\n".join(f"- {md(r)}" for r in v.reasons) or "- no findings"
    box(f"**{title}: {v.status.upper()}**\n\n{reasons}")



def table(rows: Sequence[Mapping[str, Any]] | pd.DataFrame, *, download: str | None = None, **kw: Any) -> None:
    """A read-only table (user strings are safe in st.dataframe).

    ``download``: a file name; the table is offered as CSV with formula prefixes neutralised
    (Streamlit's own toolbar export is off: ``client.disableDataExport`` in .streamlit/config.toml).
    """
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    st.dataframe(df, hide_index=True, **kw)
    if download:
        st.download_button("Download this table (CSV)", data=lambda: table_csv(df), file_name=download, mime="text/csv",
                           icon=":material/download:", type="tertiary", key=f"csv_{download}", on_click="ignore")


def chart(fig: Any, **kw: Any) -> None:
    st.plotly_chart(fig, config={"displaylogo": False}, **kw)


def lazy_tabs(views: Mapping[str, Callable[[], None]], *, key: str) -> None:
    """Tabs where only the open one runs and draws (Streamlit reruns on a tab switch): pages stay quick."""
    for tab, draw in zip(st.tabs(list(views), key=key, on_change="rerun"), views.values()):
        if tab.open is not False:  # None when state tracking is off: draw everything
            with tab:
                draw()


def section_timing(report: AuditReport, name: str):
    return next((t for t in report.manifest.timings if t.name == name), None)


def require_report() -> AuditReport:
    """The report being looked at; otherwise say so, link to the start page and stop the page."""
    report = state.current_report()
    if report is None:
        st.info("No audit yet. Run one on the sample or your own data first.")
        st.page_link(START_PAGE, label="New audit", icon=":material/play_arrow:")
        st.stop()
    imported_banner(report)
    return report


def imported_banner(report: AuditReport) -> None:
    """The mark of a report opened from a file: its verdicts were not computed by this installation."""
    if report.imported_from is not None:
        st.warning(imported_note(report), icon=":material/upload_file:")


def imported_note(report: AuditReport) -> str:
    return (f"Imported from {md(report.imported_from)}: this report was opened from a file, so its "
            "numbers and verdicts were not computed here. Re-run the audit to check them.")


def require_section(report: AuditReport, name: str) -> Any:
    """The section's report, or a plain note that it was not computed (and stop the page)."""
    sec = report.section(name)
    if sec is None:
        t = section_timing(report, name)
        if t is not None and t.status == "not run":
            # The audited model lacks what the section needs: running again would not change it.
            st.info(f"Not run: {md(t.message)}.")
            st.stop()
        if t is not None and t.message == "not requested":
            why = "it was not selected for this audit"
        else:
            why = md(t.message) if t and t.message else "it is not in this report"
        st.info(f"The {area_label(name).lower()} section was not computed: {why}. "
                "Select it under Audit options on the New audit page and run the audit again.")
        st.page_link(START_PAGE, label="New audit", icon=":material/play_arrow:")
        st.stop()
    return sec


def header(report: AuditReport, title: str, area: str | None = None) -> None:
    """Page title with the area's badge, and the audited data set in a caption."""
    status = report.scorecard[area].status if area and area in report.scorecard else None
    st.title(title)
    m = report.manifest
    audited = report.models.selected_label if report.models is not None else None
    st.caption(f"{md(m.dataset.name)} · {m.rows_used:,} rows · target {md(m.target)} · "
               + (f"audited model {md(audited)} · " if audited else "")
               + f"sensitive {md(', '.join(m.sensitive))} · audited {md(m.started_at)}"
               + (f" · {badge(status)}" if area else ""))
    copy_link()


def whole_json(obj: Any) -> None:
    """The raw section as JSON, for people who want every number (sent only once the expander opens)."""
    box = st.expander("All values of this section (JSON)", key=f"json_{type(obj).__name__}", on_change="rerun")
    if box.open:
        with box:
            st.json(obj.to_dict() if hasattr(obj, "to_dict") else obj, expanded=False)
