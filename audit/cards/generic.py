"""A readable rendering of any report section, whatever its shape.

Built-in sections have a dedicated renderer in the card; this one draws the JSON form
of a registered section that has none (a plugin section, one still being written), so
nothing in a report is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.cards.blocks import Block, Facts, Heading, as_text, ci, humanise, num, table

MAX_ROWS = 30
_SCALAR = (str, int, float, bool, type(None))


def is_ci(v: Any) -> bool:
    """A value with a confidence interval: ``{"value", "low", "high", ...}`` (an ``audit.stats.Estimate``)."""
    return isinstance(v, Mapping) and {"value", "low", "high"} <= set(v)


def cell(v: Any) -> str:
    if is_ci(v):
        return f"{num(v['value'])} {ci(v['low'], v['high'])}"
    return as_text(v)


def _flat(v: Any) -> bool:
    return isinstance(v, _SCALAR) or is_ci(v) or (isinstance(v, (list, tuple)) and len(v) <= 8 and all(isinstance(x, _SCALAR) for x in v))


def flatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """One level of nesting lifted into columns: ``{"metrics": {"tpr": {...}}}`` -> ``{"tpr": {...}}``."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, Mapping) and not is_ci(v) and v and all(_flat(x) for x in v.values()):
            for k2, v2 in v.items():
                out[str(k2) if str(k2) not in row else f"{k} {k2}"] = v2
        else:
            out[k] = v
    return out


def records_table(rows: list[Mapping[str, Any]], *, caption: str = "", max_rows: int = MAX_ROWS):
    """A table of dicts: the keys whose values are flat in every row become columns."""
    rows = [flatten(r) for r in rows]
    cols: list[str] = []
    for row in rows:
        for k, v in row.items():
            if k not in cols and _flat(v):
                cols.append(k)
    cols = [k for k in cols if all(_flat(row.get(k)) for row in rows)]
    if not cols:
        return None
    shown = rows[:max_rows]
    if len(rows) > max_rows:
        caption = (caption + "; " if caption else "") + f"first {max_rows} of {len(rows)} rows"
    numeric = [all(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) or is_ci(r.get(k)) or r.get(k) is None for r in shown) for k in cols]
    return table([humanise(k) for k in cols], [[cell(r.get(k)) for k in cols] for r in shown], numeric=numeric, caption=caption)


def auto_blocks(section: Mapping[str, Any], *, skip: tuple[str, ...] = ("verdict",), depth: int = 0) -> list[Block]:
    """Blocks for every field of ``section`` not in ``skip``: scalars as facts, lists of records
    and mappings of records as tables, nested objects under a sub-heading (two levels deep)."""
    facts: list[tuple[str, str]] = []
    rest: list[Block] = []
    for key, v in section.items():
        if key in skip:
            continue
        label = humanise(key)
        if _flat(v):
            facts.append((label, cell(v)))
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
            t = records_table(list(v), caption=label)
            if t is not None:
                rest.append(t)
        elif isinstance(v, Mapping) and v and all(isinstance(x, Mapping) for x in v.values()):
            t = records_table([{"name": k, **x} for k, x in v.items()], caption=label)
            if t is not None:
                rest.append(t)
        elif isinstance(v, Mapping) and v and all(_flat(x) for x in v.values()):
            rest.append(table((label, "Value"), [(str(k), cell(x)) for k, x in list(v.items())[:MAX_ROWS]], numeric=(False, True)))
        elif isinstance(v, Mapping) and v and depth < 2:
            inner = auto_blocks(v, skip=(), depth=depth + 1)
            if inner:
                rest += [Heading(label), *inner]
        elif isinstance(v, (list, tuple)) and v:
            facts.append((label, f"{len(v)} items"))
    return ([Facts(tuple(facts))] if facts else []) + rest
