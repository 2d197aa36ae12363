"""Intake of tables whose header repeats a column name (ProPublica's COMPAS export does)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.data import load_dataset, load_table, prepare_dataset
from audit.data.read import INTAKE_WARNINGS

BAD = Path(__file__).parent / "data" / "bad"
COMPAS = Path("/work/shared/data/compas.csv")


def _csv(n=80, seed=0) -> bytes:
    """``score`` repeated identically, ``priors`` repeated with different values."""
    rng = np.random.default_rng(seed)
    lines = ["score,sex,priors,score,priors,priors_2,label"]
    for i in range(n):
        s, p = int(rng.integers(1, 11)), int(rng.integers(0, 9))
        lines.append(f"{s},{'FM'[i % 2]},{p},{s},{p + 1},{i % 3},{i % 2}")
    return ("\n".join(lines) + "\n").encode()


def _check(ds, raw_rows):
    assert list(ds.frame.columns).count("score") == 1
    # The second priors differs: renamed past the existing priors_2, values kept.
    assert "priors_3" in ds.frame.columns and "priors_2" in ds.frame.columns
    assert (ds.frame["priors_3"].to_numpy() == ds.frame["priors"].to_numpy() + 1).all()
    assert ds.frame["score"].tolist() == [r[0] for r in raw_rows]
    joined = " | ".join(ds.warnings)
    assert "column 'score' appears 2 times with identical values; the first was kept and 1 identical copies dropped" in joined
    assert "column 'priors' appears again (column 5) with different values; that copy was renamed 'priors_3'" in joined
    assert sum("appears" in w for w in ds.warnings) == 2  # one warning per repeated column


def _rows(raw: bytes):
    return [list(map(lambda v: int(v) if v.isdigit() else v, line.split(","))) for line in raw.decode().splitlines()[1:]]


def test_csv_with_repeated_names_is_accepted_with_a_warning_each():
    raw = _csv()
    ds = load_dataset(raw, target="label", sensitive=["sex"])
    _check(ds, _rows(raw))


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_parquet_and_excel_with_repeated_names(fmt, tmp_path):
    raw = _csv()
    frame = pd.read_csv(pd.io.common.BytesIO(raw), header=None, skiprows=1)
    frame.columns = raw.decode().splitlines()[0].split(",")
    path = tmp_path / f"d.{fmt}"
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_arrays([pa.array(frame.iloc[:, i]) for i in range(frame.shape[1])], names=list(frame.columns))
        pq.write_table(table, path)
    else:
        frame.to_excel(path, index=False)
    ds = load_dataset(path, target="label", sensitive=["sex"])
    _check(ds, _rows(raw))


def test_in_memory_frame_with_repeated_names():
    raw = _csv()
    frame = pd.read_csv(pd.io.common.BytesIO(raw), header=None, skiprows=1)
    frame.columns = raw.decode().splitlines()[0].split(",")
    ds = prepare_dataset(frame, target="label", sensitive=["sex"])
    _check(ds, _rows(raw))
    # Prepared again from its own frame: the warnings are not repeated.
    again = prepare_dataset(ds.frame.copy(), target="label", sensitive=["sex"])
    assert not any("appears" in w for w in again.warnings)


def test_bad_corpus_duplicate_file_now_loads():
    frame, _, _ = load_table(BAD / "duplicate_columns.csv")
    assert list(frame.columns) == ["age", "sex", "label"]
    assert frame.attrs[INTAKE_WARNINGS] == ("column 'age' appears 2 times with identical values; the first was kept and 1 identical copies dropped",)


@pytest.mark.skipif(not COMPAS.exists(), reason="the COMPAS export is not on this machine")
def test_compas_export_loads():
    header = COMPAS.read_text().splitlines()[0].split(",")
    assert header.count("decile_score") == 2 and header.count("priors_count") == 2
    frame, _, _ = load_table(COMPAS)
    ds = prepare_dataset(frame, target="two_year_recid", sensitive=["race", "sex"])
    assert len(set(ds.frame.columns)) == len(ds.frame.columns)
    raw = pd.read_csv(COMPAS)  # pandas' own reading: repeats mangled to name.1
    for col in ("decile_score", "priors_count"):
        assert any(f"column {col!r} appears" in w for w in ds.warnings)
        assert raw[col].equals(raw[f"{col}.1"])  # identical in the export, so dropped, not renamed
        assert f"{col}_2" not in ds.frame.columns
