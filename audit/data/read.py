"""Reading a table: bytes from a path or upload, the format sniffed, size limits enforced.

``load_table`` turns bytes into a DataFrame (CSV with sniffed delimiter and
encoding, gzip, Parquet, Excel) and raises :class:`DataError` with a message a
data scientist can act on.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from pathlib import Path
from typing import IO

import pandas as pd

from audit.errors import DataError

E_EMPTY = "the file {name} is empty"
E_NO_ROWS = "the file {name} has a header but no data rows"
E_BINARY = "the file {name} is not a table: it looks like binary data (expected CSV, Parquet or Excel)"
E_UNPARSEABLE = "the file {name} could not be read as a table: {detail}"
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


def load_table(source: str | Path | bytes | IO[bytes], *, max_file_mb: float = 500.0, name: str | None = None) -> tuple[pd.DataFrame, str, str]:
    """Read a CSV / gzip CSV / Parquet / Excel table.

    Returns
    -------
    (frame, name, sha256) : the table, the file's display name and the sha256 of its bytes.
    """
    raw, shown = read_source(source, max_file_mb=max_file_mb)
    shown = name or shown
    sha = file_sha256(raw)
    return parse_table(raw, name=shown, max_file_mb=max_file_mb), shown, sha


def parse_table(raw: bytes, *, name: str, max_file_mb: float = 500.0) -> pd.DataFrame:
    """Parse bytes of a table file; format detected from content, not the file name."""
    if not raw.strip():
        raise DataError(E_EMPTY.format(name=name))
    if raw[:2] == b"\x1f\x8b":
        try:
            # Bounded read guards against gzip bombs: the uncompressed size obeys the same limit.
            limit = int(max_file_mb * 1024 * 1024 * 10) if max_file_mb > 0 else -1
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                raw = gz.read(limit if limit > 0 else -1)
                if limit > 0 and gz.read(1):
                    raise DataError(E_TOO_BIG.format(name=name + " (uncompressed)", size=limit / 1048576 + 1, limit=limit / 1048576))
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(E_UNPARSEABLE.format(name=name, detail=f"corrupt gzip data ({exc})")) from exc
        if not raw.strip():
            raise DataError(E_EMPTY.format(name=name))
    if raw[:4] == b"PAR1":
        return _read_parquet(raw, name)
    if raw[:4] == b"PK\x03\x04":
        return _read_excel(raw, name)
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DataError(E_XLS.format(name=name))
    return _read_csv(raw, name)


def _read_parquet(raw: bytes, name: str) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq

        # ParquetFile.read, not read_table: the dataset reader refuses repeated column names.
        table = pq.ParquetFile(io.BytesIO(raw)).read()
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise DataError(E_UNPARSEABLE.format(name=name, detail=f"invalid Parquet ({exc})")) from exc
    cols = [str(c) for c in table.column_names]
    # to_pandas refuses repeated names; positional renaming first, then the same dedupe as CSV.
    frame = table.rename_columns([f"__col{i}" for i in range(len(cols))]).to_pandas()
    frame.columns = cols
    if frame.empty:
        raise DataError(E_NO_ROWS.format(name=name))
    return dedupe_columns(frame)


def _read_excel(raw: bytes, name: str) -> pd.DataFrame:
    try:
        # The first sheet holding any cells (a workbook may start with an empty or blank sheet).
        sheets = pd.read_excel(io.BytesIO(raw), sheet_name=None, header=None, engine="openpyxl")
    except Exception as exc:  # openpyxl / zipfile raise many types
        raise DataError(E_UNPARSEABLE.format(name=name, detail=f"not a readable .xlsx workbook ({exc})")) from exc
    frame = next((f for f in sheets.values() if not f.empty), pd.DataFrame())
    if frame.empty:
        raise DataError(E_EMPTY.format(name=name))
    header = [str(c) for c in frame.iloc[0].tolist()]
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
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
    return dedupe_columns(frame)


def _decode(raw: bytes, name: str) -> str:
    head = raw[:65536]
    if b"\x00" in head:
        raise DataError(E_BINARY.format(name=name))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Latin-1 decodes any byte string, so first reject data that is mostly control bytes.
    ctrl = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if ctrl > 0.01 * len(head):
        raise DataError(E_BINARY.format(name=name))
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_csv(raw: bytes, name: str) -> pd.DataFrame:
    text = _decode(raw, name)
    sample = text[:65536]
    first_line = sample.splitlines()[0] if sample.splitlines() else ""
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in ",;\t|"}
        sep = max(counts, key=counts.get) if max(counts.values()) > 0 else ","
    header = next(csv.reader([first_line], delimiter=sep), [])
    header = [h.strip() for h in header]
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True, na_values=["?", "NA", "N/A", "null", "NULL", ""], keep_default_na=True)
    except pd.errors.EmptyDataError as exc:
        raise DataError(E_EMPTY.format(name=name)) from exc
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(E_UNPARSEABLE.format(name=name, detail=detail)) from exc
    if len(header) == frame.shape[1] and len(set(header)) < len(header):
        # pandas mangles a repeated name into "name.1"; restore the file's names and dedupe below.
        frame.columns = header
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(E_NO_ROWS.format(name=name))
    if frame.shape[1] == 1 and len(text) > 0 and not any(d in first_line for d in ",;\t|"):
        # One column and no delimiter anywhere: free text, not a table.
        raise DataError(E_UNPARSEABLE.format(name=name, detail="found a single column and no delimiter (expected comma, semicolon, tab or pipe separated values)"))
    return dedupe_columns(frame)


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
