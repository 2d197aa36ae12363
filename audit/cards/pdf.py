"""PDF rendering of a card or datasheet with reportlab's platypus.

reportlab's ``Paragraph`` parses an XML-like markup, so every string goes through
:func:`esc` (``xml.sax.saxutils.escape`` after dropping control characters) before
it becomes a paragraph; chart labels are ``String`` shapes, which are not parsed.
The document is built with ``invariant=1`` (fixed creation date and file ID), so
the same card gives the same bytes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFError
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from audit.cards.blocks import BarChart, Bullets, Document, Facts, Heading, StatusLine
from audit.cards.blocks import Paragraph as TextBlock
from audit.cards.blocks import Table as TableBlock
from audit.cards.html import chart_geometry
from audit.cards.narrative import clean

MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN
# DejaVu covers far more scripts than the built-in Helvetica (Latin-1 only); use it when
# the system has it. Both are deterministic; the fallback just shows fewer characters.
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_STATUS_COLOURS = {"pass": ("#dafbe1", "#116329"), "warn": ("#fff8c5", "#7d4e00"), "fail": ("#ffebe9", "#a40e26")}


def esc(text: Any) -> str:
    """Text made inert for reportlab paragraph markup."""
    return escape(clean(text))


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    try:
        pdfmetrics.registerFont(TTFont("CardSans", str(_DEJAVU / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("CardSans-Bold", str(_DEJAVU / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily("CardSans", normal="CardSans", bold="CardSans-Bold", italic="CardSans", boldItalic="CardSans-Bold")
        return "CardSans", "CardSans-Bold"
    except (TTFError, OSError):
        return "Helvetica", "Helvetica-Bold"


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    font, bold = _fonts()
    base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=12.5, spaceAfter=4)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=18, leading=22, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, textColor=colors.HexColor("#57606a"), fontSize=10.5, leading=14),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=13.5, leading=17, spaceBefore=12, spaceAfter=5,
                             keepWithNext=1, textColor=colors.HexColor("#0b3d91")),
        "h3": ParagraphStyle("h3", parent=base, fontName=bold, fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=3, keepWithNext=1),
        "body": base,
        "muted": ParagraphStyle("muted", parent=base, textColor=colors.HexColor("#6e7781")),
        "bullet": ParagraphStyle("bullet", parent=base, leftIndent=12, bulletIndent=2, spaceAfter=2),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.8, leading=9.5, spaceAfter=0),
        "cell_num": ParagraphStyle("cell_num", parent=base, fontSize=7.8, leading=9.5, spaceAfter=0, alignment=TA_RIGHT),
        "cell_head": ParagraphStyle("cell_head", parent=base, fontName=bold, fontSize=7.8, leading=9.5, spaceAfter=0),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8, leading=10, textColor=colors.HexColor("#57606a"), spaceAfter=2),
    }


class _SectionTitle(Paragraph):
    """A section heading that also becomes a PDF bookmark."""

    def __init__(self, text: str, key: str, style: ParagraphStyle) -> None:
        super().__init__(esc(text), style)
        self.key, self.plain = key, clean(text)

    def draw(self) -> None:
        super().draw()
        self.canv.bookmarkPage(self.key)
        self.canv.addOutlineEntry(self.plain, self.key, level=0)


def render_pdf_document(doc: Document) -> bytes:
    st = _styles()
    buf = io.BytesIO()
    title = clean(doc.title)
    pdf = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
                            title=title, author="rai-audit", subject=clean(doc.subtitle), creator="rai-audit", producer="rai-audit (reportlab)",
                            invariant=1, lang="en")
    story: list[Flowable] = [Paragraph(esc(doc.title), st["title"])]
    if doc.subtitle:
        story.append(Paragraph(esc(doc.subtitle), st["subtitle"]))
    story.append(Paragraph(f"Generated {esc(doc.generated_at)} by rai-audit", st["muted"]))
    story.append(Paragraph("Contents: " + " · ".join(esc(s.title) for s in doc.sections), st["muted"]))
    for sec in doc.sections:
        story.append(_SectionTitle(sec.title, sec.key, st["h2"]))
        for block in sec.blocks:
            story += _flowables(block, st)
    footer = title if len(title) <= 80 else title[:79] + "…"
    font = _fonts()[0]

    def on_page(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#57606a"))
        canvas.drawString(MARGIN, 10 * mm, footer)  # drawString does not parse markup
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"page {document.page}")
        canvas.restoreState()

    pdf.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()


def _flowables(block: Any, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    if isinstance(block, TextBlock):
        style = st["muted"] if block.muted else st["body"]
        return [Paragraph(esc(p.strip()).replace("\n", "<br/>"), style) for p in block.text.split("\n\n") if p.strip()]
    if isinstance(block, Heading):
        return [Paragraph(esc(block.text), st["h3"])]
    if isinstance(block, Bullets):
        return [Paragraph(esc(item), st["bullet"], bulletText="•") for item in block.items]
    if isinstance(block, Facts):
        rows = [[Paragraph(esc(k), st["cell_head"]), Paragraph(esc(v), st["cell"])] for k, v in block.pairs]
        t = Table(rows, colWidths=[0.32 * WIDTH, 0.68 * WIDTH], hAlign="LEFT")
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                               ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("LEFTPADDING", (0, 0), (0, -1), 0)]))
        return [t, Spacer(1, 4)]
    if isinstance(block, StatusLine):
        return _status(block, st)
    if isinstance(block, TableBlock):
        return _table(block, st)
    if isinstance(block, BarChart):
        return [KeepTogether([_chart(block), Paragraph(esc(_chart_caption(block)), st["caption"])]), Spacer(1, 8)]
    raise TypeError(f"unknown block {type(block).__name__}")


def _chart_caption(chart: BarChart) -> str:
    ref = f"; dashed line: {chart.reference_label}" if chart.reference is not None and chart.reference_label else ""
    return chart.title + ref + (f". {chart.caption}" if chart.caption else "")


def _status(block: StatusLine, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    bg, fg = _STATUS_COLOURS.get(block.status, ("#eaeef2", "#57606a"))
    badge = Table([[Paragraph(f"<b>{esc(block.status.upper())}</b>", ParagraphStyle("badge", parent=st["cell"], textColor=colors.HexColor(fg)))]],
                  colWidths=[28 * mm], hAlign="LEFT")
    badge.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(bg)), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    label = Table([[Paragraph("Verdict:", st["cell_head"]), badge]], colWidths=[16 * mm, 30 * mm], hAlign="LEFT")
    label.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return [label, Spacer(1, 2), *(Paragraph(esc(r), st["bullet"], bulletText="•") for r in block.reasons)]


def _col_widths(block: TableBlock) -> list[float]:
    """Column widths: each column's natural width (its widest cell), never narrower than its
    widest word (up to ~70 pt), with the widest columns capped until the table fits the page."""
    font, bold = _fonts()
    size, pad = _styles()["cell"].fontSize, 15  # 12 pt of cell padding, and some slack against rounding

    def width(text: str, f: str) -> float:
        return pdfmetrics.stringWidth(clean(text), f, size) + pad

    natural, floor = [], []
    for i, head in enumerate(block.columns):
        cells = [row[i] for row in block.rows if i < len(row)]
        natural.append(min(max([width(head, bold)] + [width(c, font) for c in cells]), 0.6 * WIDTH))
        words = [width(w, bold) for w in head.split()] + [width(w, font) for c in cells for w in c.split()]
        floor.append(min(max(words, default=pad), 70 + pad))
    if sum(natural) <= WIDTH:
        return natural
    if sum(floor) >= WIDTH:
        return [w * WIDTH / sum(floor) for w in floor]
    lo, hi = 0.0, max(natural)
    for _ in range(40):  # bisect the cap so that the capped widths fill the page width
        cap = (lo + hi) / 2
        if sum(max(f, min(n, cap)) for f, n in zip(floor, natural)) > WIDTH:
            hi = cap
        else:
            lo = cap
    return [max(f, min(n, lo)) for f, n in zip(floor, natural)]


def _table(block: TableBlock, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    numeric = [block.numeric[i] if i < len(block.numeric) else False for i in range(len(block.columns))]
    head = [Paragraph(esc(c), st["cell_head"]) for c in block.columns]
    body = [[Paragraph(esc(c), st["cell_num"] if numeric[i] else st["cell"]) for i, c in enumerate(row)] for row in block.rows]
    t = Table([head, *body], colWidths=_col_widths(block), repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#d0d7de")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f8fa")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    out: list[Flowable] = []
    if block.caption:
        out.append(Paragraph(esc(block.caption), st["caption"]))
    return out + [t, Spacer(1, 6)]


def _chart(chart: BarChart) -> Drawing:
    """The HTML chart's geometry, scaled to the page and flipped (PDF y grows upwards)."""
    geo = chart_geometry(chart)
    font = _fonts()[0]
    s = WIDTH / geo["width"]
    h = geo["height"]
    d = Drawing(WIDTH, h * s)
    grp = Group(transform=(s, 0, 0, s, 0, 0))
    grey, ink, blue = colors.HexColor("#eaeef2"), colors.HexColor("#1f2328"), colors.HexColor("#4c78a8")

    def y(v: float) -> float:
        return h - v

    for t in geo["ticks"]:
        grp.add(Line(t["x"], y(4), t["x"], y(geo["axis_y"]), strokeColor=grey))
        grp.add(String(t["x"], y(geo["axis_y"] + 14), t["label"], fontName=font, fontSize=10, textAnchor="middle"))
    for r in geo["rows"]:
        fill = colors.HexColor("#afb8c1") if r["flagged"] else blue
        grp.add(Rect(r["bar_x"], y(r["bar_y"] + r["bar_h"]), r["bar_w"], r["bar_h"], fillColor=fill, strokeColor=None))
        grp.add(String(geo["x0"] - 8, y(r["mid"] + 4), clean(r["label"]), fontName=font, fontSize=11, textAnchor="end", fillColor=ink))
        grp.add(String(geo["value_x"], y(r["mid"] + 4), r["value_text"], fontName=font, fontSize=10, fillColor=ink))
        if r["ci"]:
            x1, x2, m = r["ci"]["x1"], r["ci"]["x2"], y(r["mid"])
            grp.add(Line(x1, m, x2, m, strokeColor=ink, strokeWidth=1.2))
            grp.add(Line(x1, m - 5, x1, m + 5, strokeColor=ink))
            grp.add(Line(x2, m - 5, x2, m + 5, strokeColor=ink))
    if geo["zero"] is not None:
        grp.add(Line(geo["zero"], y(4), geo["zero"], y(geo["axis_y"]), strokeColor=colors.HexColor("#57606a")))
    if geo["reference"]:
        x = geo["reference"]["x"]
        grp.add(Line(x, y(2), x, y(geo["axis_y"]), strokeColor=colors.HexColor("#cf222e"), strokeDashArray=[4, 3]))
    d.add(grp)
    return d
