"""Bad input to the Dask engine through the CLI, on real clusters: a directory whose files have
different schemas, and a worker process that lacks this project. Each is one line on stderr,
exit code 2, and no output written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from audit.cli import main
from tests.conftest import make_synthetic

pytestmark = pytest.mark.slow


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_directory_of_different_schemas_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, client):
    data = tmp_path / "table"
    data.mkdir()
    make_synthetic(500, seed=1).to_parquet(data / "part-0.parquet", index=False)
    make_synthetic(500, seed=2).rename(columns={"colour": "color"}).to_parquet(data / "part-1.parquet", index=False)
    out = tmp_path / "out"
    code = main(["run", str(data), "--target", "label", "--sensitive", "sex", "--sections", "performance",
                 "--engine", client.scheduler.address, "--out", str(out), "--quiet"])
    assert code == 2
    line = _one_line(capsys)
    assert "part-1.parquet does not match the schema of" in line and "lacks colour; adds color" in line
    assert not out.exists()


def test_a_worker_without_the_project_is_one_line_exit_2(tmp_path, capsys):
    from distributed import Client, LocalCluster

    csv = tmp_path / "d.csv"
    make_synthetic(300, seed=3).to_csv(csv, index=False)
    # A real worker process started from another folder without this project on its path, as a
    # machine of a cluster would be that had the right packages but not this repository.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--nthreads", "1", "--no-dashboard"], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with Client(cluster) as client:
                client.wait_for_workers(1, timeout=60)
                assert client.run(lambda: __import__("importlib").util.find_spec("audit")) == {
                    w: None for w in client.scheduler_info()["workers"]}  # the worker really lacks it
            out = tmp_path / "out"
            code = main(["run", str(csv), "--target", "label", "--sensitive", "sex", "--sections", "performance",
                         "--engine", cluster.scheduler_address, "--out", str(out), "--quiet"])
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert code == 2
    line = _one_line(capsys)
    assert "lacks the project's packages: audit missing (here " in line
    assert not out.exists()


def test_a_csv_file_whose_values_break_a_columns_type_is_named(tmp_path, capsys, client):
    data = tmp_path / "table"
    data.mkdir()
    frame = make_synthetic(3_000, seed=4)
    for i in range(3):
        part = frame.iloc[i * 1_000:(i + 1) * 1_000].copy()
        if i == 2:  # a header like the others, and a number column with text in it
            part["x1"] = part["x1"].astype(object)
            part.iloc[5, part.columns.get_loc("x1")] = "n/a?"
        part.to_csv(data / f"part-{i}.csv", index=False)
    out = tmp_path / "out"
    code = main(["run", str(data), "--target", "label", "--sensitive", "sex", "--sections", "performance",
                 "--engine", client.scheduler.address, "--out", str(out), "--quiet"])
    assert code == 2
    line = _one_line(capsys)
    assert "part-2.csv holds values of another type in x1 (expected float64" in line
    assert not out.exists()


def test_a_type_break_in_a_column_whose_name_has_spaces_is_named(tmp_path, client):
    from audit.engine.frames import csv_types, read_partitioned
    from audit.errors import DataError

    for i, value in enumerate(["1.5", "2.5", "oops"]):  # ", "-separated files: the names keep their spaces
        (tmp_path / f"part-{i}.csv").write_text("id, score\n" + "".join(f"{k}, {value if k == 3 else k}\n" for k in range(50)))
    ddf = read_partitioned(tmp_path)
    assert " score" in ddf.columns
    with pytest.raises(DataError, match=r"part-2.csv holds values of another type in  score \(expected float64"):
        with csv_types(tmp_path):
            client.compute(ddf[" score"].sum()).result()
