"""Running an audit with visible progress: a per-section board inside an ``st.status``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import streamlit as st

from audit.config import AuditConfig
from audit.errors import AuditError
from audit.report import AuditReport
from dashboard import state
from dashboard.components.nav import area_label
from dashboard.components.text import md


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
                running.append(area_label(s))
            else:
                st_txt, secs = ":gray[waiting]", None
            lines.append(f"| {area_label(s)} | {st_txt} | {'' if secs is None else f'{secs:.1f} s'} | {md(r['message'])} |")
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
            st.error(md(exc))
            return None
        board.draw()
        status.update(label=f"Audit finished in {report.manifest.duration_seconds:.1f} s", state="complete", expanded=False)
    state.remember(key, report)
    return report
