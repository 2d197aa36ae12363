"""The CLI: exit codes, one-line errors, report.json on the sample data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.cli import main

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
SAMPLE = ROOT / "sample_data" / "adult.csv.gz"
SAMPLE_CONFIG = ROOT / "sample_data" / "adult.toml"


def _run(args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "audit", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=900)


BAD_CASES = [
    ("empty.csv", "is empty"),
    ("header_only.csv", "has a header but no data rows"),
    ("binary_garbage.csv", "looks like binary data"),
    ("unparseable.csv", "could not be read as a table"),
    ("one_class.csv", "has a single value"),
    ("mostly_missing_target.csv", "is missing in 75% of rows"),
    ("too_many_classes.csv", "has 24 classes; at most 20 are supported"),
    ("no_usable_feature.csv", "no usable feature is left"),
    ("corrupt.parquet", "invalid Parquet"),
    ("corrupt.xlsx", "not a readable .xlsx workbook"),
    ("corrupt.csv.gz", "corrupt gzip data"),
]


@pytest.mark.parametrize("fname, message", BAD_CASES)
def test_bad_corpus_exit_2_with_one_line(fname, message, capsys, tmp_path):
    code = main(["run", str(BAD / fname), "--target", "label", "--sensitive", "sex", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "report.json").exists()


def test_bad_corpus_through_a_real_process_has_no_traceback(tmp_path):
    res = _run(["run", BAD / "binary_garbage.csv", "--target", "label", "--sensitive", "sex", "--out", tmp_path])
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run"], "the following arguments are required: data"),
        ([], "expected a command"),
        (["run", "x.csv", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", str(BAD / "unknown_column.csv"), "--target", "nope", "--sensitive", "sex"], "target column 'nope' is not in the data"),
        (["run", str(BAD / "unknown_column.csv"), "--target", "label", "--sensitive", "gender"], "sensitive column 'gender' is not in the data"),
        (["run", str(BAD / "unknown_column.csv"), "--target", "label"], "name at least one sensitive column"),
        (["run", str(BAD / "unknown_column.csv"), "--target", "label", "--sensitive", "sex", "--sections", "vibes"], "unknown section 'vibes'"),
        (["run", "missing.csv", "--target", "label", "--sensitive", "sex"], "data file not found: missing.csv"),
        (["run", str(BAD / "unknown_column.csv"), "--config", "nope.toml"], "config file not found"),
        (["run", str(BAD / "unknown_column.csv"), "--target", "label", "--sensitive", "sex", "--seed", "x"], "invalid int value"),
        (["run", str(BAD / "unknown_column.csv"), "--target", "label", "--sensitive", "sex", "--seed", "-5"], "seed must be a whole number from 0"),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_size_limit_and_bad_config_from_toml(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('target = "label"\nsensitive = ["sex"]\n[data]\nmax_file_mb = 0.1\n')
    assert main(["run", str(BAD / "too_big.csv"), "--config", str(cfg), "--out", str(tmp_path)]) == 2
    assert "over the 0.1 MB limit" in capsys.readouterr().err
    cfg.write_text('target = "label"\nsensitive = ["sex"]\n[performance]\nbootstrap = "many"\n')
    assert main(["run", str(BAD / "unknown_column.csv"), "--config", str(cfg), "--out", str(tmp_path)]) == 2
    assert "option 'bootstrap' in [performance] must be a whole number, got 'many'" in capsys.readouterr().err
    cfg.write_text('target = "label"\nsensitive = ["sex"]\nseed = "abc"\n')
    assert main(["run", str(BAD / "unknown_column.csv"), "--config", str(cfg), "--out", str(tmp_path)]) == 2
    assert "seed must be a whole number from 0 to 4294967295; got 'abc'" in capsys.readouterr().err
    cfg.write_text('target = "label"\nsensitive = 5\n')
    assert main(["run", str(BAD / "unknown_column.csv"), "--config", str(cfg), "--out", str(tmp_path)]) == 2
    assert "sensitive must be a list of names, got 5" in capsys.readouterr().err
    cfg.write_text("target = [")
    assert main(["run", str(BAD / "unknown_column.csv"), "--config", str(cfg)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


def test_out_that_is_a_file_exits_2_before_the_audit(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    assert main(["run", str(BAD / "small_group.csv"), "--target", "label", "--sensitive", "sex", "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a directory" in err and err.count("\n") == 1
    assert taken.read_text() == "keep me"


def test_a_sensitive_column_named_twice_is_audited_once():
    from audit.config import config_from_mapping

    config = config_from_mapping({"target": "label", "sensitive": "sex, sex,race", "sections": "performance, fairness"})
    assert config.sensitive == ("sex", "race") and config.sections == ("performance", "fairness")


def test_gate_exit_code_1(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('target = "label"\nsensitive = ["sex"]\nsections = ["performance"]\n[models]\nmodels = ["dummy"]\ncv_folds = 0\n[performance]\nbootstrap = 20\n')
    args = ["run", str(BAD / "small_group.csv"), "--config", str(cfg), "--out", str(tmp_path)]
    assert main(args) == 0
    assert main([*args, "--fail-on", "fail"]) == 1
    err = capsys.readouterr().err
    assert "gate failed (fail): performance" in err
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["scorecard"]["performance"]["status"] == "fail"


@pytest.mark.slow
def test_sample_data_full_audit(tmp_path):
    res = _run(["run", SAMPLE, "--config", SAMPLE_CONFIG, "--out", tmp_path, "--quiet"])
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "report.json").read_text())
    m = rep["manifest"]
    assert m["dataset"]["sha256"] == "7cbc928f063e7dcf58990246873ed4e652a4fe233e7e0ab1378b3361d1314560"
    assert m["dataset"]["rows"] == 48842 and m["target"] == "income" and m["sensitive"] == ["sex", "race"]
    assert m["excluded"] == {"fnlwgt": "excluded by the user", "split": "excluded by the user"}
    assert rep["models"]["selected"] == "hist_gb"
    assert 0.90 < rep["performance"]["metrics"]["roc_auc"]["value"] < 0.95
    assert set(rep["scorecard"]) >= {"data", "performance"}
    assert "wrote" in res.stdout
