"""The engine: every-row statistics are the same in this process and on a real Dask
LocalCluster (2 worker processes), equal to what pandas and scikit-learn compute directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from audit.engine.cluster import check_workers, connect, parse_engine
from audit.engine.frames import inspect_source, read_partitioned
from audit.engine.population import PopulationSpec, poisson_weights, population_dask, population_local
from audit.errors import ConfigError, DataError


def make_scored(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    y = rng.integers(0, 2, n)
    score = np.clip(0.25 * y + 0.1 * (sex == "M") + 0.65 * rng.random(n), 0, 1)
    return pd.DataFrame({"label": y, "score": score, "sex": sex, "race": race})


SPEC = PopulationSpec("label", "score", ("sex", "race"), bootstrap=40, seed=5)


def _numbers(rep) -> dict:
    d = rep.to_dict()
    d.pop("engine")
    return d


def test_counts_rates_and_auc_equal_pandas_and_sklearn():
    df = make_scored(20_000)
    rep = population_local(df, SPEC)
    pred = df.score >= 0.5
    for sex, g in df.groupby("sex"):
        ct = pd.crosstab(g.label, pred[g.index])
        got = rep.groups["sex"][sex]
        assert got.counts == {"tn": ct.loc[0, False], "fp": ct.loc[0, True], "fn": ct.loc[1, False], "tp": ct.loc[1, True]}
        assert got.rates["selection_rate"] == pytest.approx(pred[g.index].mean(), abs=1e-12)
        assert got.rates["tpr"] == pytest.approx(pred[g.index][g.label == 1].mean(), abs=1e-12)
        assert got.auc == pytest.approx(roc_auc_score(g.label, g.score), abs=1e-3)
        lo, hi = got.intervals["selection_rate"]
        assert lo < got.rates["selection_rate"] < hi
    inter = rep.groups["sex x race"]
    assert set(inter) == {f"{s} x {r}" for s in "FM" for r in "abc"}
    assert inter["M x c"].n == int(((df.sex == "M") & (df.race == "c")).sum())
    assert rep.rows == 20_000 and rep.groups["overall"]["all"].n == 20_000
    # The score shift given to M is found: M's selection rate is higher, outside F's interval.
    assert rep.groups["sex"]["M"].rates["selection_rate"] > rep.groups["sex"]["F"].intervals["selection_rate"][1]


def test_partitioning_changes_no_number_and_the_seed_does():
    df = make_scored(9_000, seed=1)
    whole = population_local(df, SPEC)
    assert _numbers(population_local(df, SPEC, partition_rows=1_234)) == _numbers(whole)
    other = population_local(df, PopulationSpec(**{**SPEC.__dict__, "seed": 6}))
    assert other.groups["sex"]["F"].counts == whole.groups["sex"]["F"].counts
    assert other.groups["sex"]["F"].intervals != whole.groups["sex"]["F"].intervals


def test_poisson_weights_have_mean_one_and_depend_only_on_the_row():
    w = poisson_weights(np.arange(200_000), 5, seed=1)
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.var() - 1.0) < 0.02
    assert (poisson_weights(np.arange(1000, 1010), 5, seed=1) == w[1000:1010]).all()


def test_engine_choice_and_bad_addresses():
    assert parse_engine("local").kind == "local" and parse_engine("dask", workers=3).workers == 3
    assert parse_engine(None, environ={"AUDIT_DASK_SCHEDULER": "tcp://10.1.2.3:8786"}).address == "tcp://10.1.2.3:8786"
    assert parse_engine(None, environ={}).kind == "local"
    with pytest.raises(ConfigError, match="engine must be local, dask or a scheduler address"):
        parse_engine("spark://x")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with connect(parse_engine("tcp://127.0.0.1:9"), timeout=2):
            pass


def test_a_directory_whose_files_disagree_names_the_file(tmp_path):
    make_scored(100).to_parquet(tmp_path / "part-0.parquet")
    bad = make_scored(100, seed=2).rename(columns={"race": "ethnicity"})
    bad.to_parquet(tmp_path / "part-1.parquet")
    with pytest.raises(DataError, match=r"part-1.parquet does not match the schema of .*part-0.parquet: it lacks race; adds ethnicity"):
        inspect_source(tmp_path)
    typed = make_scored(100, seed=3).astype({"score": str})
    typed.to_parquet(tmp_path / "part-1.parquet")
    with pytest.raises(DataError, match="changes the type of score"):
        inspect_source(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Parquet or CSV file"):
        inspect_source(tmp_path / "empty")


@pytest.mark.slow
def test_dask_engine_equals_local_on_200k_rows_from_a_partitioned_parquet_directory(tmp_path, client):
    df = make_scored(200_000, seed=4)
    for i, start in enumerate(range(0, len(df), 30_000)):
        df.iloc[start:start + 30_000].to_parquet(tmp_path / f"part-{i:02d}.parquet", index=False)
    ddf = read_partitioned(tmp_path)
    assert ddf.npartitions >= 7
    spec = PopulationSpec("label", "score", ("sex", "race"), bootstrap=30, seed=9)
    on_cluster = population_dask(ddf, spec, client, engine="dask LocalCluster (2 worker processes)")
    in_memory = population_local(df, spec)
    assert _numbers(on_cluster) == _numbers(in_memory)  # counts, rates, AUCs and intervals, exactly
    assert on_cluster.engine.startswith("dask") and on_cluster.rows == 200_000


@pytest.mark.slow
def test_workers_are_checked_for_the_project_packages(client):
    check_workers(client)  # the LocalCluster runs this venv: passes
    with pytest.raises(ConfigError, match=r"Dask worker tcp://127.0.0.1:\d+ lacks the project's packages: numpy"):
        check_workers(client, expected={"numpy": "0.0.1"})
    check_workers(client, expected={"numpy": __import__("numpy").__version__, "a-package-not-here": "missing"})


@pytest.mark.slow
def test_cli_audits_a_partitioned_directory_on_a_local_dask_cluster(tmp_path, capsys):
    from audit.cli import main
    from audit.report import AuditReport
    from tests.conftest import make_synthetic

    data = tmp_path / "table"
    data.mkdir()
    frame = make_synthetic(6_000, seed=8)
    for i in range(3):
        frame.iloc[i * 2_000:(i + 1) * 2_000].to_parquet(data / f"part-{i}.parquet", index=False)
    out = tmp_path / "out"
    code = main(["run", str(data), "--target", "label", "--sensitive", "sex", "--sections", "performance",
                 "--engine", "dask", "--workers", "2", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    rep = AuditReport.from_json((out / "report.json").read_text())
    m = rep.manifest
    assert m.engine == "dask LocalCluster (2 worker processes)"
    assert m.dataset.rows == 6_000 and m.rows_used == 6_000 and not m.sampled  # under sample_rows: every row
    assert any("drawn on dask LocalCluster" in w for w in m.warnings)


def test_cli_bad_engine_is_one_line_exit_2(tmp_path, capsys):
    from audit.cli import main

    csv = tmp_path / "d.csv"
    csv.write_text("x,sex,label\n" + "\n".join(f"{i},{'FM'[i % 2]},{i % 3 == 0:d}" for i in range(60)))
    assert main(["run", str(csv), "--target", "label", "--sensitive", "sex", "--engine", "tcp://127.0.0.1:9",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err[0]
    assert not (tmp_path / "o").exists()  # nothing half-written
    assert main(["run", str(csv), "--target", "label", "--sensitive", "sex", "--engine", "yarn"]) == 2
    assert "engine must be local, dask or a scheduler address" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_audits_a_glob_of_csv_files_on_a_cluster(tmp_path, capsys, client):
    from audit.cli import main
    from audit.report import AuditReport
    from tests.conftest import make_synthetic

    frame = make_synthetic(3_000, seed=9)
    for i in range(3):
        frame.iloc[i * 1_000:(i + 1) * 1_000].to_csv(tmp_path / f"part-{i}.csv", index=False)
    (tmp_path / "notes.txt").write_text("not data")  # outside the glob
    out = tmp_path / "out"
    code = main(["run", str(tmp_path / "part-*.csv"), "--target", "label", "--sensitive", "sex", "--sections",
                 "performance,population", "--engine", client.scheduler.address, "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    rep = AuditReport.from_json((out / "report.json").read_text())
    assert rep.manifest.dataset.rows == 3_000 and rep.population.rows == 3_000
    assert rep.manifest.engine.startswith("dask cluster at tcp://")
