"""bench/headline_check.py: a report's headline metrics against an older report's intervals (issue 15, item 3)."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

from audit.report import AuditReport

ROOT = Path(__file__).resolve().parents[1]
REPORT_V1 = ROOT / "tests" / "data" / "report_v1.json"


def _tool():
    spec = importlib.util.spec_from_file_location("headline_check", ROOT / "bench" / "headline_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _report() -> dict:
    return AuditReport.from_dict(json.loads(REPORT_V1.read_text(encoding="utf-8"))).to_dict()


def test_a_report_agrees_with_itself_on_every_headline_metric():
    lines = _tool().check(_report(), _report())
    kinds = {line.split(":")[0].split()[1] for line in lines}
    assert {"performance", "fairness", "membership", "attack", "spent", "SHAP"} <= kinds
    assert lines and not [x for x in lines if x.startswith(("OUTSIDE", "DIFFERENT"))]


def test_a_metric_outside_the_old_interval_and_a_changed_epsilon_are_flagged():
    old = _report()
    new = copy.deepcopy(old)
    acc = new["performance"]["metrics"]["accuracy"]
    acc["value"] = old["performance"]["metrics"]["accuracy"]["high"] + 0.01
    dp = next(m for m in new["privacy"]["models"] if m.get("epsilon_spent") is not None)
    dp["epsilon_spent"] *= 1.001
    new["explanations"]["importance"][0]["feature"] = "another feature"
    bad = [x for x in _tool().check(old, new) if x.startswith(("OUTSIDE", "DIFFERENT"))]
    assert len(bad) == 3
    assert bad[0].startswith("OUTSIDE performance accuracy")
    assert any(f"spent epsilon {dp['name']}" in x for x in bad) and any("SHAP top 5" in x for x in bad)
