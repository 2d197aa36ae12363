"""The caps on what one input file may make us spend, and the refusals (naming the cap hit).

Every check runs before the memory is spent: on the declared sizes of a gzip stream,
an .xlsx zip or Parquet metadata, on a CSV header, or while streaming rows.
"""

from __future__ import annotations

from audit.config import DataOptions
from audit.errors import DataError

E_EMPTY = "the file {name} is empty"
E_NO_ROWS = "the file {name} has a header but no data rows"
E_UNPARSEABLE = "the file {name} could not be read as a table: {detail}"
E_CAP = "the file {name} has {what}, over the cap of {cap} (raise data.{option} to allow it{hint})"
_MB = 1024 * 1024


def refuse(name: str, what: str, cap: str, option: str, hint: str = "") -> DataError:
    return DataError(E_CAP.format(name=name, what=what, cap=cap, option=option, hint=hint))


def check_uncompressed(size: int, opts: DataOptions, name: str, *, more: bool = False) -> None:
    """``size`` bytes after decompression (``more``: at least that many)."""
    if size > opts.max_uncompressed_mb * _MB:
        what = f"{'at least ' if more else ''}{size / _MB:,.1f} MB once uncompressed"
        raise refuse(name, what, f"{opts.max_uncompressed_mb:g} MB", "max_uncompressed_mb")


def check_columns(n_cols: int, opts: DataOptions, name: str) -> None:
    if n_cols > opts.max_columns:
        raise refuse(name, f"{n_cols:,} columns", f"{opts.max_columns:,} columns", "max_columns")


def row_budget(n_cols: int, opts: DataOptions) -> int:
    """The most rows a table of ``n_cols`` columns may have under both the row and the cell cap."""
    return max(1, min(opts.max_input_rows, opts.max_cells // max(n_cols, 1)))


def check_rows(n_rows: int, n_cols: int, opts: DataOptions, name: str, *, more: bool = False) -> None:
    """``n_rows`` data rows of ``n_cols`` columns (``more``: at least that many rows)."""
    at_least = "at least " if more else ""
    if n_rows > opts.max_input_rows:
        raise refuse(name, f"{at_least}{n_rows:,} rows", f"{opts.max_input_rows:,} rows", "max_input_rows")
    cells = n_rows * n_cols
    if cells > opts.max_cells:
        raise refuse(name, f"{at_least}{cells:,} cells ({n_rows:,} rows x {n_cols:,} columns)",
                     f"{opts.max_cells:,} cells", "max_cells")


def check_excel_cells(cells: int, opts: DataOptions, name: str) -> None:
    if cells > opts.max_excel_cells:
        raise refuse(name, f"at least {cells:,} cells in a sheet", f"{opts.max_excel_cells:,} cells",
                     "max_excel_cells", hint=", or save the sheet as CSV or Parquet, which read far faster")
