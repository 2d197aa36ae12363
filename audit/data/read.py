"""Reading a table: bytes from a path or upload, the format sniffed, size limits enforced.

``load_table`` turns bytes into a DataFrame (CSV with sniffed delimiter and
encoding, gzip, Parquet, Excel) and raises :class:`DataError` with a message a
data scientist can act on. The caps of :class:`DataOptions` (file size, uncompressed
size, rows, columns, cells, Excel cells) are checked before the memory is spent;
a refusal names the cap hit and the option that raises it.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import zlib
from pathlib import Path
from typing import IO

import pandas as pd

from audit.config import DataOptions
from audit.data import limits
from audit.data.limits import E_EMPTY, E_NO_ROWS, E_UNPARSEABLE
from audit.data.formats import read_excel, read_parquet
from audit.data.sniff import SAMPLE_BYTES, guess_delimiter, guess_encoding
from audit.errors import DataError

E_BINARY = "the file {name} is not a table: it looks like binary data (expected CSV, Parquet or Excel)"
E_TOO_BIG = "the file {name} is {size:.1f} MB, over the {limit:g} MB limit (raise data.max_file_mb to allow it)"
W_DUP_SAME = "column {col!r} appears {n} times with identical values; the first was kept and {dropped} identical copies dropped"
W_DUP_RENAMED = "column {col!r} appears again (column {pos}) with different values; that copy was renamed {new!r}"
# Where readers keep intake warnings on the frame until prepare_dataset moves them into the Dataset.
INTAKE_WARNINGS = "audit_intake_warnings"
E_XLS = "the file {name} is an old Excel .xls workbook; save it as .xlsx or CSV"


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a DataFrame (values and column names), for in-memory inputs."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return h.hexdigest()


def read_source(source: str | Path | bytes | IO[bytes], *, max_file_mb: float = 500.0) -> tuple[bytes, str]:
    """Return the raw bytes and a display name of a path, bytes or binary file object."""
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise DataError(f"data file not found: {p}")
        if p.is_dir():
            raise DataError(f"expected a data file, got a directory: {p}")
        size = p.stat().st_size
        _check_size(size, max_file_mb, p.name)
        return p.read_bytes(), p.name
    if isinstance(source, (bytes, bytearray)):
        _check_size(len(source), max_file_mb, "upload")
        return bytes(source), "upload"
    name = getattr(source, "name", "upload")
    data = source.read()
    _check_size(len(data), max_file_mb, str(name))
    return data, Path(str(name)).name


def _check_size(size: int, limit_mb: float, name: str) -> None:
    if limit_mb > 0 and size > limit_mb * 1024 * 1024:
        raise DataError(E_TOO_BIG.format(name=name, size=size / 1024 / 1024, limit=limit_mb))


def _options(options: DataOptions | None, max_file_mb: float | None) -> DataOptions:
    opts = options or DataOptions()
    if max_file_mb is not None and max_file_mb != opts.max_file_mb:
        opts = dataclasses.replace(opts, max_file_mb=max_file_mb)
    return opts


def load_table(source: str | Path | bytes | IO[bytes], *, max_file_mb: float | None = None, name: str | None = None,
               options: DataOptions | None = None) -> tuple[pd.DataFrame, str, str]:
    """Read a CSV / gzip CSV / Parquet / Excel table within the caps of ``options``.

    Returns
    -------
    (frame, name, sha256) : the table, the file's display name and the sha256 of its bytes.
    """
    opts = _options(options, max_file_mb)
    raw, shown = read_source(source, max_file_mb=opts.max_file_mb)
    shown = name or shown
    sha = file_sha256(raw)
    return parse_table(raw, name=shown, options=opts), shown, sha


def parse_table(raw: bytes, *, name: str, max_file_mb: float | None = None, options: DataOptions | None = None) -> pd.DataFrame:
    """Parse bytes of a table file; format detected from content, not the file name."""
    opts = _options(options, max_file_mb)
    if not raw.strip():
        raise DataError(E_EMPTY.format(name=name))
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, name, opts)
        if not raw.strip():
            raise DataError(E_EMPTY.format(name=name))
    if raw[:4] == b"PAR1":
        return dedupe_columns(read_parquet(raw, name, opts))
    if raw[:4] == b"PK\x03\x04":
        return dedupe_columns(read_excel(raw, name, opts))
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DataError(E_XLS.format(name=name))
    return dedupe_columns(_read_csv(raw, name, opts))


def _gunzip(raw: bytes, name: str, opts: DataOptions) -> bytes:
    # A bounded read: a gzip bomb stops at the cap instead of filling memory.
    limit = int(opts.max_uncompressed_mb * 1024 * 1024)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            out = gz.read(limit)
            if gz.read(1):
                limits.check_uncompressed(limit + 1, opts, name, more=True)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(E_UNPARSEABLE.format(name=name, detail=f"corrupt gzip data ({exc})")) from exc
    return out


def _check_text(raw: bytes, name: str) -> str:
    """The encoding of a text table; binary data is refused."""
    head = raw[:65536]
    if b"\x00" in head:
        raise DataError(E_BINARY.format(name=name))
    enc = guess_encoding(raw)
    if enc != "utf-8-sig":
        # Latin-1 decodes any byte string, so first reject data that is mostly control bytes.
        ctrl = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
        if ctrl > 0.01 * len(head):
            raise DataError(E_BINARY.format(name=name))
    return enc


def _header(raw: bytes, enc: str, sep: str, name: str) -> list[str]:
    """The whole first record, however long, checked against the first data row.

    The C csv reader streams both in linear time. pandas turns extra leading fields of
    the first data row into an index, one level per field: a 60 KB row of ``,"a`` took
    8 s, so a first row wider than the header is refused here instead.
    """
    text = io.TextIOWrapper(io.BytesIO(raw), encoding=enc, newline="")
    reader = csv.reader(text, delimiter=sep, skipinitialspace=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        first = next(reader, [])
    except csv.Error as exc:
        raise DataError(E_UNPARSEABLE.format(name=name, detail=f"the first rows cannot be parsed ({exc})")) from exc
    if len(first) > len(header):
        raise DataError(E_UNPARSEABLE.format(
            name=name, detail=f"the first data row has {len(first):,} fields but the header names {len(header):,} columns"))
    return header


def _read_csv(raw: bytes, name: str, opts: DataOptions) -> pd.DataFrame:
    enc = _check_text(raw, name)
    sample = raw[:SAMPLE_BYTES].decode(enc, errors="ignore")
    first_line = sample.splitlines()[0] if sample.splitlines() else ""
    sep = guess_delimiter(sample, cut=len(raw) > SAMPLE_BYTES)
    header = _header(raw, enc, sep, name)
    limits.check_columns(len(header), opts, name)
    budget = limits.row_budget(len(header), opts)
    try:
        # Read one row past the budget: a longer file is refused without parsing the rest.
        frame = pd.read_csv(io.BytesIO(raw), encoding=enc, sep=sep, skipinitialspace=True, nrows=budget + 1,
                            na_values=["?", "NA", "N/A", "null", "NULL", ""], keep_default_na=True)
    except pd.errors.EmptyDataError as exc:
        raise DataError(E_EMPTY.format(name=name)) from exc
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(E_UNPARSEABLE.format(name=name, detail=detail)) from exc
    limits.check_rows(len(frame), frame.shape[1], opts, name, more=len(frame) > budget)
    if len(header) == frame.shape[1] and len(set(header)) < len(header):
        # pandas mangles a repeated name into "name.1"; restore the file's names and dedupe after.
        frame.columns = header
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(E_NO_ROWS.format(name=name))
    if frame.shape[1] == 1 and not any(d in first_line for d in ",;\t|"):
        # One column and no delimiter anywhere: free text, not a table.
        raise DataError(E_UNPARSEABLE.format(name=name, detail="found a single column and no delimiter (expected comma, semicolon, tab or pipe separated values)"))
    return frame


def dedupe_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Make column names unique: identical repeats dropped, differing ones renamed ``name_2``, ...

    Exports such as ProPublica's COMPAS file repeat a column name. The warnings (one per
    repeated name or renamed copy) travel in ``frame.attrs[INTAKE_WARNINGS]`` so that
    :func:`audit.data.prepare_dataset` can put them in the report.
    """
    names = [str(c) for c in frame.columns]
    if len(set(names)) == len(names):
        return frame
    warnings = list(frame.attrs.get(INTAKE_WARNINGS, ()))
    taken = set(names)
    keep: list[int] = []
    new_names: list[str] = []
    first: dict[str, int] = {}
    same_count: dict[str, int] = {}
    for i, col in enumerate(names):
        if col not in first:
            first[col] = i
            keep.append(i)
            new_names.append(col)
            continue
        if frame.iloc[:, i].equals(frame.iloc[:, first[col]]):
            same_count[col] = same_count.get(col, 1) + 1
            continue
        k = 2
        while f"{col}_{k}" in taken:
            k += 1
        new = f"{col}_{k}"
        taken.add(new)
        keep.append(i)
        new_names.append(new)
        warnings.append(W_DUP_RENAMED.format(col=col, pos=i + 1, new=new))
    for col, n in same_count.items():
        warnings.append(W_DUP_SAME.format(col=col, n=n, dropped=n - 1))
    out = frame.iloc[:, keep].copy()
    out.columns = new_names
    out.attrs = {**frame.attrs, INTAKE_WARNINGS: tuple(warnings)}
    return out
