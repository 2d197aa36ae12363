"""Data intake: formats, schema inference, exclusions, and the bad-input corpus."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.config import DataOptions
from audit.data import align_current, load_dataset, load_table, parse_table, prepare_dataset
from audit.errors import DataError

BAD = Path(__file__).parent / "data" / "bad"


def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50, 10, n).round(2),
            "city": rng.choice(["Paris", "Zürich", "São Paulo"], n),
            "sex": rng.choice(["F", "M"], n),
            "label": rng.choice([0, 1], n),
        }
    )


@pytest.mark.parametrize(
    "fname, message",
    [
        ("empty.csv", "is empty"),
        ("header_only.csv", "has a header but no data rows"),
        ("binary_garbage.csv", "looks like binary data"),
        ("unparseable.csv", "could not be read as a table: Error tokenizing data"),
        ("one_class.csv", "has a single value ('1')"),
        ("mostly_missing_target.csv", "is missing in 75% of rows"),
        ("too_many_classes.csv", "has 24 classes; at most 20 are supported"),
        ("no_usable_feature.csv", "no usable feature is left after excluding customer_id"),
        ("corrupt.parquet", "invalid Parquet"),
        ("corrupt.xlsx", "not a readable .xlsx workbook"),
        ("corrupt.csv.gz", "corrupt gzip data"),
    ],
)
def test_bad_corpus_messages(fname, message):
    with pytest.raises(DataError) as info:
        load_dataset(BAD / fname, target="label", sensitive=["sex"])
    assert message in str(info.value)


def test_unknown_target_and_sensitive_name_the_column():
    with pytest.raises(DataError, match=r"target column 'nope' is not in the data; columns are: age, colour, sex, label"):
        load_dataset(BAD / "unknown_column.csv", target="nope", sensitive=["sex"])
    with pytest.raises(DataError, match=r"sensitive column 'gender' is not in the data"):
        load_dataset(BAD / "unknown_column.csv", target="label", sensitive=["gender"])


def test_file_over_size_limit():
    with pytest.raises(DataError, match=r"too_big.csv is 0.3 MB, over the 0.1 MB limit \(raise data.max_file_mb to allow it\)"):
        load_dataset(BAD / "too_big.csv", target="label", sensitive=["sex"], options=DataOptions(max_file_mb=0.1))
    # the same file under a larger limit loads
    ds = load_dataset(BAD / "too_big.csv", target="label", sensitive=["sex"], options=DataOptions(max_file_mb=1))
    assert ds.n_rows == 30000


def test_small_group_is_a_warning_not_an_error():
    ds = load_dataset(BAD / "small_group.csv", target="label", sensitive=["sex"], options=DataOptions(min_group_size=30))
    assert any("sex=X has only 5 rows (minimum 30)" in w for w in ds.warnings)


def test_csv_sniffing_semicolon_latin1_and_gzip():
    df = _frame()
    text = df.to_csv(index=False, sep=";")
    latin = text.encode("latin-1")
    parsed = parse_table(latin, name="x.csv")
    assert list(parsed.columns) == list(df.columns)
    assert set(parsed["city"]) == {"Paris", "Zürich", "São Paulo"}
    gz = gzip.compress(df.to_csv(index=False, sep="\t").encode("utf-8"))
    parsed = parse_table(gz, name="x.csv.gz")
    assert parsed.shape == df.shape
    assert np.allclose(parsed["income"], df["income"])


def test_parquet_and_excel_roundtrip(tmp_path):
    df = _frame()
    df.to_parquet(tmp_path / "d.parquet")
    df.to_excel(tmp_path / "d.xlsx", index=False)
    for name in ("d.parquet", "d.xlsx"):
        frame, shown, sha = load_table(tmp_path / name)
        assert shown == name and len(sha) == 64
        assert frame.shape == df.shape
        assert np.allclose(frame["income"].astype(float), df["income"])
        ds = prepare_dataset(frame, target="label", sensitive=["sex"])
        assert ds.numeric == ("age", "income") and "city" in ds.categorical


def test_infinite_values_are_treated_as_missing():
    df = _frame()
    df.loc[::10, "income"] = np.inf
    df.loc[1, "income"] = -np.inf
    ds = prepare_dataset(df.copy(), target="label", sensitive=["sex"])
    assert "income" in ds.numeric and not np.isinf(ds.frame["income"].astype(float)).any()
    assert any("13 infinite values were treated as missing" in w for w in ds.warnings)
    assert not np.isinf(align_current(df, ds)["income"].astype(float)).any()
    reg = _frame()
    reg["label"] = reg["income"] * 2.0
    reg.loc[::20, "label"] = np.inf
    ds = prepare_dataset(reg, target="label", sensitive=["sex"])
    assert ds.task == "regression" and np.isfinite(ds.y).all()
    assert any("6 rows with a missing target were dropped" in w for w in ds.warnings)


def test_excel_skips_an_empty_first_sheet(tmp_path):
    df = _frame()
    with pd.ExcelWriter(tmp_path / "d.xlsx") as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Notes", index=False)
        df.to_excel(writer, sheet_name="Data", index=False)
    frame, _, _ = load_table(tmp_path / "d.xlsx")
    assert frame.shape == df.shape and list(frame.columns) == list(df.columns)
    with pd.ExcelWriter(tmp_path / "empty.xlsx") as writer:
        pd.DataFrame().to_excel(writer, sheet_name="A", index=False)
        pd.DataFrame().to_excel(writer, sheet_name="B", index=False)
    with pytest.raises(DataError, match="is empty"):
        load_table(tmp_path / "empty.xlsx")


def test_schema_inference_and_identifier_exclusion():
    rng = np.random.default_rng(1)
    n = 200
    df = _frame(n)
    df["row_id"] = np.arange(n)
    df["customer"] = [f"C-{i:05d}" for i in range(n)]
    df["email"] = [f"p{i}@mail.example.org" for i in range(n)]
    df["phone"] = [f"+44 20 7946 {i:04d}" for i in range(n)]
    df["dob"] = pd.date_range("1950-01-01", periods=n, freq="7D").strftime("%Y-%m-%d")
    df["name"] = rng.choice(["Ann Smith", "Bo Li", "Cy Diaz"], n)
    df["notes"] = [f"customer said on call {i} that the product was fine but slow to arrive" for i in range(n)]
    df["const"] = 1
    ds = prepare_dataset(df, target="label", sensitive=["sex"])
    assert ds.task == "binary" and ds.positive_label == "1"
    reasons = dict(ds.excluded)
    assert reasons["row_id"].startswith("ID-like")
    assert reasons["customer"].startswith("ID-like")
    assert "email" in reasons["email"]
    assert "phone" in reasons["phone"]
    assert "date of birth" in reasons["dob"]
    assert "name" in reasons["name"]
    assert "free text" in reasons["notes"]
    assert "constant" in reasons["const"]
    assert set(ds.features) == {"age", "income", "city", "sex"}
    assert not set(reasons) & set(ds.frame.columns)
    assert sum("excluded from the features" in w for w in ds.warnings) == len(reasons)


def test_task_inference():
    df = _frame()
    df["label"] = np.where(df["label"] == 1, ">50K", "<=50K")
    df.loc[:9, "label"] = ">50K"
    ds = prepare_dataset(df, target="label", sensitive=["sex"])
    minority = df["label"].value_counts().idxmin()
    assert ds.positive_label == minority
    assert ds.y.sum() == (df["label"] == minority).sum()
    reg = _frame()
    reg["label"] = np.random.default_rng(0).normal(size=len(reg))
    ds = prepare_dataset(reg, target="label", sensitive=["sex"])
    assert ds.task == "regression" and ds.positive_label is None


def test_missing_target_rows_dropped_with_warning_and_groups_labelled():
    df = _frame()
    df.loc[:9, "label"] = np.nan
    df.loc[10:14, "sex"] = np.nan
    ds = prepare_dataset(df, target="label", sensitive=["sex"], options=DataOptions(min_group_size=1))
    assert ds.n_rows == len(df) - 10
    assert "10 rows with a missing target were dropped" in ds.warnings
    assert (ds.groups["sex"] == "missing").sum() == 5


def test_numeric_sensitive_is_binned_into_quartiles():
    df = _frame(400)
    ds = prepare_dataset(df, target="label", sensitive=["age"])
    assert ds.groups["age"].nunique() == 4


def test_bad_options_name_the_column():
    with pytest.raises(DataError, match="column 'zzz' named in the data options"):
        prepare_dataset(_frame(), target="label", sensitive=["sex"], options=DataOptions(exclude=("zzz",)))
    with pytest.raises(DataError, match="cannot be both the target and a sensitive"):
        prepare_dataset(_frame(), target="label", sensitive=["label"])


def test_align_current_checks_schema():
    ds = prepare_dataset(_frame(), target="label", sensitive=["sex"])
    cur = _frame(50, seed=3)
    out = align_current(cur, ds)
    assert list(out.columns)[: len(ds.features)] == list(ds.features)
    with pytest.raises(DataError, match="lacks feature columns"):
        align_current(cur.drop(columns=["city"]), ds)
    bad = cur.copy()
    bad["age"] = bad["age"].astype(str)
    bad.loc[0, "age"] = "old"
    with pytest.raises(DataError, match="column 'age' is numeric in the reference data but the current data holds 'old'"):
        align_current(bad, ds)


def test_file_object_and_bytes_sources_hash_the_same():
    raw = _frame().to_csv(index=False).encode()
    a = load_dataset(raw, target="label", sensitive=["sex"])
    b = load_dataset(io.BytesIO(raw), target="label", sensitive=["sex"])
    assert a.sha256 == b.sha256 and len(a.sha256) == 64


def test_yes_no_target_makes_yes_positive_even_when_rarer():
    df = _frame()
    df["label"] = np.where(np.arange(len(df)) % 4 == 0, "yes", "no")
    ds = prepare_dataset(df, target="label", sensitive=["sex"])
    assert ds.positive_label == "yes" and ds.y.sum() == (df["label"] == "yes").sum()


@pytest.mark.parametrize("series", [
    pd.Series(["a", 1, 2.5, None, np.nan, True, "b c", 10**20, 1e-7, pd.NA], dtype=object),
    pd.Series(["a", "b", None, "c"], dtype=object),
    pd.Series([b"abc", b"\xff", None], dtype=object),
    pd.Series([1, 2.5, None], dtype=object),
    pd.Series(["a", None, "x", np.nan], dtype="str"),
    pd.Series(["a", None, "x"], dtype="string[python]"),
    pd.Series(["a", None, "x"], dtype="string[pyarrow]"),
    pd.Series([1, -5, 10**15]),
    pd.Series([0.1, np.nan, 1e20, -0.0, 3.0, 1 / 3, np.inf]),
    pd.Series([True, False]),
    pd.Series([1, None], dtype="Int64"),
    pd.Series(["a", None, "b"], dtype="category"),
    pd.Series([0.1, np.nan], dtype=np.float32),
    pd.to_datetime(pd.Series(["2020-01-01", None, "2021-05-06"])),
], ids=lambda s: f"{s.dtype}-{pd.api.types.infer_dtype(s, skipna=True)}")
def test_as_text_is_str_of_every_value_with_the_missing_marker(series):
    from audit.data.columns import as_text

    want = [None if pd.isna(v) else str(v) for v in series.astype(object)]
    got = as_text(series, None)
    assert list(got) == want and all(type(a) is type(b) for a, b in zip(got, want))
