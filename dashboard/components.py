"""Shared rendering helpers for the pages. They draw what the report holds; they compute nothing.

User-supplied text (column names, category values, file names, and core messages
that quote them) goes through :func:`md` before it reaches markdown, or is shown
with ``st.dataframe`` / ``st.text``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from audit.config import AuditConfig
from audit.errors import AuditError
from audit.report import AuditReport
from audit.verdict import Verdict
from dashboard import charts, state

START_PAGE = "pages/start.py"
OVERVIEW_PAGE = "pages/overview.py"

AREA_LABELS = {
    "data": "Data", "models": "Models", "performance": "Performance", "fairness": "Fairness",
    "explanations": "Explanations", "robustness": "Robustness", "drift": "Drift", "privacy": "Privacy",
}
_BADGE = {"pass": ("green", ":material/check_circle:"), "warn": ("orange", ":material/warning:"), "fail": ("red", ":material/cancel:")}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: Any) -> str:
    """Escape user text for st.markdown (no emphasis, links, HTML, LaTeX or emoji shortcodes)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def badge(status: str | None) -> str:
    """Markdown badge for pass / warn / fail (grey "not run" for None)."""
    if status is None:
        return ":gray-badge[not run]"
    colour, icon = _BADGE.get(status, ("gray", ""))
    return f":{colour}-badge[{icon} {status.upper()}]"


def verdict(v: Verdict, *, title: str = "Verdict") -> None:
    """The section's verdict in a coloured box, with the reasons (which name their thresholds)."""
    box = {"pass": st.success, "warn": st.warning, "fail": st.error}[v.status]
    reasons = "\n".join(f"- {md(r)}" for r in v.reasons) or "- no findings"
    box(f"**{title}: {v.status.upper()}**\n\n{reasons}")


def fmt(x: Any, digits: int = 3) -> str:
    """A number for display ("n/a" for missing / NaN)."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if f != f or f in (float("inf"), float("-inf")):
        return "n/a"
    return f"{f:.{digits}f}"


def fmt_ci(value: float, low: float, high: float, digits: int = 3) -> str:
    return f"{fmt(value, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def table(rows: Sequence[Mapping[str, Any]] | pd.DataFrame, **kw: Any) -> None:
    """A read-only table (user strings are safe in st.dataframe)."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    st.dataframe(df, hide_index=True, **kw)


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
    return report


def require_section(report: AuditReport, name: str) -> Any:
    """The section's report, or a plain note that it was not computed (and stop the page)."""
    sec = getattr(report, name, None)
    if sec is None:
        t = section_timing(report, name)
        why = {
            "not requested": "it was not selected for this audit",
            "not available in this version": "this version of the audit core does not include it yet",
        }.get(t.message if t else "", md(t.message) if t and t.message else "it is not in this report")
        st.info(f"The {AREA_LABELS.get(name, name).lower()} section was not computed: {why}. "
                "Select it under Audit options on the New audit page and run the audit again.")
        st.page_link(START_PAGE, label="New audit", icon=":material/play_arrow:")
        st.stop()
    return sec


def header(report: AuditReport, title: str, area: str | None = None) -> None:
    """Page title with the area's badge, and the audited data set in a caption."""
    status = report.scorecard[area].status if area and area in report.scorecard else None
    st.title(title)
    m = report.manifest
    st.caption(f"{md(m.dataset.name)} · {m.rows_used:,} rows · target {md(m.target)} · "
               f"sensitive {md(', '.join(m.sensitive))} · audited {md(m.started_at)}"
               + (f" · {badge(status)}" if area else ""))


def whole_json(obj: Any) -> None:
    """The raw section as JSON, for people who want every number (sent only once the expander opens)."""
    box = st.expander("All values of this section (JSON)", key=f"json_{type(obj).__name__}", on_change="rerun")
    if box.open:
        with box:
            st.json(obj.to_dict() if hasattr(obj, "to_dict") else obj, expanded=False)


# -- running an audit with visible progress -----------------------------------------------


class _ProgressBoard:
    """Per-section progress drawn inside an st.status while run_audit works in this thread."""

    def __init__(self, plan: Sequence[str], status: Any) -> None:
        self.plan = list(plan)
        self.status = status
        self.bar = st.progress(0.0, text="starting")
        self.board = st.empty()
        self.rows: dict[str, dict[str, Any]] = {s: {"fraction": 0.0, "message": "waiting", "start": None, "end": None} for s in plan}
        self.t0 = time.perf_counter()
        self._last_draw = 0.0
        self._label = ""

    def __enter__(self) -> "_ProgressBoard":
        """Redraw every second from a helper thread, so elapsed times move while a step blocks."""
        from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="audit-progress", daemon=True)
        add_script_run_ctx(self._beat, get_script_run_ctx())
        self._beat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._beat.join(timeout=5)

    def _heartbeat(self) -> None:
        while not self._stop.wait(1.0):
            try:
                with self._lock:
                    if not self._stop.is_set():
                        self.draw()
            except Exception:  # the session ended or the run was stopped: stop beating
                return

    def __call__(self, section: str, fraction: float, message: str) -> None:
        with self._lock:
            self._update(section, fraction, message)

    def _update(self, section: str, fraction: float, message: str) -> None:
        row = self.rows.setdefault(section, {"fraction": 0.0, "message": "", "start": None, "end": None})
        if section not in self.plan:
            self.plan.append(section)
        now = time.perf_counter()
        if row["start"] is None:
            row["start"] = now
        row["fraction"] = max(row["fraction"], min(1.0, float(fraction)))
        row["message"] = message
        if fraction >= 1.0 and row["end"] is None:
            row["end"] = now
        # Redraw at most 5 times a second, but always when a section starts or ends.
        if fraction in (0.0, 1.0) or now - self._last_draw > 0.2:
            self.draw()

    def draw(self) -> None:
        now = time.perf_counter()
        self._last_draw = now
        lines = ["| section | state | time | last message |", "|---|---|---:|---|"]
        running = []
        for s in self.plan:
            r = self.rows[s]
            if r["end"] is not None:
                st_txt, secs = ":green[done]", r["end"] - r["start"]
            elif r["start"] is not None:
                st_txt, secs = f":blue[{r['fraction']:.0%}]", now - r["start"]
                running.append(AREA_LABELS.get(s, s))
            else:
                st_txt, secs = ":gray[waiting]", None
            lines.append(f"| {AREA_LABELS.get(s, s)} | {st_txt} | {'' if secs is None else f'{secs:.1f} s'} | {md(r['message'])} |")
        self.board.markdown("\n".join(lines))
        overall = sum(self.rows[s]["fraction"] for s in self.plan) / max(1, len(self.plan))
        elapsed = now - self.t0
        self.bar.progress(min(1.0, overall), text=f"{overall:.0%} · {elapsed:.0f} s")
        label = f"Running the audit: {', '.join(running) or 'finishing'}"
        if label != self._label:  # an update without expanded=True would collapse the box
            self._label = label
            self.status.update(label=label, expanded=True)


def run_audit_with_progress(config: AuditConfig, data: Any, *, current: Any = None, key: str,
                            available: Iterable[str], run: Callable[..., AuditReport]) -> AuditReport | None:
    """Run (or fetch from the cache) the audit, showing progress per section; None on a user error.

    ``run`` is :func:`audit.pipeline.run_audit` (passed in so this module stays import-light).
    """
    cached = state.cached_report(key)
    if cached is not None:
        st.toast("Same data and options as an earlier audit: showing its report.", icon=":material/bolt:")
        return cached
    plan = ["data", "models", *[s for s in config.sections if s in set(available)]]
    with st.status("Running the audit", expanded=True) as status:
        board = _ProgressBoard(plan, status)
        board.draw()
        try:
            with board:
                report = run(config, data, current=current, progress=board)
        except AuditError as exc:
            status.update(label="The audit stopped: fix the input and run it again", state="error", expanded=True)
            st.error(str(exc))
            return None
        board.draw()
        status.update(label=f"Audit finished in {report.manifest.duration_seconds:.1f} s", state="complete", expanded=False)
    state.remember(key, report)
    return report


# -- headline numbers of the overview (read from the report, never derived) -------------

metric_name = charts.metric_name


def headlines(report: AuditReport, area: str) -> list[tuple[str, str, str | None]]:
    """(label, value, help) of the one or two numbers that sum up an area."""
    m = report.manifest
    if area == "data":
        return [("Rows audited", f"{m.rows_used:,}", f"{m.dataset.rows:,} rows in the file" + ("; a seeded sample" if m.sampled else "")),
                ("Features", str(len(m.features)), f"{len(m.excluded)} columns excluded")]
    sec = getattr(report, area, None)
    if sec is None:
        return []
    fn = _HEADLINES.get(area)
    return fn(report, sec) if fn else []


def _perf_headlines(report: AuditReport, p: Any) -> list[tuple[str, str, str | None]]:
    k = p.primary_metric
    mc = p.metrics[k]
    out = [(f"{metric_name(k)} (test)", fmt(mc.value),
            f"{p.confidence:.0%} bootstrap CI [{fmt(mc.ci_low)}, {fmt(mc.ci_high)}]; dummy baseline {fmt(p.baseline_primary)}; "
            f"model {report.models.selected_label if report.models else p.model}")]
    if "accuracy" in p.metrics:
        a = p.metrics["accuracy"]
        out.append(("Accuracy (test)", fmt(a.value), f"CI [{fmt(a.ci_low)}, {fmt(a.ci_high)}]"))
    return out


def _explain_headlines(report: AuditReport, e: Any) -> list[tuple[str, str, str | None]]:
    top = sorted(e.importance, key=lambda f: f.rank)[:1]
    out = [("Top feature", top[0].feature if top else "n/a", f"largest mean |SHAP| over {e.n_explained:,} rows")]
    out.append(("Sensitive in the top 5", str(len(e.sensitive_in_top_k)), ", ".join(e.sensitive_in_top_k) or None))
    return out


def _robust_headlines(report: AuditReport, r: Any) -> list[tuple[str, str, str | None]]:
    out = []
    noise = [p for p in r.noise.points if p.level > 0]
    if noise:
        out.append((f"Flips at noise {noise[0].level:g} sd", f"{noise[0].flip_rate:.1%}", r.flip_definition))
    budget = r.thresholds.get("verdict_budget")
    for att in (r.attacks.decision_based, r.attacks.gradient):
        hit = next((p for p in att.success_by_budget if p.budget == budget), None) if att is not None else None
        if hit is not None:
            out.append((f"Attack success at {budget:g} sd", f"{hit.success_rate:.0%}", f"{att.name} on {att.n_rows} rows"))
            break
    return out


def _drift_headlines(report: AuditReport, d: Any) -> list[tuple[str, str, str | None]]:
    out = [("Features drifted", f"{d.data.n_drifted} / {d.data.n_features}", ", ".join(d.data.drifted_features) or None)]
    if d.data.domain is not None:
        dc = d.data.domain
        out.append(("Domain classifier AUC", fmt(dc.auc), f"{dc.confidence:.0%} CI [{fmt(dc.ci_low)}, {fmt(dc.ci_high)}]; 0.5 = no shift"))
    return out


def _privacy_headlines(report: AuditReport, p: Any) -> list[tuple[str, str, str | None]]:
    audited = p.audited
    out = []
    if audited is not None and audited.membership:
        worst = max(audited.membership, key=lambda a: a.auc)
        out.append(("Membership attack AUC", fmt(worst.auc), f"{worst.attack} on the audited model; 0.5 = chance"))
    dp = [m for m in p.models if m.role == "dp"]
    if dp:
        out.append(("DP models trained", str(len(dp)), f"epsilons {', '.join(f'{e:g}' for e in p.target_epsilons)}"))
    return out


def _fair_headlines(report: AuditReport, f: Any) -> list[tuple[str, str, str | None]]:
    out = []
    first = next(iter(f.disparities_adequate.values()), {})
    for name in [n for n in first if n.endswith("difference")][:2]:
        label = charts.disparity_name(name).replace(" difference", " diff.") + " (worst)"
        vals = [(k, d[name]) for k, d in f.disparities_adequate.items() if name in d and d[name].value == d[name].value]
        if vals:
            k, iv = max(vals, key=lambda kv: kv[1].value)
            out.append((label, fmt(iv.value), f"by {k}; {f.confidence:.0%} CI [{fmt(iv.ci_low)}, {fmt(iv.ci_high)}]"))
    return out


_HEADLINES: dict[str, Callable[[AuditReport, Any], list[tuple[str, str, str | None]]]] = {
    "performance": _perf_headlines,
    "fairness": _fair_headlines,
    "explanations": _explain_headlines,
    "robustness": _robust_headlines,
    "drift": _drift_headlines,
    "privacy": _privacy_headlines,
}


def render_groups(report: AuditReport) -> None:
    """Datasheet part read from the fairness section: group sizes, base rates, proxies."""
    st.subheader("Groups, base rates and proxies")
    fair = report.fairness
    if fair is None:
        st.info("Group representation, base rates and proxy features come from the fairness section, "
                "which was not computed in this audit.")
        return
    keys = list(fair.representation)
    key = st.segmented_control("Grouping", keys, default=keys[0], key="datasheet_key") or keys[0] if keys else None
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


def review_summary_for(key: str | None) -> dict | None:
    """The store's review state of this report, when it was saved and someone is signed in."""
    audit_id, user = state.saved_audit_id(key), state.current_user()
    if audit_id is None or user is None:
        return None
    try:
        return state.audit_store().review_summary(audit_id, user=user)
    except AuditError as exc:
        st.warning(f"Review state unavailable: {md(exc)}")
        return None

