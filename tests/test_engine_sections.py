"""Sampled sections as tasks on a real Dask LocalCluster (issue 16): the same reports as in
the audit process, each section's timing naming the worker it ran on, the section's own
progress crossing from the worker, and a worker killed mid-section rerun elsewhere."""

from __future__ import annotations

import os

import pytest

from audit.config import AuditConfig, EngineOptions, ModelOptions
from audit.engine.cluster import connect, parse_engine
from audit.pipeline import run_audit
from tests.test_population import _write_parts, make_table
from tests.test_population_faults import _in_thread, _kill_a_busy_worker

pytestmark = pytest.mark.slow

OPTIONS = {"performance": {"bootstrap": 30, "learning_curve_sizes": [1.0]}, "fairness": {"bootstrap": 30},
           "robustness": {"attack_rows": 10, "max_rows": 200}, "population": {"bootstrap": 10}}
SECTIONS = ("performance", "fairness", "robustness", "population")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("sections") / "table"
    _write_parts(make_table(6_000, seed=11), path, 2_000)
    return path


def _config(address: str, on_cluster: bool) -> AuditConfig:
    return AuditConfig(target="label", sensitive=("sex",), sections=SECTIONS, models=ModelOptions(cv_folds=0, models=("logistic",)),
                       section_options=OPTIONS,
                       engine=EngineOptions(address=address, workers=2, sample_rows=6_000, sections_on_cluster=on_cluster))


def _no_seconds(x):
    """The report without its timings (every field named ``seconds``), which differ run to run."""
    if isinstance(x, dict):
        return {k: _no_seconds(v) for k, v in x.items() if k != "seconds"}
    return [_no_seconds(v) for v in x] if isinstance(x, list) else x


def _sections(rep) -> dict:
    return {name: _no_seconds(rep.sections[name].to_dict()) for name in SECTIONS if name != "population"}


def test_sections_on_the_workers_give_the_reports_of_the_audit_process(folder):
    said: list[tuple[str, float, str]] = []
    remote = run_audit(_config("dask", True), folder, progress=lambda s, f, m: said.append((s, f, m)))
    local = run_audit(_config("dask", False), folder)
    assert _sections(remote) == _sections(local)
    timing = {t.name: t for t in remote.manifest.timings}
    for name in ("performance", "fairness", "robustness"):
        assert timing[name].status == "done" and timing[name].message.startswith("on the cluster's worker tcp://"), timing[name]
    assert timing["population"].message == ""  # it drives the cluster from the audit process
    assert all(t.message == "" for t in local.manifest.timings if t.name in ("performance", "fairness"))
    # The sections' own messages, sent as events from the worker, reach the caller's progress.
    inner = [m for s, f, m in said if s == "fairness" and 0 < f < 1]
    assert inner, said


def test_a_worker_killed_mid_section_is_rerun_on_another_and_changes_no_number(folder):
    with connect(parse_engine("dask", workers=2)) as client:
        pids = client.run(os.getpid)
        cfg = _config(client.scheduler.address, True)
        t, box = _in_thread(lambda: run_audit(cfg, folder))
        killed = _kill_a_busy_worker(client, pids, "audit-section-fairness")
        t.join(timeout=600)
        assert "error" not in box, box.get("error")
        assert killed not in client.run(os.getpid).values()
    again = run_audit(_config("dask", True), folder)
    assert _sections(box["value"]) == _sections(again)
