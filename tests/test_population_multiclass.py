"""The every-row section on a multiclass model: each group's k x k confusion matrix, every
class one-vs-rest (counts, rates, binned AUC, Poisson-bootstrap intervals) equal to numpy on the
same rows, the verdict on the worst class, and the same numbers on a real Dask LocalCluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from audit.config import AuditConfig, ModelOptions
from audit.data import prepare_dataset
from audit.engine import population as P
from audit.engine.sample import ClusterRows
from audit.models import train_models
from audit.pipeline import run_audit
from audit.report import AuditReport
from audit.sections.population import PopulationOptions, PopulationReport, audit_population
from tests.conftest import MULTICLASS_LABELS, make_multiclass

MODELS = ModelOptions(cv_folds=0, models=("logistic",))


def _table(n: int, seed: int) -> pd.DataFrame:
    frame = make_multiclass(n, seed=seed)
    frame["age"] = np.random.default_rng(seed + 7).integers(18, 80, n).astype(float)  # binned into quartiles
    return frame


def _trained(frame: pd.DataFrame):
    ds = prepare_dataset(frame.copy(), target="decision", sensitive=["group", "age"])
    return train_models(ds, options=MODELS, seed=0)


def test_every_class_one_vs_rest_equals_numpy_on_the_same_rows():
    frame = _table(4_000, seed=3)
    trained = _trained(frame)
    ds = trained.dataset
    B, seed = 25, 5
    rep = audit_population(trained, options=PopulationOptions(bootstrap=B), seed=seed)
    y, pred, proba = ds.y, trained.predict(ds.X), trained.proba(ds.X)
    stats = rep.stats
    assert stats.classes == ds.classes == tuple(sorted(MULTICLASS_LABELS)) and stats.threshold is None
    groups = ds.groups.assign(**{"group x age": ds.groups["group"] + " x " + ds.groups["age"]})
    w = P.poisson_weights(np.arange(len(y)), B, seed).astype(float)  # rows are numbered in frame order
    for key in ("group", "age", "group x age"):
        for label in set(groups[key]):
            m = (groups[key] == label).to_numpy()
            want = np.zeros((3, 3), dtype=int)
            np.add.at(want, (y[m], pred[m]), 1)
            assert stats.confusion[key][label] == tuple(map(tuple, want))
            for c, name in enumerate(stats.classes):
                g = stats.per_class[name][key][label]
                t, p = y[m] == c, pred[m] == c
                assert g.counts == {"tn": int((~t & ~p).sum()), "fp": int((~t & p).sum()),
                                    "fn": int((t & ~p).sum()), "tp": int((t & p).sum())}
                assert g.rates["selection_rate"] == pytest.approx(p.mean(), abs=1e-15)
                assert g.rates["base_rate"] == pytest.approx(t.mean(), abs=1e-15)
                assert g.rates["accuracy"] == pytest.approx((y[m] == pred[m]).mean(), abs=1e-15)  # multiclass accuracy
                if t.any() and (~t).any():
                    assert g.auc == pytest.approx(roc_auc_score(t, proba[m, c]), abs=1e-3)
                # The interval: the percentiles of the weighted selection rate, replicate by replicate.
                wm = w[m]
                boot = (wm * p[:, None]).sum(axis=0) / wm.sum(axis=0)
                assert g.intervals["selection_rate"] == pytest.approx(
                    (np.percentile(boot, 2.5), np.percentile(boot, 97.5)), abs=1e-12)
    # The worst class fills the top-level rates, and its gaps are the report's.
    assert rep.stats.groups == stats.per_class[rep.worst_class] and rep.gaps == rep.per_class_gaps[rep.worst_class]
    assert PopulationReport.from_dict(rep.to_dict()) == rep


def test_the_verdict_rests_on_the_worst_class():
    rep = audit_population(_trained(_table(6_000, seed=4)), options=PopulationOptions(bootstrap=40), seed=0)
    # By construction group B gets "approve" 0.15 less often and "refer" 0.15 more often; "decline"
    # is the same for both groups.
    approve, refer = (rep.per_class_gaps[c]["group"]["selection_rate"] for c in ("approve", "refer"))
    assert 0.1 < approve < 0.2 and 0.1 < refer < 0.2 and rep.per_class_gaps["decline"]["group"]["selection_rate"] < 0.05
    assert rep.verdict.status == "fail" and rep.worst_class in ("approve", "refer")
    widest = {c: max(g["selection_rate"] for g in rep.per_class_gaps[c].values()) for c in ("approve", "refer")}
    assert rep.worst_class == ("approve" if widest["approve"] >= widest["refer"] else "refer")  # both fail: the wider gap
    four_fifths = [r for r in rep.verdict.reasons if "four-fifths" in r]
    assert any(r.startswith("class approve, group:") for r in four_fifths)
    assert not any(r.startswith("class decline, group:") for r in rep.verdict.reasons)
    assert f"those of class {rep.worst_class}" in rep.statement


def test_the_sparse_bootstrap_sums_equal_the_dense_ones(monkeypatch):
    frame = _table(3_000, seed=6)
    trained = _trained(frame)
    opts = PopulationOptions(bootstrap=15)
    dense = audit_population(trained, options=opts, seed=2)
    monkeypatch.setattr(P, "_DENSE_CELLS", 0)
    assert audit_population(trained, options=opts, seed=2) == dense


def test_a_multiclass_audit_round_trips_through_the_pipeline():
    cfg = AuditConfig(target="decision", sensitive=("group",), sections=("population",), models=MODELS,
                      section_options={"population": {"bootstrap": 10}})
    rep = run_audit(cfg, make_multiclass(1_500, seed=8))
    assert rep.population.stats.rows == 1_500 and rep.population.worst_class in rep.population.stats.classes
    back = AuditReport.from_json(rep.to_json())
    assert back.population == rep.population and back.to_json() == rep.to_json()


@pytest.mark.slow
def test_dask_equals_local_for_a_multiclass_model(tmp_path, client):
    frame = _table(60_000, seed=9)
    trained = _trained(frame)
    folder = tmp_path / "table"
    folder.mkdir()
    for i, start in enumerate(range(0, len(frame), 13_000)):
        frame.iloc[start:start + 13_000].to_parquet(folder / f"part-{i}.parquet", index=False)
    rows = ClusterRows(str(folder), client, "dask LocalCluster (2 worker processes)", len(frame), 5)
    opts = PopulationOptions(bootstrap=20)
    on_cluster = audit_population(trained, options=opts, seed=1, rows=rows).to_dict()
    local = audit_population(trained, options=opts, seed=1).to_dict()
    for d in (on_cluster, local):
        d.pop("engine"), d.pop("statement"), d["stats"].pop("engine")
    assert on_cluster == local
