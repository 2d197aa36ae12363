"""Hostile uploads (issue 17, items 1, 2 and 4): sniffing bounded, every expansion capped."""

from __future__ import annotations

import gzip
import io
import time
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.config import DataOptions
from audit.data import load_table, parse_table
from audit.errors import DataError


def _timed(fn):
    start = time.perf_counter()
    try:
        out = fn()
    except DataError as exc:
        out = exc
    return out, time.perf_counter() - start


# -- item 1: delimiter sniffing ------------------------------------------------------------


@pytest.mark.parametrize("pattern", [',"a', ';"a', '\t"a'])
def test_quote_heavy_csv_is_answered_quickly(pattern):
    # 64 KB of this stalled the server for 35 s in csv.Sniffer (and 8 s more in pandas' implicit index).
    raw = (f"a{pattern[0]}b\n" + pattern * 21845).encode()
    out, seconds = _timed(lambda: parse_table(raw, name="q.csv"))
    assert seconds < 2, seconds
    assert isinstance(out, DataError)
    assert "the first data row has 10,924 fields but the header names 2 columns" in str(out)


def test_sniffing_is_linear_on_a_large_quote_heavy_file():
    raw = ("a,b\n1,2\n" + ',"a' * 1_000_000).encode()  # 3 MB
    out, seconds = _timed(lambda: parse_table(raw, name="q.csv"))
    assert seconds < 3, seconds
    assert isinstance(out, DataError) and "Expected 2 fields in line 3" in str(out)


def test_sniffing_still_finds_each_delimiter():
    df = pd.DataFrame({"age": [30, 41, 52], "city": ["Zürich", "Paris", "Köln"], "label": [0, 1, 0]})
    for sep in (",", ";", "\t", "|"):
        back = parse_table(df.to_csv(index=False, sep=sep).encode(), name="d.csv")
        assert list(back.columns) == ["age", "city", "label"] and back["city"].tolist() == df["city"].tolist()
    # decimal commas inside a semicolon file: the consistent delimiter wins
    back = parse_table(b"x;y\n1,5;2,5\n3,5;4,5\n", name="d.csv")
    assert list(back.columns) == ["x", "y"]


# -- item 4: a header longer than the 64 KiB sample ----------------------------------------


def _wide_csv(n_cols: int) -> bytes:
    header = ",".join(f"column_{i}" for i in range(n_cols))
    rows = "\n".join(",".join(str((i + r) % 7) for i in range(n_cols)) for r in range(3))
    return (header + "\n" + rows + "\n").encode()


def test_wide_header_past_the_sample_is_read_whole_within_the_column_cap():
    raw = _wide_csv(20_000)
    assert raw.index(b"\n") > 65536 * 3  # the header alone is far longer than the sniffing sample
    frame = parse_table(raw, name="wide.csv", options=DataOptions(max_columns=20_000))
    assert frame.shape == (3, 20_000)
    assert frame.columns[-1] == "column_19999" and frame.iloc[2, -1] == (19_999 + 2) % 7


def test_wide_header_over_the_column_cap_names_the_cap():
    with pytest.raises(DataError) as info:
        parse_table(_wide_csv(20_000), name="wide.csv")
    assert str(info.value) == (
        "the file wide.csv has 20,000 columns, over the cap of 5,000 columns (raise data.max_columns to allow it)"
    )


# -- item 2: decompression and expansion caps ----------------------------------------------


def test_gzip_expansion_is_capped_by_max_uncompressed_mb():
    body = b"a,b\n" + b"1,2\n" * 600_000  # 2.4 MB of text from ~10 KB of gzip
    gz = gzip.compress(body)
    assert len(gz) < 50_000
    with pytest.raises(DataError, match=r"the file bomb.csv.gz has at least 2.0 MB once uncompressed, over the cap of "
                                         r"2 MB \(raise data.max_uncompressed_mb to allow it\)"):
        load_table(gz, name="bomb.csv.gz", options=DataOptions(max_uncompressed_mb=2))
    frame, _, _ = load_table(gz, name="ok.csv.gz", options=DataOptions(max_uncompressed_mb=3))
    assert frame.shape == (600_000, 2)


def test_default_uncompressed_cap_is_not_ten_times_the_file_cap():
    # main let a gzip expand to 10 x max_file_mb (5 GB by default); the cap is its own option now.
    opts = DataOptions()
    assert opts.max_uncompressed_mb <= 2 * opts.max_file_mb


def test_csv_rows_and_cells_caps_stop_before_the_rest_is_parsed():
    raw = b"a,b,c\n" + b"1,2,3\n" * 5000
    with pytest.raises(DataError, match=r"has at least 1,001 rows, over the cap of 1,000 rows \(raise data.max_input_rows"):
        parse_table(raw, name="r.csv", options=DataOptions(max_input_rows=1000))
    with pytest.raises(DataError, match=r"has at least 3,003 cells \(1,001 rows x 3 columns\), over the cap of 3,000 cells "
                                         r"\(raise data.max_cells to allow it\)"):
        parse_table(raw, name="r.csv", options=DataOptions(max_cells=3000))
    assert parse_table(raw, name="r.csv", options=DataOptions(max_input_rows=5000, max_cells=15_000)).shape == (5000, 3)


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def test_parquet_caps_are_checked_on_metadata_before_reading():
    raw = _parquet(pa.table({"a": np.zeros(2_000_000), "b": np.ones(2_000_000)}))
    assert len(raw) < 100_000  # compresses to almost nothing, as the 512 KB / 40M-row file did
    out, seconds = _timed(lambda: parse_table(raw, name="p.parquet", options=DataOptions(max_input_rows=1_000_000)))
    assert str(out) == ("the file p.parquet has 2,000,000 rows, over the cap of 1,000,000 rows "
                        "(raise data.max_input_rows to allow it)")
    assert seconds < 1
    with pytest.raises(DataError, match=r"has 4,000,000 cells \(2,000,000 rows x 2 columns\), over the cap of 1,000,000"):
        parse_table(raw, name="p.parquet", options=DataOptions(max_cells=1_000_000))
    with pytest.raises(DataError, match=r"has 2 columns, over the cap of 1 columns \(raise data.max_columns"):
        parse_table(raw, name="p.parquet", options=DataOptions(max_columns=1))
    noisy = _parquet(pa.table({"a": np.random.default_rng(0).normal(size=300_000)}))  # 2.4 MB of plain pages
    with pytest.raises(DataError, match=r"MB once uncompressed, over the cap of 1 MB \(raise data.max_uncompressed_mb"):
        parse_table(noisy, name="p.parquet", options=DataOptions(max_uncompressed_mb=1))


def test_parquet_list_column_values_count_as_cells():
    lists = pa.array([list(range(100_000))] * 20)  # 20 rows, 2M values
    with pytest.raises(DataError, match=r"has 2,000,000 values, over the cap of 1,000,000 cells \(raise data.max_cells"):
        parse_table(_parquet(pa.table({"x": lists})), name="l.parquet", options=DataOptions(max_cells=1_000_000))


def _xlsx_with_sheet(sheet_data: bytes, dimension: str = "A1:B2") -> bytes:
    """A real workbook whose first sheet's XML is replaced (cheap to make with millions of cells)."""
    wb = openpyxl.Workbook()
    wb.active.append(["a", "b"])
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        b'<dimension ref="' + dimension.encode() + b'"/><sheetData>' + sheet_data + b"</sheetData></worksheet>")
            zout.writestr(item, data)
    return out.getvalue()


def test_xlsx_cells_are_capped_while_streaming_at_a_small_cap():
    raw = _xlsx_with_sheet((b"<row>" + b"<c><v>1</v></c>" * 1000 + b"</row>") * 2000)
    out, seconds = _timed(lambda: parse_table(raw, name="x.xlsx", options=DataOptions(max_excel_cells=10_000)))
    assert str(out).startswith("the file x.xlsx has at least 11,000 cells in a sheet, over the cap of 10,000 cells")
    assert seconds < 5, seconds


@pytest.mark.slow
def test_xlsx_cells_are_capped_while_streaming():
    row = b"<row>" + b"<c><v>1</v></c>" * 1000 + b"</row>"
    raw = _xlsx_with_sheet(row * 2000)  # 2M cells in ~100 KB, as in the report
    assert len(raw) < 200_000
    out, seconds = _timed(lambda: parse_table(raw, name="x.xlsx"))
    assert isinstance(out, DataError), out
    assert str(out).startswith("the file x.xlsx has at least 501,000 cells in a sheet, ")
    assert "over the cap of 500,000 cells (raise data.max_excel_cells to allow it, or save the sheet as CSV" in str(out)
    assert seconds < 30, seconds  # bounded by the cap, not the 2M cells (37 s of CPU on main)


def test_xlsx_declared_size_is_capped_before_inflating():
    raw = _xlsx_with_sheet(b"<row>" + b"<c><v>1</v></c>" * 10 + b"</row>" + b" " * 3_000_000)
    with pytest.raises(DataError, match=r"MB once uncompressed, over the cap of 2 MB \(raise data.max_uncompressed_mb"):
        parse_table(raw, name="x.xlsx", options=DataOptions(max_uncompressed_mb=2))


def test_xlsx_small_caps_and_a_normal_sheet():
    df = pd.DataFrame({"age": [30, 41, None], "sex": ["F", "M", "F"], "label": [0, 1, 0]})
    buf = io.BytesIO()
    df.to_excel(buf, index=False)
    back = parse_table(buf.getvalue(), name="d.xlsx")
    assert list(back.columns) == ["age", "sex", "label"]
    assert back["age"].isna().tolist() == [False, False, True] and back["label"].tolist() == [0, 1, 0]
    with pytest.raises(DataError, match=r"has at least 3 rows, over the cap of 2 rows \(raise data.max_input_rows"):
        parse_table(buf.getvalue(), name="d.xlsx", options=DataOptions(max_input_rows=2))
    with pytest.raises(DataError, match=r"has 3 columns, over the cap of 2 columns"):
        parse_table(buf.getvalue(), name="d.xlsx", options=DataOptions(max_columns=2))
