"""The document model shared by the model card and the datasheet, and its Markdown form.

A document is a title and sections; a section is a list of blocks (paragraph,
bullets, facts, table, bar chart, verdict). Every string in a block is plain text,
never markup: each renderer escapes it for its own format (Markdown here, HTML in
``_card_html``, reportlab's paragraph markup in ``_card_pdf``). Building the content
once and rendering it three ways keeps the formats in step.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Paragraph:
    """Running text. ``muted`` marks a placeholder (a narrative field nobody filled in)."""

    text: str
    muted: bool = False


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    """Label / value pairs, rendered as a two-column list."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """A table of pre-formatted cells; ``numeric[i]`` right-aligns column i."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()
    caption: str = ""


@dataclass(frozen=True)
class Bar:
    """One bar; ``low`` / ``high`` draw an error bar (a confidence interval) when both are set."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    flagged: bool = False


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart; ``reference`` draws a vertical line (e.g. the overall value)."""

    title: str
    bars: tuple[Bar, ...]
    reference: float | None = None
    reference_label: str = ""
    caption: str = ""


@dataclass(frozen=True)
class StatusLine:
    """A verdict: ``pass`` / ``warn`` / ``fail`` / ``not run`` and its reasons."""

    status: str
    reasons: tuple[str, ...] = ()


Block = Union[Paragraph, Heading, Bullets, Facts, Table, BarChart, StatusLine]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    """What the renderers draw: a model card or a datasheet."""

    title: str
    subtitle: str
    generated_at: str
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)


# -- formatting of values --------------------------------------------------------------


def num(value: Any, digits: int = 3) -> str:
    """A number for display: ``n/a`` for missing or non-finite values, ints without decimals."""
    if value is None or isinstance(value, bool):
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.{max(1, digits - 1)}e}"
        return f"{value:.{digits}f}"
    return str(value)


def ci(low: Any, high: Any, digits: int = 3) -> str:
    if _finite(low) and _finite(high):
        return f"[{num(low, digits)}, {num(high, digits)}]"
    return "n/a"


def pct(part: Any, whole: Any) -> str:
    if not _finite(part) or not _finite(whole) or not whole:
        return "n/a"
    return f"{100 * part / whole:.1f}%"


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def finite_or_none(v: Any) -> float | None:
    return float(v) if _finite(v) else None


def as_text(value: Any) -> str:
    """Any JSON value as one line of display text (user data may be any type)."""
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return num(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, dict):
        if {"value", "low", "high"} <= set(value):
            return f"{num(value['value'])} {ci(value['low'], value['high'])}"
        return "; ".join(f"{k}: {as_text(v)}" for k, v in value.items())
    return str(value)


def humanise(key: str) -> str:
    """``n_test`` -> ``N test``: a readable label for a report field name."""
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# -- Markdown --------------------------------------------------------------------------

# Backslash-escape what Markdown would read as emphasis, code or a table cell boundary...
_MD_SPECIAL = re.compile(r"([\\`*|])")
# ...and the "](", "][" and "]:" that make a link, an image or a link definition ("[x](javascript:...)").
_MD_LINK = re.compile(r"\](?=[(\[:])")
# An underscore starts or ends emphasis only at a word edge; inside a word (education_num) it is literal.
_MD_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_text(text: Any, *, line_start: bool = False) -> str:
    """Plain text made inert in Markdown: HTML-significant characters become entities
    (a Markdown viewer would otherwise pass ``<script>`` through as raw HTML), and
    Markdown syntax characters are backslash-escaped."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = _MD_EDGE_UNDERSCORE.sub(r"\\_", s)
    s = _MD_LINK.sub(r"\\]", s)
    if line_start:  # text that begins a line: it must not become a heading, list item or rule
        s = re.sub(r"^(\s*)#", r"\1\\#", s, flags=re.M)
        s = re.sub(r"^(\s*)([-+])", r"\1\\\2", s, flags=re.M)
        s = re.sub(r"^(\s*\d+)\.(\s)", r"\1\\.\2", s, flags=re.M)
    return s


def _md_cell(text: Any) -> str:
    return " ".join(md_text(text).split()) or " "


def render_markdown_document(doc: Document) -> str:
    out: list[str] = [f"# {md_text(doc.title)}", ""]
    if doc.subtitle:
        out += [md_text(doc.subtitle), ""]
    out += [f"Generated {md_text(doc.generated_at)}", ""]
    out.append("Contents: " + " · ".join(md_text(s.title) for s in doc.sections))
    out.append("")
    for sec in doc.sections:
        out += [f"## {md_text(sec.title)}", ""]
        for block in sec.blocks:
            out += _md_block(block)
    return "\n".join(out).rstrip("\n") + "\n"


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        body = "\n\n".join(md_text(p.strip(), line_start=True) for p in block.text.split("\n\n") if p.strip())
        return [f"*{body}*" if block.muted else body, ""]
    if isinstance(block, Heading):
        return [f"### {md_text(block.text)}", ""]
    if isinstance(block, Bullets):
        return [f"- {_md_cell(item)}" for item in block.items] + [""]
    if isinstance(block, Facts):
        return [f"- **{_md_cell(k)}:** {_md_cell(v)}" for k, v in block.pairs] + [""]
    if isinstance(block, StatusLine):
        lines = [f"**Verdict: {md_text(block.status.upper())}**", ""]
        if block.reasons:
            lines += [f"- {_md_cell(r)}" for r in block.reasons] + [""]
        return lines
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, BarChart):
        # The numbers behind a chart are always in a table next to it; Markdown gets a caption only.
        return []
    raise TypeError(f"unknown block {type(block).__name__}")


def _md_table(t: Table) -> list[str]:
    align = [("---:" if (t.numeric[i] if i < len(t.numeric) else False) else "---") for i in range(len(t.columns))]
    lines = []
    if t.caption:
        lines += [f"*{md_text(t.caption)}*", ""]
    lines.append("| " + " | ".join(_md_cell(c) for c in t.columns) + " |")
    lines.append("| " + " | ".join(align) + " |")
    for row in t.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return lines + [""]


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] = (), caption: str = "") -> Table:
    """A :class:`Table` from any cell values (formatted with :func:`as_text`)."""
    return Table(
        columns=tuple(str(c) for c in columns),
        rows=tuple(tuple(c if isinstance(c, str) else as_text(c) for c in r) for r in rows),
        numeric=tuple(bool(n) for n in numeric),
        caption=caption,
    )
