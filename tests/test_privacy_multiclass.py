"""Multiclass privacy: softmax DP-SGD networks, membership inference on class probabilities."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from audit.config import ModelOptions
from audit.data import prepare_dataset
from audit.models.baselines import train_models
from audit.sections.privacy.membership import row_loss
from audit.sections.privacy.section import PrivacyOptions, PrivacyReport, audit_privacy
from conftest import MULTICLASS_LABELS, make_multiclass


@pytest.fixture(scope="module")
def noisy():
    frame = make_multiclass(1500, seed=5)
    rng = np.random.default_rng(5)
    flip = rng.random(len(frame)) < 0.3  # noisy labels: memorising them is overfitting
    frame.loc[flip, "decision"] = rng.choice(MULTICLASS_LABELS, size=flip.sum())
    ds = prepare_dataset(frame, target="decision", sensitive=["group"])
    return train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)


def test_row_loss_is_the_log_loss_of_the_true_class():
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert row_loss(np.array([0, 1]), P, "multiclass") == pytest.approx(-np.log([0.7, 0.1]))


def test_overfitted_multiclass_model_leaks_membership_regularised_does_not(noisy):
    pre = noisy.pipelines["logistic"].named_steps["pre"]
    forest = Pipeline([("pre", pre), ("model", RandomForestClassifier(n_estimators=50, random_state=0))]).fit(noisy.X_train, noisy.y_train)
    overfit = dataclasses.replace(noisy, pipelines={**noisy.pipelines, "forest": forest}, selected="forest")
    opts = PrivacyOptions(networks=(), bootstrap=200)
    leaky, tight = audit_privacy(overfit, options=opts, seed=0), audit_privacy(noisy, options=opts, seed=0)
    assert [a.attack for a in leaky.audited.membership] == ["loss_threshold", "confidence_black_box"]
    assert leaky.audited.membership[0].auc.low > 0.6 and leaky.audited.membership[1].auc.low > 0.55
    assert tight.audited.membership[0].auc.low < 0.5 < tight.audited.membership[0].auc.high
    assert leaky.verdict.status == "warn" and tight.verdict.status == "pass"


def test_dp_sgd_softmax_networks_and_more_noise_spends_less_epsilon(multiclass_trained):
    opts = PrivacyOptions(target_epsilons=(0.5, 8.0), networks=("logistic",), epochs=3, attack_rows=200, bootstrap=50)
    r = audit_privacy(multiclass_trained, options=opts, seed=0)
    dp = {m.target_epsilon: m for m in r.dp_models()}
    assert dp[0.5].epsilon_spent < dp[8.0].epsilon_spent <= 8.0 + 1e-6
    assert dp[0.5].noise_multiplier > dp[8.0].noise_multiplier
    non_private = next(m for m in r.models if m.role == "non_private")
    # A softmax network learns the three classes (chance accuracy is about 0.4).
    assert non_private.accuracy > 0.8 and 0.5 < non_private.roc_auc <= 1
    g = r.audited.groups[0]
    assert set(g.accuracy) == {"A", "B"} and g.selection_rate == {}
    # The audited model's largest one-vs-rest parity gap is the built-in 0.15 on "approve" (within noise).
    assert g.demographic_parity_difference == pytest.approx(0.15, abs=0.07)
    assert PrivacyReport.from_dict(r.to_dict()).to_dict() == r.to_dict()
