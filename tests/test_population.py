"""The every-row section: counts, representation, base rates and the audited model's confusion
counts and rates over every row, equal to pandas on the same rows, and equal between the local
engine and a real Dask LocalCluster (2 worker processes) on a partitioned Parquet directory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.config import AuditConfig, EngineOptions, ModelOptions
from audit.data import prepare_dataset
from audit.engine.sample import ClusterRows
from audit.models import train_models
from audit.pipeline import run_audit
from audit.report import AuditReport
from audit.sections.population import PopulationOptions, PopulationReport, audit_population
from tests.conftest import make_synthetic

MODELS = ModelOptions(cv_folds=0, models=("logistic",))


def make_table(n: int, seed: int = 0) -> pd.DataFrame:
    """make_synthetic plus a numeric sensitive column (binned into quartiles) and rows without a target."""
    frame = make_synthetic(n, seed=seed)
    rng = np.random.default_rng(seed + 100)
    frame["age"] = rng.integers(18, 80, n).astype(float)
    frame.loc[rng.random(n) < 0.01, "age"] = np.nan
    frame["label"] = frame["label"].astype(float)
    frame.loc[rng.random(n) < 0.005, "label"] = np.nan
    return frame


def _trained(frame: pd.DataFrame):
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex", "age"])
    return train_models(ds, options=MODELS, seed=0)


def _counts(y: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    return {"tn": int(((y == 0) & (pred == 0)).sum()), "fp": int(((y == 0) & (pred == 1)).sum()),
            "fn": int(((y == 1) & (pred == 0)).sum()), "tp": int(((y == 1) & (pred == 1)).sum())}


def test_local_every_row_statistics_equal_pandas_on_the_same_rows():
    frame = make_table(6_000, seed=1)
    trained = _trained(frame)
    ds = trained.dataset
    rep = audit_population(trained, options=PopulationOptions(bootstrap=30), seed=0)
    labelled = int(frame["label"].notna().sum())
    assert rep.rows == labelled == ds.n_rows and rep.rows_in_table == 6_000 and rep.every_row
    assert f"every row of the table with a target: {labelled:,} of its 6,000 rows" in rep.statement
    assert f"fitted on {trained.report.n_train:,} of these rows" in rep.statement
    pred, y = trained.predict(ds.X), ds.y
    assert rep.stats.groups["overall"]["all"].counts == _counts(y, pred)
    groups = ds.groups.assign(**{"sex x age": ds.groups["sex"] + " x " + ds.groups["age"]})
    assert set(groups["age"]) == {*rep.stats.groups["age"]} and "missing" in rep.stats.groups["age"]
    for key in ("sex", "age", "sex x age"):
        got = rep.stats.groups[key]
        assert set(got) == set(groups[key])
        for label, g in got.items():
            m = (groups[key] == label).to_numpy()
            assert g.n == int(m.sum()) and g.share == pytest.approx(m.mean(), abs=1e-15)
            assert g.counts == _counts(y[m], pred[m])
            assert g.rates["base_rate"] == pytest.approx(y[m].mean(), abs=1e-15)
            assert g.rates["selection_rate"] == pytest.approx(pred[m].mean(), abs=1e-15)
            assert g.rates["accuracy"] == pytest.approx((pred[m] == y[m]).mean(), abs=1e-15)
            if (y[m] == 1).any():
                assert g.rates["tpr"] == pytest.approx(pred[m][y[m] == 1].mean(), abs=1e-15)
    sel = [r.rates["selection_rate"] for r in rep.stats.groups["sex"].values()]
    assert rep.gaps["sex"]["selection_rate"] == pytest.approx(max(sel) - min(sel))
    # sex shifts the label and the model with it: M is selected more, beyond the 0.1 threshold.
    assert rep.verdict.status in ("warn", "fail") and any("sex: every-row selection rates" in r for r in rep.verdict.reasons)
    assert PopulationReport.from_dict(rep.to_dict()) == rep


def test_the_section_runs_in_the_pipeline_round_trips_and_says_why_it_did_not_run():
    frame = make_table(1_500, seed=2)
    cfg = AuditConfig(target="label", sensitive=("sex",), sections=("population",), models=MODELS,
                      section_options={"population": {"bootstrap": 10}})
    rep = run_audit(cfg, frame)
    assert rep.population.rows == int(frame["label"].notna().sum()) and rep.scorecard["population"] == rep.population.verdict
    back = AuditReport.from_json(rep.to_json())
    assert back.population == rep.population and back.to_json() == rep.to_json()
    reg = frame.assign(label=np.random.default_rng(0).normal(size=len(frame)))
    out = run_audit(AuditConfig(target="label", sensitive=("sex",), sections=("population",), models=MODELS), reg)
    timing = next(t for t in out.manifest.timings if t.name == "population")
    assert out.population is None and "population" not in out.scorecard
    assert timing.status == "not run" and timing.message == "every-row statistics are computed for binary and multiclass targets; this target is regression"


def _write_parts(frame: pd.DataFrame, folder, rows_per_file: int) -> int:
    folder.mkdir()
    starts = range(0, len(frame), rows_per_file)
    for i, start in enumerate(starts):
        frame.iloc[start:start + rows_per_file].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return len(starts)


def _numbers(rep: PopulationReport) -> dict:
    d = rep.to_dict()
    for k in ("engine", "statement"):
        d.pop(k)
    d["stats"].pop("engine")
    return d


def test_the_local_block_size_changes_memory_not_numbers():
    # The default block (200,000 rows) bounds the memory of scoring a 1M-row table; the counts
    # and every interval must not depend on it.
    trained = _trained(make_table(4_500, seed=2))
    one_block = audit_population(trained, options=PopulationOptions(bootstrap=25), seed=4)
    assert PopulationOptions().block_rows == 200_000
    small = audit_population(trained, options=PopulationOptions(bootstrap=25, block_rows=1_000), seed=4)
    assert _numbers(small) == _numbers(one_block)
    assert one_block.stats.groups["overall"]["all"].n == trained.dataset.n_rows


@pytest.fixture(scope="module")
def table_200k():
    return make_table(200_000, seed=4)


@pytest.mark.slow
def test_dask_equals_local_on_200k_rows_of_a_partitioned_parquet_directory(tmp_path, client, table_200k):
    trained = _trained(table_200k)
    files = _write_parts(table_200k, tmp_path / "table", 30_000)
    rows = ClusterRows(str(tmp_path / "table"), client, "dask LocalCluster (2 worker processes)", 200_000, files)
    opts = PopulationOptions(bootstrap=40)
    on_cluster = audit_population(trained, options=opts, seed=3, rows=rows)
    in_memory = audit_population(trained, options=opts, seed=3)
    assert files == 7 and on_cluster.rows == in_memory.rows == int(table_200k["label"].notna().sum())
    # Counts, rates, intervals, AUCs, gaps and the verdict, exactly.
    assert _numbers(on_cluster) == _numbers(in_memory)
    assert on_cluster.engine.startswith("dask LocalCluster") and in_memory.engine == "local (one process)"
    assert "Computed on every row of the table with a target" in on_cluster.statement


@pytest.mark.slow
def test_the_sample_pass_counts_every_partitions_labelled_rows(tmp_path, client):
    from audit.engine.sample import sample_on_cluster
    from audit.errors import DataError

    frame = make_table(60_000, seed=8)
    files = _write_parts(frame, tmp_path / "table", 25_000)
    got = sample_on_cluster(tmp_path / "table", client, target="label", rows=5_000, seed=2)
    truth = tuple(int(frame["label"].iloc[s:s + 25_000].notna().sum()) for s in range(0, 60_000, 25_000))
    assert files == 3 and got.partition_labelled == truth and sum(truth) < 60_000  # some rows have no target
    trained, opts = _trained(frame), PopulationOptions(bootstrap=20)
    rows = ClusterRows(str(tmp_path / "table"), client, "dask", 60_000, files, got.partition_labelled)
    assert _numbers(audit_population(trained, options=opts, seed=1, rows=rows)) == _numbers(
        audit_population(trained, options=opts, seed=1))
    # Counts that no longer match the files (they changed after the sample was drawn): a clear error.
    stale = ClusterRows(str(tmp_path / "table"), client, "dask", 60_000, files, (truth[0] + 1, *truth[1:]))
    with pytest.raises(DataError, match="partition 0 of the table has .* labelled rows, .* the files changed"):
        audit_population(trained, options=opts, seed=1, rows=stale)


@pytest.mark.slow
def test_run_audit_on_dask_equals_the_local_engine(tmp_path, client, table_200k):
    _write_parts(table_200k, tmp_path / "table", 40_000)
    cfg = dict(target="label", sensitive=("sex", "age"), sections=("performance", "fairness", "drift", "population"), models=MODELS,
               section_options={"population": {"bootstrap": 20}, "performance": {"bootstrap": 20},
                                "fairness": {"bootstrap": 20, "mitigations": (), "unawareness": False},
                                "drift": {"domain_classifier": False}})
    local = run_audit(AuditConfig(**cfg), table_200k.copy())
    dask_cfg = AuditConfig(**cfg, engine=EngineOptions(address="dask", workers=2, sample_rows=200_000))
    on_dask = run_audit(dask_cfg, tmp_path / "table")
    # sample_rows covers the table, so the model is fitted on the same rows: every number agrees.
    assert _numbers(on_dask.population) == _numbers(local.population)
    assert on_dask.population.engine == on_dask.manifest.engine == "dask LocalCluster (2 worker processes)"
    assert on_dask.scorecard["population"] == local.scorecard["population"]
    # The same verdicts from every section (the sampled ones ran as tasks on the workers).
    assert set(on_dask.scorecard) == {"data", "performance", "fairness", "drift", "population"}
    assert {k: v.to_dict() for k, v in on_dask.scorecard.items()} == {k: v.to_dict() for k, v in local.scorecard.items()}
    assert on_dask.manifest.dataset.rows == 200_000 and not on_dask.manifest.sampled  # every labelled row


def _onnx_audit(frame: pd.DataFrame):
    from audit.config import UserModelOptions
    from audit.models.attach import attach_user_model, load_user_model
    from audit.models.loading import read_model_file
    from tests.test_user_model import rule_onnx

    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"])
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    opts = UserModelOptions(path="rule.onnx")
    user = load_user_model(opts, ds, model_file=read_model_file(rule_onnx(0.3), name="rule.onnx"))
    return attach_user_model(trained, user, opts)


def test_a_users_onnx_model_is_scored_on_every_row_locally():
    frame = make_synthetic(1_000, seed=48)
    t = _onnx_audit(frame)
    rep = audit_population(t, options=PopulationOptions(bootstrap=10), seed=0)
    # The rule the ONNX graph computes: sigmoid(2 x1) - 0.3 for F, at the 0.5 threshold (float32 arithmetic).
    x1 = frame["x1"].to_numpy(dtype=np.float32)
    p = np.clip(1 / (1 + np.exp(-2.0 * x1)) - 0.3 * (frame["sex"].to_numpy() == "F"), 0, 1)
    pred, y = (p >= 0.5).astype(int), frame["label"].to_numpy()
    for sex in ("F", "M"):
        m = frame["sex"].to_numpy() == sex
        assert rep.stats.groups["sex"][sex].counts == _counts(y[m], pred[m])
    assert rep.model == "user" and rep.model_fitted_on == 0 and "not known to the audit" in rep.statement


@pytest.mark.slow
def test_a_users_onnx_model_scores_partitions_on_the_cluster_like_in_this_process(tmp_path, client):
    import pickle

    frame = make_synthetic(3_000, seed=49)
    t = _onnx_audit(frame)
    again = pickle.loads(pickle.dumps(t.user))  # what a worker receives: a session opened from the file's bytes
    assert again.session is not t.user.session and again.file.sha256 == t.user.file.sha256
    np.testing.assert_array_equal(again.score(frame.iloc[:200]), t.user.score(frame.iloc[:200]))
    files = _write_parts(frame, tmp_path / "table", 700)
    rows = ClusterRows(str(tmp_path / "table"), client, "dask LocalCluster (2 worker processes)", 3_000, files)
    opts = PopulationOptions(bootstrap=20)
    on_cluster = audit_population(t, options=opts, seed=1, rows=rows)
    assert _numbers(on_cluster) == _numbers(audit_population(t, options=opts, seed=1))
    assert on_cluster.stats.groups["sex"]["F"].n + on_cluster.stats.groups["sex"]["M"].n == 3_000


def test_the_model_card_has_an_every_row_appendix():
    from audit.cards.modelcard import build_model_card, render_markdown

    cfg = AuditConfig(target="label", sensitive=("sex",), sections=("performance", "population"), models=MODELS,
                      section_options={"population": {"bootstrap": 10}, "performance": {"bootstrap": 20}})
    rep = run_audit(cfg, make_table(1_200, seed=5))
    md = render_markdown(build_model_card(rep))
    assert "Every row by sex" in md and "Computed on every row of the table with a target" in md
    f = rep.population.stats.groups["sex"]["F"]
    assert f"| F | {f.n:,} |" in md


def _reference_poisson_weights(rows: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """The definition, drawn the slow way: u = SplitMix64(counter ^ key) / 2**53, count = #{Poisson(1) cdf <= u}."""
    from math import exp, factorial

    mask = (1 << 64) - 1

    def mix(x: int) -> int:
        z = (x + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    cdf = np.cumsum([exp(-1.0) / factorial(k) for k in range(21)])
    key = mix((seed * 0x632BE59BD9B4E019 + 1) & mask)
    out = np.empty((len(rows), n_boot), dtype=np.uint8)
    for i, r in enumerate(rows):
        for b in range(n_boot):
            u = (mix((int(r) * n_boot + b) ^ key) >> 11) / float(1 << 53)
            out[i, b] = np.searchsorted(cdf, u, side="right")
    return out


def test_poisson_weights_equal_their_definition_drawn_one_by_one():
    from audit.engine.poisson import poisson_weights

    rows = np.r_[np.arange(0, 700), np.arange(10**12, 10**12 + 300)]  # crosses several 512-row chunks
    for seed, n_boot in ((0, 7), (12345, 3)):
        np.testing.assert_array_equal(poisson_weights(rows, n_boot, seed), _reference_poisson_weights(rows, n_boot, seed))
    w = poisson_weights(np.arange(200_000), 5, 1)
    assert abs(w.mean() - 1.0) < 0.005 and abs(w.var() - 1.0) < 0.01  # Poisson(1): mean and variance 1


def test_poisson_count_is_exact_on_both_sides_of_every_cut():
    from math import exp, factorial

    from audit.engine.poisson import poisson_count

    cdf = np.cumsum([exp(-1.0) / factorial(k) for k in range(21)])
    cuts = [int(np.ceil(c * 2.0**53)) for c in cdf if c < 1.0]
    z = np.array(sorted({max(0, min(2**53 - 1, c + d)) for c in cuts for d in (-2, -1, 0, 1)} | {0, 2**53 - 1}), dtype=np.uint64)
    want = np.searchsorted(cdf, z.astype(np.float64) / 2.0**53, side="right")  # z < 2**53: exact as a float
    np.testing.assert_array_equal(poisson_count(z), want)
    assert set(np.diff(want)) <= {0, 1} and want.max() >= 10  # the deep tail's cuts are in the probe
