"""Partitioned data for the Dask engine: a Parquet or CSV file, a directory or a glob of them.

Every file's schema is checked against the first one before any partition is read
(Parquet from its footer, CSV from its header line), so a file that breaks the schema
is one error naming it, not a failure halfway through a computation.
"""

from __future__ import annotations

import contextlib
import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from audit.errors import DataError

SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")
MAX_FILES = 100_000


@dataclass(frozen=True)
class PartitionedSource:
    """The files of one table, their format and the columns they share."""

    files: tuple[str, ...]
    format: str  # "parquet" | "csv"
    columns: tuple[str, ...]


def _list_files(source: str | Path) -> list[str]:
    text = str(source)
    if any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text, recursive=True))
    elif Path(text).is_dir():
        files = sorted(str(p) for p in Path(text).rglob("*") if p.is_file() and str(p).endswith(SUFFIXES))
    elif Path(text).is_file():
        files = [text]
    else:
        raise DataError(f"data not found: {text}")
    files = [f for f in files if f.endswith(SUFFIXES)]
    if not files:
        raise DataError(f"no Parquet or CSV file in {text}")
    if len(files) > MAX_FILES:
        raise DataError(f"{text} holds {len(files):,} files, over the {MAX_FILES:,}-file limit")
    return files


def _parquet_schema(path: str) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise DataError(f"the file {path} is not a readable Parquet file: {exc}") from exc
    # Integer widths and nullability differ harmlessly between writers; the kind must agree.
    return [(f.name, _kind(str(f.type))) for f in schema if not f.name.startswith("__index_level_")]


def _kind(arrow_type: str) -> str:
    if arrow_type.startswith(("int", "uint", "float", "double", "halffloat", "decimal")):
        return "number"
    if arrow_type in ("bool",):
        return "bool"
    return "text" if arrow_type in ("string", "large_string", "dictionary<values=string, indices=int32, ordered=0>") else arrow_type


def _csv_header(path: str) -> list[tuple[str, str]]:
    import pandas as pd

    try:
        head = pd.read_csv(path, nrows=0)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"the file {path} could not be read as CSV: {exc}") from exc
    return [(str(c), "any") for c in head.columns]


def inspect_source(source: str | Path) -> PartitionedSource:
    """List the files of ``source`` and check that they share one schema."""
    files = _list_files(source)
    fmt = "parquet" if files[0].endswith((".parquet", ".pq")) else "csv"
    if any(f.endswith((".parquet", ".pq")) != (fmt == "parquet") for f in files):
        raise DataError(f"{source} mixes Parquet and CSV files; keep one format per table")
    read = _parquet_schema if fmt == "parquet" else _csv_header
    first = read(files[0])
    for f in files[1:]:
        other = read(f)
        if other != first:
            missing = sorted({n for n, _ in first} - {n for n, _ in other})
            extra = sorted({n for n, _ in other} - {n for n, _ in first})
            changed = sorted(n for (n, k), (m, j) in zip(first, other) if n == m and k != j)
            detail = "; ".join(x for x in (
                f"lacks {', '.join(missing)}" if missing else "", f"adds {', '.join(extra)}" if extra else "",
                f"changes the type of {', '.join(changed)}" if changed else "",
                "orders the columns differently" if not (missing or extra or changed) else "") if x)
            raise DataError(f"the file {f} does not match the schema of {files[0]}: it {detail}")
    return PartitionedSource(tuple(files), fmt, tuple(n for n, _ in first))


def read_partitioned(source: str | Path, *, columns: list[str] | None = None):
    """A Dask DataFrame over every file of ``source`` (one partition per file or row group)."""
    import dask.dataframe as dd

    src = inspect_source(source)
    missing = [c for c in columns or () if c not in src.columns]
    if missing:
        raise DataError(f"columns {', '.join(missing)} are not in {source}; columns are: {', '.join(src.columns[:30])}")
    if src.format == "parquet":
        return dd.read_parquet(list(src.files), columns=columns)
    return dd.read_csv(list(src.files), usecols=columns, blocksize="64MB", assume_missing=True)


_MISMATCH = "Mismatched dtypes found in `pd.read_csv`"
_ROW = re.compile(r"^\|\s*(\S[^|]*?)\s*\|\s*(\S+)\s*\|\s*(\S+)\s*\|$")


def _offending_file(src: PartitionedSource, columns: list[str]) -> str | None:
    """The first CSV file whose ``columns`` do not all read as numbers (the error path only)."""
    import pandas as pd

    for f in src.files:
        part = pd.read_csv(f, usecols=columns, dtype=str, keep_default_na=True)
        for c in columns:
            if pd.to_numeric(part[c].dropna(), errors="coerce").isna().any():
                return f
    return None


@contextlib.contextmanager
def csv_types(source: str | Path) -> Iterator[None]:
    """Turn dask's mid-computation failure on a CSV value of the wrong type into one error naming
    the file and the column.

    A CSV header has no types: dask infers them from the first file's first block, and a later
    block that disagrees fails while it is read. The file is found here, on that error path only,
    by reading the offending columns of each file again."""
    try:
        yield
    except ValueError as exc:
        text = str(exc)
        if _MISMATCH not in text:
            raise
        rows = [m.groups() for line in text.splitlines() if (m := _ROW.match(line.strip()))][1:]  # [0]: the header
        src = inspect_source(source)
        # The table trims the names: map them back to the files' own (" age" in a ", "-separated file).
        by_trimmed = {c.strip(): c for c in src.columns}
        expected = {by_trimmed[c.strip()]: e for c, _, e in rows if c.strip() in by_trimmed}
        cols = list(expected)
        try:
            where = _offending_file(src, cols) if cols else None
        except (ValueError, OSError, UnicodeDecodeError):  # the error names the table instead of the file
            where = None
        what = ", ".join(f"{c} (expected {expected[c]} from the first rows)" for c in cols) or "a column"
        raise DataError(f"the file {where or source} holds values of another type in {what}; every file of a "
                        "table must keep each column's type") from None


__all__ = ["PartitionedSource", "csv_types", "inspect_source", "read_partitioned"]
