"""Tables and figures of the Reviews and History pages. Pure functions: no streamlit, no computation.

They take what :mod:`audit.store.core` returns (summaries, comments, events, a
:class:`~audit.store.core.ReportComparison`) and only arrange or draw it; every number
shown comes from the store or from ``compare_reports``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go

from audit.store.core import AuditSummary, Comment, Event, MetricDelta, ReportComparison
from dashboard.charts.base import safe

UP_COLOUR, DOWN_COLOUR = "#1565c0", "#c62828"
STATUS_LABELS = {"draft": "draft", "in_review": "in review", "approved": "approved",
                 "changes_requested": "changes requested"}
# Words in a fairness path that mark a between-group disparity (parity / odds differences and ratios).
_DISPARITY_WORDS = ("disparit", "parity", "odds", "ratio", "difference", "gap")


def status_label(status: Any) -> str:
    return STATUS_LABELS.get(str(status), str(status))


def audit_label(a: AuditSummary) -> str:
    """One line naming an audit in a picker."""
    return f"#{a.id} · {a.dataset_name} · {status_label(a.status)} · by {a.author} · {a.created_at[:16]}"


def audit_rows(audits: Iterable[AuditSummary]) -> list[dict[str, Any]]:
    """The history table."""
    return [{"id": a.id, "dataset": a.dataset_name, "status": status_label(a.status), "author": a.author,
             "runs": a.run, "created": a.created_at, "updated": a.updated_at, "data sha256": a.dataset_sha256[:12]}
            for a in audits]


def threads(comments: Sequence[Comment]) -> list[tuple[Comment, int]]:
    """Comments in reading order: each top-level comment followed by its answers, with their depth.

    An answer whose parent is missing from ``comments`` is shown at the top level, never dropped.
    """
    ids = {c.id for c in comments}
    children: dict[int | None, list[Comment]] = {}
    for c in comments:
        children.setdefault(c.parent_id if c.parent_id in ids else None, []).append(c)
    out: list[tuple[Comment, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for c in sorted(children.get(parent, []), key=lambda c: c.id):
            out.append((c, depth))
            walk(c.id, depth + 1)

    walk(None, 0)
    return out


def event_rows(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The audit trail table; the local operator (users CLI) has no account name."""
    return [{"when": e.created_at, "who": e.actor or "local operator", "action": e.action,
             "details": json.dumps(dict(e.details), sort_keys=True, ensure_ascii=False)} for e in events]


def short_path(path: str, section: str) -> str:
    """``performance.metrics.accuracy.value`` -> ``metrics.accuracy.value`` within its section."""
    return path[len(section) + 1:] if path.startswith(section + ".") else path


def delta_rows(cmp: ReportComparison, section: str | None = None) -> list[dict[str, Any]]:
    """Every metric that changed, one row each (optionally one section)."""
    return [{"section": s.section, "metric": short_path(d.path, s.section), "A (before)": d.before,
             "B (after)": d.after, "delta": d.delta}
            for s in cmp.sections if section in (None, s.section) for d in s.deltas]


def disparity_rows(cmp: ReportComparison) -> list[dict[str, Any]]:
    """The fairness deltas that are between-group disparities."""
    return [r for r in delta_rows(cmp, "fairness") if any(w in r["metric"].lower() for w in _DISPARITY_WORDS)]


def change_rows(cmp: ReportComparison) -> list[dict[str, Any]]:
    """Non-numeric changes and values present in one report only."""
    rows: list[dict[str, Any]] = []
    for s in cmp.sections:
        rows += [{"section": s.section, "path": short_path(c.path, s.section), "A (before)": _text(c.before),
                  "B (after)": _text(c.after)} for c in s.changes]
        rows += [{"section": s.section, "path": short_path(p, s.section), "A (before)": "(present)",
                  "B (after)": "(absent)"} for p in s.only_in_a]
        rows += [{"section": s.section, "path": short_path(p, s.section), "A (before)": "(absent)",
                  "B (after)": "(present)"} for p in s.only_in_b]
    return rows


def section_rows(cmp: ReportComparison) -> list[dict[str, Any]]:
    """How much differs in each section that differs."""
    return [{"section": s.section, "metrics changed": len(s.deltas), "other changes": len(s.changes),
             "only in A": len(s.only_in_a), "only in B": len(s.only_in_b)} for s in cmp.sections]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def largest_deltas(deltas: Iterable[MetricDelta], top: int) -> list[MetricDelta]:
    """The ``top`` deltas of largest size, largest first."""
    return sorted(deltas, key=lambda d: abs(d.delta), reverse=True)[:top]


def delta_figure(cmp: ReportComparison, section: str, *, top: int = 20) -> go.Figure:
    """Horizontal bars of B - A for the largest metric changes of one section."""
    sec = cmp.section(section)
    shown = largest_deltas(sec.deltas if sec else (), top)[::-1]  # plotly draws the first bar at the bottom
    fig = go.Figure(go.Bar(
        # A path names groups and features of the audited data (fairness.groups.<label>...): escaped.
        x=[d.delta for d in shown], y=[safe(short_path(d.path, section)) for d in shown], orientation="h",
        marker_color=[UP_COLOUR if d.delta > 0 else DOWN_COLOUR for d in shown],
        customdata=[[d.before, d.after] for d in shown],
        hovertemplate="%{y}<br>A %{customdata[0]:.4g} → B %{customdata[1]:.4g}<br>delta %{x:+.4g}<extra></extra>",
    ))
    total = len(sec.deltas) if sec else 0
    more = f" (largest {len(shown)} of {total})" if total > len(shown) else ""
    fig.update_layout(title=dict(text=safe(f"{section}: change B - A{more}"), x=0, xanchor="left"),
                      height=max(260, 60 + 26 * len(shown)), margin=dict(l=10, r=10, t=50, b=30),
                      xaxis_title="B - A", yaxis=dict(automargin=True), showlegend=False)
    fig.add_vline(x=0, line_color="#757575", line_width=1)
    return fig
