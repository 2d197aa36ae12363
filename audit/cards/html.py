"""HTML rendering of a card or datasheet: one self-contained page.

Jinja2 with autoescaping on renders ``templates/document.html.j2``; every string
from a report or a narrative reaches the page only through ``{{ }}``, so it is
escaped. Charts are inline SVG drawn by the template from coordinates computed
here (numbers only). The page loads nothing: no script, no font, no stylesheet
from the network, and a Content-Security-Policy that forbids them anyway.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from audit.cards.blocks import Bar, BarChart, Bullets, Document, Facts, Heading, Paragraph, StatusLine, Table, num
from audit.cards.narrative import clean

_TEMPLATES = Path(__file__).with_name("templates")
CHART_WIDTH, LABEL_W, VALUE_W, ROW_H, TOP, BOTTOM = 680, 190, 150, 22, 8, 26
MAX_LABEL = 28


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html_document(doc: Document) -> str:
    sections = [
        {"key": s.key, "title": clean(s.title), "blocks": [_view(b) for b in s.blocks]}
        for s in doc.sections
    ]
    return _env().get_template("document.html.j2").render(
        title=clean(doc.title), subtitle=clean(doc.subtitle), generated_at=clean(doc.generated_at), sections=sections,
    )


def _view(block: Any) -> dict[str, Any]:
    """A block as a dict for the template, its strings stripped of control characters."""
    if isinstance(block, Paragraph):
        return {"kind": "paragraph", "parts": [clean(p) for p in block.text.split("\n\n") if p.strip()], "muted": block.muted}
    if isinstance(block, Heading):
        return {"kind": "heading", "text": clean(block.text)}
    if isinstance(block, Bullets):
        return {"kind": "bullets", "items": [clean(i) for i in block.items]}
    if isinstance(block, Facts):
        return {"kind": "facts", "pairs": [(clean(k), clean(v)) for k, v in block.pairs]}
    if isinstance(block, StatusLine):
        return {"kind": "status", "status": clean(block.status), "css": _status_css(block.status), "reasons": [clean(r) for r in block.reasons]}
    if isinstance(block, Table):
        numeric = [block.numeric[i] if i < len(block.numeric) else False for i in range(len(block.columns))]
        return {"kind": "table", "columns": [clean(c) for c in block.columns], "numeric": numeric,
                "rows": [[clean(c) for c in row] for row in block.rows], "caption": clean(block.caption)}
    if isinstance(block, BarChart):
        return {"kind": "chart", **chart_geometry(block)}
    raise TypeError(f"unknown block {type(block).__name__}")


def _status_css(status: str) -> str:
    return status if status in ("pass", "warn", "fail") else "none"


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    raw = span / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], first
    while t <= hi + 1e-9 * max(1.0, abs(hi)):
        ticks.append(round(t, 10))
        t += step
    return ticks


def chart_domain(bars: tuple[Bar, ...], reference: float | None) -> tuple[float, float]:
    """The value range to draw: includes 0, every bar and interval, and the reference line;
    [0, 1] when everything is a rate."""
    vals = [0.0] + [v for b in bars for v in (b.value, b.low, b.high) if v is not None and math.isfinite(v)]
    if reference is not None and math.isfinite(reference):
        vals.append(reference)
    lo, hi = min(vals), max(vals)
    if lo >= 0 and hi <= 1 and hi > 0.2:
        return 0.0, 1.0
    if hi == lo:
        hi = lo + 1.0
    pad = 0.05 * (hi - lo)
    return (lo - pad if lo < 0 else lo), hi + pad


def chart_geometry(chart: BarChart) -> dict[str, Any]:
    """Pixel coordinates of a horizontal bar chart with interval whiskers."""
    lo, hi = chart_domain(chart.bars, chart.reference)
    x0, x1 = LABEL_W, CHART_WIDTH - VALUE_W

    def x(v: float) -> float:
        return round(x0 + (v - lo) / (hi - lo) * (x1 - x0), 2)

    rows = []
    for i, b in enumerate(chart.bars):
        y = TOP + i * ROW_H
        v = b.value if math.isfinite(b.value) else 0.0
        a, z = sorted((x(0.0), x(v)))
        label = clean(b.label)
        interval = b.low is not None and b.high is not None and math.isfinite(b.low) and math.isfinite(b.high)
        text = num(b.value) + (f" [{num(b.low)}, {num(b.high)}]" if interval else "")
        rows.append({
            "y": y, "mid": y + ROW_H / 2, "bar_x": a, "bar_w": max(round(z - a, 2), 0.5), "bar_y": y + 4, "bar_h": ROW_H - 8,
            "label": label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…", "full_label": label,
            "value_text": text, "flagged": b.flagged,
            "ci": {"x1": x(b.low), "x2": x(b.high)} if interval else None,
        })
    height = TOP + len(rows) * ROW_H + BOTTOM
    axis_y = TOP + len(rows) * ROW_H
    ticks = [{"x": x(t), "label": num(t, 2)} for t in _nice_ticks(lo, hi)]
    ref = None
    if chart.reference is not None and math.isfinite(chart.reference):
        ref = {"x": x(chart.reference), "label": clean(chart.reference_label)}
    return {"title": clean(chart.title), "caption": clean(chart.caption), "width": CHART_WIDTH, "height": height,
            "rows": rows, "ticks": ticks, "axis_y": axis_y, "x0": x0, "x1": x1, "zero": x(0.0) if lo <= 0 <= hi else None,
            "reference": ref, "value_x": x1 + 8}
