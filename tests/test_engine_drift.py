"""Drift over every row on a real Dask LocalCluster equals the in-memory drift of the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.engine.drift import (
    DOMAIN_NOTE,
    drift_on_cluster,
    merge_summaries,
    partition_summaries,
)
from audit.errors import DataError
from audit.pipeline import run_audit
from audit.sections.drift.section import DriftOptions, compare_frames

NUM, CAT = ("a", "b", "c"), ("k", "flag")


def _table(n: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    b = rng.integers(0, 40, n).astype(float)
    b[rng.random(n) < 0.02] = np.nan
    b[rng.random(n) < 0.001] = np.inf
    k = rng.choice([f"cat{i:02d}" for i in range(30)] + ([f"new{i}" for i in range(3)] if shift else []), n)
    k = pd.Series(k, dtype=object)
    k[rng.random(n) < 0.03] = None
    return pd.DataFrame({"a": rng.normal(shift, 1, n), "b": b, "c": rng.exponential(1 + shift, n).round(2),
                         "k": k, "flag": rng.choice(["yes", "no"], n, p=[0.3 + 0.2 * shift, 0.7 - 0.2 * shift])})


def _parts(frame: pd.DataFrame, folder, rows: int) -> None:
    folder.mkdir()
    for i, start in enumerate(range(0, len(frame), rows)):
        frame.iloc[start:start + rows].to_parquet(folder / f"part-{i:02d}.parquet", index=False)


def test_merged_partition_summaries_equal_the_whole_table_s():
    t = _table(5_000, seed=1, shift=0.5)
    whole = partition_summaries(t, NUM, CAT)
    merged = merge_summaries(merge_summaries(partition_summaries(t.iloc[:1_000], NUM, CAT),
                                             partition_summaries(t.iloc[1_000:3_100], NUM, CAT)),
                             partition_summaries(t.iloc[3_100:], NUM, CAT))
    assert merged["__rows__"] == whole["__rows__"] == 5_000
    for c in NUM:
        np.testing.assert_array_equal(merged[c].values, whole[c].values)
        np.testing.assert_array_equal(merged[c].counts, whole[c].counts)
        assert merged[c].missing == whole[c].missing > 0 if c == "b" else True
    for c in CAT:
        pd.testing.assert_series_equal(merged[c].sort_index(), whole[c].sort_index(), check_names=False)


@pytest.mark.slow
def test_drift_on_the_cluster_equals_the_in_memory_drift_of_the_same_rows(tmp_path, client):
    ref, cur = _table(30_000, seed=2, shift=0.0), _table(22_000, seed=3, shift=0.3)
    _parts(ref, tmp_path / "ref", 7_000)
    _parts(cur, tmp_path / "cur", 5_000)
    opts = DriftOptions(domain_classifier=False)
    on_cluster = drift_on_cluster(tmp_path / "ref", tmp_path / "cur", client, numeric=NUM, categorical=CAT, options=opts)
    in_memory = compare_frames(ref, cur, numeric=NUM, categorical=CAT, options=opts)
    a, b = on_cluster.to_dict(), in_memory.to_dict()
    assert a.pop("domain_note") == DOMAIN_NOTE and b.pop("domain_note").startswith("not requested")
    assert a == b  # every statistic, p-value, share and decision, exactly
    assert on_cluster.n_reference == 30_000 and on_cluster.n_current == 22_000
    assert {"a", "c", "k"} <= set(on_cluster.drifted_features)  # the shifts built in are found


def test_a_column_missing_from_a_table_is_one_clear_error(tmp_path):
    _parts(_table(100, seed=4, shift=0.0).drop(columns="flag"), tmp_path / "ref", 50)
    with pytest.raises(DataError, match=r"columns flag are not in"):
        drift_on_cluster(tmp_path / "ref", tmp_path / "ref", None, numeric=NUM, categorical=CAT)


@pytest.mark.slow
def test_run_audit_on_dask_tests_every_row_of_the_current_table(tmp_path, client):
    from audit.config import AuditConfig, EngineOptions, ModelOptions
    from tests.conftest import make_synthetic

    table, current = make_synthetic(6_000, seed=7), make_synthetic(5_000, seed=8)
    current["x1"] += 0.4  # the shift the drift tests must find
    _parts(table, tmp_path / "table", 1_500)
    _parts(current, tmp_path / "current", 1_200)
    cfg = AuditConfig(target="label", sensitive=("sex",), sections=("drift",), models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                      engine=EngineOptions(address="dask", workers=2, sample_rows=2_000))
    rep = run_audit(cfg, tmp_path / "table", current=tmp_path / "current")
    d = rep.drift
    assert d.data.n_reference == 6_000 and d.data.n_current == 5_000  # every row, though the audit sampled 2,000
    assert d.reference_source.startswith("every row of the table (6,000") and "on a sample of" in d.current_source
    assert rep.manifest.current_dataset.rows == 5_000 and d.data.domain is not None and "on samples" in d.data.domain_note
    # The feature tests are those of the in-memory drift of the two whole tables.
    kinds = {f.feature: f.kind for f in d.data.features}
    num = tuple(f for f, k in kinds.items() if k == "numeric")
    cat = tuple(f for f, k in kinds.items() if k == "categorical")
    want = compare_frames(table, current, numeric=num, categorical=cat, options=DriftOptions(domain_classifier=False))
    assert [f.feature for f in d.data.features] == [f.feature for f in want.features]
    for got, exp in zip(d.data.features, want.features):
        for k, v in exp.to_dict().items():  # floats to 1e-12: a Wasserstein sum may differ in its last bit
            w = got.to_dict()[k]
            assert (w == pytest.approx(v, rel=1e-12, nan_ok=True)) if isinstance(v, float) else w == v, (got.feature, k)
    assert "x1" in d.data.drifted_features
    # Prediction drift: the validation rows' scores against the score of every current row;
    # label drift: every labelled row of both tables.
    assert d.prediction.n_current == 5_000 and 0 < d.prediction.n_reference < 2_000
    assert "prediction and label drift over every row too" in d.current_source
    from audit.sections.drift.stats import categorical_drift, count_categories

    want_labels = categorical_drift("label", count_categories(table["label"].astype(str)),
                                    count_categories(current["label"].astype(str)), threshold=DriftOptions().jensen_shannon_threshold)
    assert (d.labels.n_reference, d.labels.n_current) == (6_000, 5_000)
    assert d.labels.statistic == pytest.approx(want_labels.statistic, rel=1e-12)
    assert d.labels.p_value == pytest.approx(want_labels.p_value, rel=1e-12)


def test_a_multiclass_models_predicted_classes_and_labels_over_every_current_row(tmp_path, client):
    from audit.config import AuditConfig, EngineOptions, ModelOptions
    from audit.sections.drift.stats import categorical_drift, count_categories
    from tests.conftest import make_multiclass

    table, current = make_multiclass(6_000, seed=3), make_multiclass(4_000, seed=4)
    current.loc[current.index[:1_500], "x1"] = 0.95  # more "approve": predicted classes and labels drift
    current["decision"] = make_multiclass(4_000, seed=4)["decision"].where(current["x1"] != 0.95, "approve")
    _parts(table, tmp_path / "table", 1_500)
    _parts(current, tmp_path / "current", 1_000)
    cfg = AuditConfig(target="decision", sensitive=("group",), sections=("drift",),
                      models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                      engine=EngineOptions(address="dask", workers=2, sample_rows=2_000))
    d = run_audit(cfg, tmp_path / "table", current=tmp_path / "current").drift
    assert d.prediction.kind == "categorical" and d.prediction.n_current == 4_000 and d.prediction.drifted
    want = categorical_drift("decision", count_categories(table["decision"]), count_categories(current["decision"]),
                             threshold=DriftOptions().jensen_shannon_threshold)
    assert (d.labels.n_reference, d.labels.n_current) == (6_000, 4_000) and d.labels.drifted
    assert d.labels.statistic == pytest.approx(want.statistic, rel=1e-12)


def test_a_predictions_column_keeps_its_sampled_drift_on_a_cluster(tmp_path, client):
    from audit.config import AuditConfig, EngineOptions, ModelOptions, UserModelOptions
    from tests.conftest import make_synthetic

    table, current = make_synthetic(4_000, seed=5), make_synthetic(3_000, seed=6)
    for f in (table, current):
        f["risk"] = (f["x1"] - f["x1"].min()) / (f["x1"].max() - f["x1"].min())  # the user's scores, in [0, 1]
    _parts(table, tmp_path / "table", 1_000)
    _parts(current, tmp_path / "current", 1_000)
    cfg = AuditConfig(target="label", sensitive=("sex",), sections=("drift",), model=UserModelOptions(predictions="risk"),
                      models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                      engine=EngineOptions(address="dask", workers=2, sample_rows=2_000))
    d = run_audit(cfg, tmp_path / "table", current=tmp_path / "current").drift
    # A predictions column cannot score rows on the workers: the drift of its sampled rows stands.
    assert d.prediction is not None and d.prediction.n_current < 3_000
    assert "model-based drift on a sample of" in d.current_source and d.data.n_current == 3_000


def test_a_current_label_the_table_never_had_is_an_error_on_a_cluster(tmp_path, client):
    from audit.config import AuditConfig, EngineOptions, ModelOptions
    from tests.conftest import make_synthetic

    table, current = make_synthetic(4_000, seed=5), make_synthetic(20_000, seed=6)
    current.loc[current.index[-1], "label"] = 7  # one row of 20,000: the 1,000-row sample does not hold it
    _parts(table, tmp_path / "table", 1_000)
    _parts(current, tmp_path / "current", 5_000)
    cfg = AuditConfig(target="label", sensitive=("sex",), sections=("drift",),
                      models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                      engine=EngineOptions(address="dask", workers=2, sample_rows=1_000, sections_on_cluster=False))
    with pytest.raises(DataError, match=r"the target column 'label' of the current data holds \['7'\]"):
        run_audit(cfg, tmp_path / "table", current=tmp_path / "current")
