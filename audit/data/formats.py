"""Parquet and Excel readers that check the input caps before building a frame.

Parquet: the footer metadata states rows, leaf columns, values and uncompressed bytes;
all are checked before any column is read. Excel: the zip's declared member sizes
bound the XML inflated (``zipfile`` stops at the declared size), and the sheet is
streamed with openpyxl's read-only mode, counting rows and cells as they come.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pandas as pd

from audit.config import DataOptions
from audit.data import limits
from audit.data.limits import E_EMPTY, E_NO_ROWS, E_UNPARSEABLE
from audit.errors import DataError


def read_parquet(raw: bytes, name: str, opts: DataOptions) -> pd.DataFrame:
    """The table, column names possibly repeated (read.dedupe_columns resolves them)."""
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(io.BytesIO(raw))
        md = pf.metadata
        n_rows, n_cols = md.num_rows, md.num_columns
        limits.check_columns(n_cols, opts, name)
        limits.check_rows(n_rows, n_cols, opts, name)
        groups = [md.row_group(i) for i in range(md.num_row_groups)]
        limits.check_uncompressed(sum(g.total_byte_size for g in groups), opts, name)
        if md.num_row_groups * n_cols <= 100_000:  # list columns hold more values than rows
            values = sum(g.column(j).num_values for g in groups for j in range(n_cols))
            if values > opts.max_cells:
                raise limits.refuse(name, f"{values:,} values", f"{opts.max_cells:,} cells", "max_cells")
        # ParquetFile.read, not read_table: the dataset reader refuses repeated column names.
        table = pf.read()
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise DataError(E_UNPARSEABLE.format(name=name, detail=f"invalid Parquet ({exc})")) from exc
    cols = [str(c) for c in table.column_names]
    # to_pandas refuses repeated names: rename by position first.
    frame = table.rename_columns([f"__col{i}" for i in range(len(cols))]).to_pandas()
    frame.columns = cols
    if frame.empty:
        raise DataError(E_NO_ROWS.format(name=name))
    return frame


def _sheet_rows(ws: Any, opts: DataOptions, name: str) -> list[tuple]:
    """The sheet's rows with trailing empty cells and rows trimmed, within the caps."""
    rows: list[tuple] = []
    cells = 0
    # The sheet's declared dimension may lie (too small drops data, too large pads every row), as pandas does.
    ws.reset_dimensions()
    for row in ws.iter_rows(values_only=True):
        cells += max(len(row), 1)  # an empty row still costs parsing time
        limits.check_excel_cells(cells, opts, name)
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        limits.check_columns(end, opts, name)
        rows.append(row[:end])
        limits.check_rows(len(rows) - 1, 0, opts, name, more=True)  # cells: checked once the width is known
    while rows and not rows[-1]:
        rows.pop()
    return rows


def read_excel(raw: bytes, name: str, opts: DataOptions) -> pd.DataFrame:
    """The first sheet with cells, column names possibly repeated (read.dedupe_columns resolves them)."""
    try:
        import openpyxl

        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            limits.check_uncompressed(sum(i.file_size for i in zf.infolist()), opts, name)
        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            # The first sheet holding any cells (a workbook may start with an empty or blank sheet).
            rows: list[tuple] = []
            for ws in wb.worksheets:
                rows = _sheet_rows(ws, opts, name)
                if rows:
                    break
        finally:
            wb.close()
    except DataError:
        raise
    except Exception as exc:  # openpyxl / zipfile raise many types
        raise DataError(E_UNPARSEABLE.format(name=name, detail=f"not a readable .xlsx workbook ({exc})")) from exc
    if not rows:
        raise DataError(E_EMPTY.format(name=name))
    width = max(len(r) for r in rows)
    padded = [tuple(r) + (None,) * (width - len(r)) for r in rows]
    limits.check_rows(len(padded) - 1, width, opts, name)
    header = ["nan" if c is None else str(c) for c in padded[0]]
    frame = pd.DataFrame(padded[1:], columns=range(width))
    if frame.empty:
        raise DataError(E_NO_ROWS.format(name=name))
    # Excel cells come back as object columns; let pandas infer real dtypes.
    frame = frame.infer_objects()
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if col.dtype == object:
            conv = pd.to_numeric(col, errors="coerce")
            if conv.notna().sum() == col.notna().sum():
                frame.isetitem(i, conv)
    frame.columns = header  # names set last: they may repeat
    return frame
