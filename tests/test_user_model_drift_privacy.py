"""Drift and privacy when the audited model is the user's: a predictions column, an ONNX or a skops file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from scipy import stats
from sklearn.metrics import accuracy_score, roc_auc_score

from audit.config import ModelOptions, UserModelOptions, config_from_mapping
from audit.data import align_current, prepare_dataset
from audit.errors import AuditError
from audit.models.attach import attach_user_model, current_predictions, load_user_model, skipped_sections
from audit.models.baselines import train_models
from audit.models.loading import read_model_file
from audit.pipeline import run_audit
from audit.report import AuditReport
from audit.sections.drift import DriftOptions, DriftReport, audit_drift
from audit.sections.privacy import PrivacyOptions, PrivacyReport, audit_privacy
from tests.conftest import make_synthetic
from tests.test_user_model import fitted_pipeline, rule_onnx

DRIFT = DriftOptions(domain_sample=300, importance_rows=100, importance_repeats=1, domain_max_iter=10, performance_bootstrap=20)
PRIVACY = PrivacyOptions(target_epsilons=(2.0,), networks=("logistic",), epochs=2, batch_size=64, attack_rows=150, bootstrap=20)


def with_risk(frame: pd.DataFrame, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A probability column that ranks like x1 (the user's predictions), moved up by ``shift``."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["risk"] = np.clip(1 / (1 + np.exp(-2 * out["x1"] + rng.normal(0, 0.5, len(out)))) + shift, 0, 1)
    return out


@pytest.fixture(scope="module")
def predictions_audit():
    frame = with_risk(make_synthetic(1200, seed=41), seed=1)
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"], predictions="risk")
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    user = load_user_model(UserModelOptions(predictions="risk"), ds)
    return frame, ds, attach_user_model(trained, user, UserModelOptions(predictions="risk"))


def _current(ds, t, frame: pd.DataFrame) -> pd.DataFrame:
    return current_predictions(t.user, align_current(frame, ds), "current data")


def psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """PSI on reference-decile bins (inverted-CDF quantiles, right-closed), shares floored at 1e-4."""
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins, method="inverted_cdf"))
    cut = [-np.inf, *edges, np.inf]
    r = pd.Series(pd.cut(ref, cut, right=True)).value_counts(sort=False).to_numpy() / len(ref)
    c = pd.Series(pd.cut(cur, cut, right=True)).value_counts(sort=False).to_numpy() / len(cur)
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


@pytest.mark.parametrize("shift", [0.0, 0.25])
def test_prediction_drift_compares_the_column_with_its_copy_in_the_current_file(predictions_audit, shift):
    frame, ds, t = predictions_audit
    assert "drift" not in skipped_sections(t) and skipped_sections(t)["privacy"].startswith("needs a callable model")
    cur_frame = with_risk(make_synthetic(800, seed=42), seed=2, shift=shift)
    rep = audit_drift(t, options=DRIFT, seed=0, progress=None, current=_current(ds, t, cur_frame))
    ref = frame["risk"].to_numpy()[t.idx_val]  # the validation split's predictions
    cur = cur_frame["risk"].to_numpy()
    ks = stats.ks_2samp(ref, cur, method="asymp")
    p = rep.prediction
    assert p.feature == "predictions (risk)" and rep.prediction_note == ""
    assert p.statistic == pytest.approx(ks.statistic, abs=1e-12) and p.p_value == pytest.approx(ks.pvalue, rel=1e-9)
    assert p.psi == pytest.approx(psi(ref, cur), rel=1e-9)
    assert p.drifted is (shift > 0) and (p.p_value < 1e-6 if shift else p.p_value > 0.05)
    # The column is never a feature: the features come from one distribution and do not drift.
    assert "risk" not in {f.feature for f in rep.data.features} and rep.data.n_drifted == 0
    # Performance on the labelled current rows is the column's own AUC there.
    auc = next(x for x in rep.performance if x.metric == "roc_auc")
    assert auc.current.value == pytest.approx(roc_auc_score(cur_frame["label"], cur), abs=1e-12)
    assert auc.reference.value == pytest.approx(roc_auc_score(frame["label"], frame["risk"]), abs=1e-12)  # every row
    assert DriftReport.from_dict(rep.to_dict()).to_dict() == rep.to_dict()


def test_a_current_file_without_the_column_gives_no_prediction_drift_and_says_why(predictions_audit):
    frame, ds, t = predictions_audit
    cur_frame = make_synthetic(600, seed=43)  # no "risk" column
    rep = audit_drift(t, options=DRIFT, seed=0, progress=None, current=_current(ds, t, cur_frame))
    assert rep.prediction is None and "the current data has no column 'risk'" in rep.prediction_note
    assert rep.performance == () and rep.performance_note == f"not measured: {rep.prediction_note}"
    assert rep.labels is not None and rep.data.n_features == len(ds.features)  # the rest runs as usual
    assert not any("score distribution" in r for r in rep.verdict.reasons)
    assert DriftReport.from_dict(rep.to_dict()).to_dict() == rep.to_dict()


def test_a_simulated_shift_cannot_score_new_rows_with_a_predictions_column(predictions_audit):
    _, _, t = predictions_audit
    rep = audit_drift(t, options=DriftOptions(simulate_shift="x1:+1sd", domain_classifier=False), seed=0, progress=None)
    assert rep.prediction is None and "simulated shift builds new rows" in rep.prediction_note
    assert rep.data.drifted_features == ("x1",)  # data drift needs no model


def test_a_thresholded_risk_score_keeps_its_cut_on_current_rows():
    frame = make_synthetic(900, seed=44)
    rng = np.random.default_rng(3)
    decile = lambda f: np.clip(np.ceil(5.5 + 2.5 * f["x1"] + rng.normal(0, 1.5, len(f))), 1, 10)  # noqa: E731
    frame["decile"] = decile(frame)
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"], predictions="decile")
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy",)), seed=0)
    opts = UserModelOptions(predictions="decile", threshold=7)
    t = attach_user_model(trained, load_user_model(opts, ds), opts)
    cur_frame = make_synthetic(500, seed=45)
    cur_frame["decile"] = decile(cur_frame)
    rep = audit_drift(t, options=DriftOptions(domain_classifier=False), seed=0, progress=None, current=_current(ds, t, cur_frame))
    acc = next(x for x in rep.performance if x.metric == "accuracy")
    assert acc.current.value == pytest.approx(float(((cur_frame["decile"] >= 7) == cur_frame["label"]).mean()), abs=1e-12)
    assert rep.prediction.reference_mean == pytest.approx(frame["decile"].to_numpy()[t.idx_val].mean())  # its own scale


def test_predictions_only_audit_runs_drift_and_round_trips():
    frame = with_risk(make_synthetic(500, seed=46), seed=4)
    cfg = config_from_mapping({"target": "label", "sensitive": ["sex"], "sections": ["drift"], "model": {"predictions": "risk"},
                               "models": {"cv_folds": 0, "models": ["dummy"]}, "drift": {"domain_classifier": False}})
    current = with_risk(make_synthetic(300, seed=47), seed=5, shift=0.3)
    rep = run_audit(cfg, frame, current=current, workers=1)
    assert rep.drift is not None and rep.drift.prediction.drifted
    assert next(x for x in rep.manifest.timings if x.name == "drift").status == "done"
    text = rep.to_json()
    assert AuditReport.from_json(text).to_json() == text and AuditReport.from_json(text).drift.prediction_note == ""
    bad = current.assign(risk=current["risk"].astype(object))
    bad.loc[3, "risk"] = "high"
    with pytest.raises(AuditError, match=r"^the current data: predictions column 'risk' holds non-numeric values"):
        run_audit(cfg, frame, current=bad, workers=1)


def test_drift_of_an_onnx_model_uses_its_own_scores():
    frame = make_synthetic(800, seed=48)
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"])
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    user = load_user_model(UserModelOptions(path="rule.onnx"), ds, model_file=read_model_file(rule_onnx(0.3), name="rule.onnx"))
    t = attach_user_model(trained, user, UserModelOptions(path="rule.onnx"))
    rep = audit_drift(t, options=DriftOptions(domain_classifier=False), seed=0, progress=None)

    def rule(rows: np.ndarray) -> np.ndarray:  # the graph's own arithmetic: sigmoid(2 x1) - 0.3 for F, clipped
        x1 = ds.frame["x1"].to_numpy(dtype=np.float32)[rows]
        p = 1 / (1 + np.exp(-2.0 * x1)) - 0.3 * (ds.frame["sex"].to_numpy()[rows] == "F")
        return np.clip(p, 0, 1)

    ks = stats.ks_2samp(rule(t.idx_val), rule(t.idx_test), method="asymp")
    assert rep.prediction.statistic == pytest.approx(ks.statistic, abs=1e-6)
    assert rep.prediction.reference_mean == pytest.approx(rule(t.idx_val).mean(), abs=1e-6)


def _privacy_checks(t, rep: PrivacyReport) -> None:
    base = t.base
    assert rep.audited.membership is None and rep.audited.n_train is None
    assert rep.membership_note.startswith("not run: membership inference needs the rows the model was trained on")
    assert "references trained here" in rep.sweep_note and "not your model" in rep.sweep_note
    # Judged like the networks: on the baselines' test split, at the 0.5 cut.
    assert rep.audited.n_test == len(base.y_test) != len(t.y_test)
    want = accuracy_score(base.y_test, t.user.score(base.X_test) >= 0.5)
    assert rep.audited.accuracy == pytest.approx(want, abs=1e-12)
    dp = rep.dp_models()
    assert dp and all(m.membership and m.n_train == len(base.y_train) for m in dp)
    assert rep.verdict.status == "warn" and "not assessed" in rep.verdict.reasons[0]
    assert PrivacyReport.from_dict(rep.to_dict()).to_dict() == rep.to_dict()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["onnx", "skops"])
def test_privacy_sweeps_reference_networks_and_does_not_attack_the_users_model(kind):
    frame = make_synthetic(900, seed=49)
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"])
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    raw = rule_onnx(0.3) if kind == "onnx" else sio.dumps(fitted_pipeline(frame.sample(400, random_state=0)))
    opts = UserModelOptions(path=f"m.{kind}")
    t = attach_user_model(trained, load_user_model(opts, ds, model_file=read_model_file(raw, name=f"m.{kind}")), opts)
    assert "privacy" not in skipped_sections(t)
    _privacy_checks(t, audit_privacy(t, options=PRIVACY, seed=0, progress=None))
