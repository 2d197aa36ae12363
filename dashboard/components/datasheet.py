"""The datasheet part read from the fairness section: group sizes, base rates and proxy features."""

from __future__ import annotations

import streamlit as st

from audit.report import AuditReport
from dashboard.charts import fairness as charts
from dashboard.components.page import chart, table
from dashboard.components.text import fmt, md


def render_groups(report: AuditReport) -> None:
    """Datasheet part read from the fairness section: group sizes, base rates, proxies."""
    st.subheader("Groups, base rates and proxies")
    fair = report.fairness
    if fair is None:
        st.info("Group representation, base rates and proxy features come from the fairness section, "
                "which was not computed in this audit.")
        return
    keys = list(fair.representation)
    key = st.segmented_control("Grouping", keys, default=keys[0], format_func=md, key="datasheet_key") or keys[0] if keys else None
    if key is not None:
        chart(charts.representation_chart(fair, key))
        gap = fair.base_rate_gap.get(key, {})
        table([{"group": r.group, "rows": r.count, "share": r.share, "share of train": r.share_train,
                "share of test": r.share_test, "base rate": r.base_rate} for r in fair.representation[key]])
        if gap:
            st.caption(f"Base-rate gap by {md(key)}: difference {fmt(gap.get('difference'))}, ratio {fmt(gap.get('ratio'))} "
                       f"(over {fair.n_data:,} rows).")
    chart(charts.proxy_chart(fair))
    flagged = fair.flagged_proxies()
    if flagged:
        st.warning("Proxy features (predict a sensitive attribute on their own): "
                   + ", ".join(f"{md(p.feature)} → {md(p.sensitive)} ({getattr(p, fair.proxy_metric):.2f})" for p in flagged))
    else:
        st.caption(f"No feature reaches the proxy threshold {fair.proxy_threshold:g} ({md(fair.proxy_metric)}, {fair.n_proxy_rows:,} rows).")
