"""The pieces of the History page: filtered list, open a past audit, compare two audits.

Filtering is the store's (``list_audits``), differences are ``compare_reports``';
this module picks, lays out and draws.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import streamlit as st

from audit.errors import AuditError, StoreError
from audit.report import AuditReport
from audit.store.core import AuditSummary, Status, compare_reports
from dashboard import components as ui
from dashboard.charts import reviews as rc
from dashboard.components import auth
from dashboard.components.reviews import open_audit

ANY = None


def _any(label: str):
    return lambda v: f"any {label}" if v is ANY else str(v)


def filtered_list(store: Any, user: Any) -> tuple[AuditSummary, ...]:
    """Filters over dataset, status and author; the matching audits as a table, newest first."""
    everything = store.list_audits(user=user)
    if not everything:
        st.info("No audit has been saved yet. Run one, then save it on the Reviews page.")
        st.stop()
    c = st.columns(3)
    dataset = c[0].selectbox("Dataset", [ANY, *sorted({a.dataset_name for a in everything})], key="hist_dataset",
                             format_func=_any("dataset"))
    status = c[1].selectbox("Status", [ANY, *Status], key="hist_status",
                            format_func=lambda s: "any status" if s is ANY else rc.status_label(s))
    author = c[2].selectbox("Author", [ANY, *sorted({a.author for a in everything})], key="hist_author",
                            format_func=_any("author"))
    audits = store.list_audits(user=user, dataset=dataset, status=status, author=author)
    st.caption(f"{len(audits)} of {len(everything)} audits.")
    if audits:
        ui.table(rc.audit_rows(audits), download="audits.csv")
    return audits


def open_panel(store: Any, user: Any, audits: Sequence[AuditSummary]) -> bool:
    """Pick an audit and a run; True when it became this session's current report."""
    if not audits:
        return False
    st.subheader("Open a past audit")
    by_id = {a.id: a for a in audits}
    left, right = st.columns([3, 1])
    pick = left.selectbox("Audit", list(by_id), key="hist_open_pick", format_func=lambda i: rc.audit_label(by_id[i]))
    latest = by_id[pick].run
    run = right.number_input("Run", min_value=1, max_value=latest, value=latest, step=1, key=f"hist_open_run_{pick}")
    st.caption("Every page then shows this report exactly as it was saved, with its model card narrative.")
    clicked = st.button("Open this audit", type="primary", icon=":material/open_in_new:", key="hist_open")
    return clicked and open_audit(store, user, pick, int(run))


def _runs(audits: Sequence[AuditSummary]) -> dict[tuple[int, int], str]:
    return {(a.id, r): f"#{a.id} run {r} · {a.dataset_name} · by {a.author}" for a in audits
            for r in range(a.run, 0, -1)}


def compare_panel(store: Any, user: Any, audits: Sequence[AuditSummary]) -> None:
    """Two runs side by side: what changed per section, drifted features, fairness disparities."""
    st.subheader("Compare two audits")
    runs = _runs(audits)
    if len(runs) < 2:
        st.caption("Two saved audits (or two runs of one) are needed for a comparison.")
        return
    keys = list(runs)
    c = st.columns(2)
    a = c[0].selectbox("A (before)", keys, index=1, key="cmp_a", format_func=runs.get)
    b = c[1].selectbox("B (after)", keys, index=0, key="cmp_b", format_func=runs.get)
    if a == b:
        st.caption("Pick two different runs.")
        return
    try:
        rec_a, rec_b = (store.get_audit(i, user=user, run=r) for i, r in (a, b))
        cmp = compare_reports(_typed(rec_a.report_json), _typed(rec_b.report_json))
    except StoreError as exc:
        auth.store_error(exc)
        return
    show_comparison(cmp)


def _typed(report_json: str) -> AuditReport | dict:
    """The stored report, typed; its plain JSON when this version cannot load it (another format), compared as JSON."""
    try:
        return AuditReport.from_json(report_json)
    except AuditError:
        return json.loads(report_json)


def show_comparison(cmp: Any) -> None:
    deltas = rc.delta_rows(cmp)
    m = st.columns(4)
    m[0].metric("Sections that differ", len(cmp.sections))
    m[1].metric("Metrics changed", len(deltas))
    m[2].metric("Newly drifted features", len(cmp.newly_drifted), help=ui.md(", ".join(cmp.newly_drifted)) or None)
    m[3].metric("No longer drifted", len(cmp.no_longer_drifted), help=ui.md(", ".join(cmp.no_longer_drifted)) or None)
    if not cmp.sections:
        st.success("The two reports are identical.")
        return
    if cmp.newly_drifted or cmp.no_longer_drifted:
        st.markdown(f"Drift: newly drifted **{ui.md(', '.join(cmp.newly_drifted) or 'none')}**; "
                    f"no longer drifted **{ui.md(', '.join(cmp.no_longer_drifted) or 'none')}**.")
    disparities = rc.disparity_rows(cmp)
    if disparities:
        st.markdown("**Fairness disparity changes**")
        ui.table(disparities)
    ui.table(rc.section_rows(cmp))
    with_deltas = [s.section for s in cmp.sections if s.deltas]
    if with_deltas:
        default = with_deltas.index("performance") if "performance" in with_deltas else 0
        section = st.selectbox("Section to chart", with_deltas, index=default, key="cmp_section")
        ui.chart(rc.delta_figure(cmp, section))
        ui.table(deltas, column_config={k: st.column_config.NumberColumn(format="%.4f")
                                        for k in ("A (before)", "B (after)", "delta")})
    changes = rc.change_rows(cmp)
    if changes:
        with st.expander(f"Other changes ({len(changes)}): text, flags, values in one report only"):
            ui.table(changes)
