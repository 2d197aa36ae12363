"""CLI progress on stderr: every message on a terminal, a line per finished section in a log, none with --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_synthetic

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "loans.csv"
    make_synthetic(n=600).to_csv(path, index=False)
    return path


def _argv(data, out, *extra):
    return [sys.executable, "-m", "audit", "run", str(data), "--target", "label", "--sensitive", "sex",
            "--sections", "performance,fairness", "--out", str(out), *extra]


@pytest.mark.slow
def test_a_log_gets_one_line_per_finished_section(data, tmp_path):
    res = subprocess.run(_argv(data, tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.strip().splitlines()
    names = [line.split("]")[0].strip("[ ") for line in lines]
    assert names[:2] == ["data", "models"] and sorted(names[2:]) == ["fairness", "performance"]  # sections overlap
    assert all("] done: " in line for line in lines)
    assert "600 rows" in lines[0]


@pytest.mark.slow
def test_quiet_prints_no_progress(data, tmp_path):
    res = subprocess.run(_argv(data, tmp_path, "--quiet"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.startswith("wrote ")


@pytest.mark.slow
def test_a_terminal_sees_every_progress_message(data, tmp_path):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(_argv(data, tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=600) == 0
    text = b"".join(chunks).decode()
    assert "[        data]   0% reading and validating the data" in text
    assert "[ performance] 100% done in" in text and "[    fairness]   0% started" in text
