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


def test_the_fused_trainer_agrees_with_the_opacus_trainer_on_every_privacy_headline(synthetic_trained):
    """Item 3 on small seeded data, where both code paths remain: the privacy section with the old
    trainer (Opacus, one run at a time) and the fast one (fused numpy sweep). Non-private runs are
    the same runs, spent epsilons equal, and each DP network's membership AUC lies inside the old
    report's interval (bench/privacy_seed_spread.py measures the same on Adult over 16 seeds)."""
    from audit.sections.privacy import PrivacyOptions, audit_privacy

    fast = dict(networks=("logistic", "mlp"), target_epsilons=(1.0, 8.0), epochs=5, batch_size=60, bootstrap=100)
    old, new = ({"privacy": audit_privacy(synthetic_trained, options=PrivacyOptions(**fast, trainer=t), seed=0).to_dict()}
                for t in ("opacus", "fused"))
    lines = _tool().check(old, new)
    assert len([x for x in lines if x.startswith("equal   spent epsilon")]) == 4
    assert len([x for x in lines if x.startswith("equal   membership AUC") and "non-private" in x]) == 4
    assert len([x for x in lines if "membership AUC" in x and "epsilon" in x]) == 8  # 2 networks x 2 epsilons x 2 attacks
    assert not [x for x in lines if x.startswith(("OUTSIDE", "DIFFERENT"))], lines
