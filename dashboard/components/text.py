"""Text for the pages: escaping user strings for markdown, verdict badges, number formats.

User-supplied text (column names, category values, file names, and core messages
that quote them) goes through :func:`md` before it reaches markdown, or is shown
with ``st.dataframe`` / ``st.text``. No streamlit import: these only build strings.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from audit.cards.datasheet import csv_safe

_BADGE = {"pass": ("green", ":material/check_circle:"), "warn": ("orange", ":material/warning:"), "fail": ("red", ":material/cancel:")}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: Any) -> str:
    """Escape user text for st.markdown (no emphasis, links, HTML, LaTeX or emoji shortcodes)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def table_csv(frame: pd.DataFrame) -> str:
    """A table as CSV that a spreadsheet opens safely: every text cell and header neutralised with
    :func:`audit.cards.datasheet.csv_safe` (``=``, ``+``, ``-``, ``@``, tab, CR get a leading ``'``)."""
    out = frame.copy()
    out.columns = [csv_safe(str(c)) for c in frame.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            out.isetitem(i, col.astype(object).map(csv_safe))
    return out.to_csv(index=False, lineterminator="\r\n")  # RFC 4180; with "\n" alone a CR in a cell went unquoted


def badge(status: str | None) -> str:
    """Markdown badge for pass / warn / fail (grey "not run" for None)."""
    if status is None:
        return ":gray-badge[not run]"
    colour, icon = _BADGE.get(status, ("gray", ""))
    return f":{colour}-badge[{icon} {status.upper()}]"


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
