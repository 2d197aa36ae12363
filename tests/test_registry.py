"""The section registry is the one list of sections: a toy section registered in a
temporary registry flows through config, pipeline, JSON, scorecard and model card
without any other file changing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audit.cards.modelcard import build_model_card, render_markdown
from audit.config import AuditConfig, ModelOptions, config_from_mapping
from audit.data import prepare_dataset
from audit.errors import ConfigError
from audit.models import train_models
from audit.pipeline import run_audit
from audit.report import AuditReport
from audit.sections import registry
from audit.sections.registry import SectionSpec
from tests.conftest import make_synthetic

TOY = SectionSpec("toy", "Toy check", "tests.plugins.toy_section", "audit_toy", "ToyOptions", "ToyReport",
                  after=("performance",), priority=0,
                  inputs=lambda ctx: {"performance": ctx.results.get("performance")})


@pytest.fixture()
def toy_registry():
    with registry.use(registry.BUILTIN.with_section(TOY)) as reg:
        yield reg


def test_an_unregistered_section_is_refused():
    with pytest.raises(ConfigError, match="unknown section 'toy'"):
        AuditConfig(target="label", sensitive=("sex",), sections=("toy",))
    with pytest.raises(ConfigError, match=r"unknown table \[toy\]"):
        config_from_mapping({"target": "label", "sensitive": ["sex"], "toy": {"min_rate": 0.2}})


def test_config_reads_the_registry(toy_registry):
    cfg = config_from_mapping({"target": "label", "sensitive": ["sex"], "toy": {"min_rate": 0.9}})
    assert cfg.sections[-1] == "toy"  # the default is every registered section
    with pytest.raises(ConfigError, match="min_rate"):
        config_from_mapping({"target": "label", "sensitive": ["sex"], "toy": {"min_rate": 2.0},
                             "sections": ["toy"]}).options_for("toy", TOY.options_type())


def test_a_toy_section_flows_through_pipeline_json_scorecard_and_card(toy_registry):
    frame = make_synthetic(400, seed=3)
    cfg = AuditConfig(target="label", sensitive=("sex",), sections=("performance", "toy"),
                      models=ModelOptions(cv_folds=0),
                      section_options={"performance": {"bootstrap": 50}, "toy": {"min_rate": 0.99}})
    rep = run_audit(cfg, frame, workers=2)

    toy = rep.toy
    assert type(toy).__name__ == "ToyReport" and toy.performance_seen  # ran after performance, read its result
    # Ground truth: the same seeded split, made directly.
    trained = train_models(prepare_dataset(frame.copy(), target="label", sensitive=["sex"]), options=cfg.models, seed=cfg.seed)
    expected_n = len(trained.y_test)
    assert toy.n == expected_n == rep.models.n_test
    assert toy.positive_rate == pytest.approx(float(np.mean(trained.y_test)))
    assert rep.scorecard["toy"].status == "warn"  # positive rate < 0.99
    assert [t.name for t in rep.manifest.timings if t.status == "done"][-1] in ("performance", "toy")

    d = json.loads(rep.to_json())
    assert list(d)[-2:] == ["toy", "scorecard"] and d["toy"]["n"] == expected_n
    back = AuditReport.from_json(rep.to_json())
    assert back.toy == rep.toy and back.to_json() == rep.to_json()

    card = build_model_card(rep)
    titles = [s.title for s in card.sections]
    assert "Toy check" in titles and titles.index("Toy check") < titles.index("Audit scorecard")
    md = render_markdown(card)
    assert "Toy check" in md and "positive rate" in md


def test_sections_start_longest_first_at_the_tables_size():
    """Each built-in section's measured cost is interpolated in log rows; the local scheduler
    starts the costliest first (robustness on 1,000 rows, fairness on Adult's 48,842)."""
    import queue

    from audit.engine.local import _schedule

    reg = registry.BUILTIN
    fair, priv = reg["fairness"], reg["privacy"]
    assert fair.estimate(1_000) == 1.4 and fair.estimate(48_842) == 6.5 and fair.estimate(10**8) == fair.estimate(10**6)
    assert fair.estimate(10) == 1.4 and 1.4 < fair.estimate(7_000) < 6.5
    assert registry.SectionSpec("x", "X", "m", "f", "O", "R").estimate(10**6) == 0.0  # a plug-in without a cost
    for rows, first in ((1_000, "robustness"), (48_842, "fairness")):
        started: list[str] = []

        def run_one(name):
            started.append(name)
            return None, 0.0, ""

        _schedule(reg, list(reg.names), {}, run_one, lambda *a: None, queue.Queue(), 1, set(), n_rows=rows)
        assert started[0] == first and started == sorted(reg.names, key=lambda n: -reg[n].estimate(rows)), rows
    assert priv.estimate(1_000) < fair.estimate(1_000) and priv.estimate(48_842) < fair.estimate(48_842)
