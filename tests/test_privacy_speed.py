"""Issue 15 item 3 for the membership attack's model: the black-box attack with scikit-learn's
HistGradientBoostingClassifier gives a membership AUC inside the bootstrap interval the previous
attack model (ART's "gb" default, GradientBoostingClassifier) gave on the same seeded data.

The old figures below were measured with the code before the change (commit 9cbd2ec, the same
script as this test's body) and stored: the old code path no longer exists.
"""

from __future__ import annotations

import pytest

from audit.config import ModelOptions
from audit.models.baselines import train_models
from audit.sections.privacy.membership import ATTACK_MODEL
from audit.sections.privacy.section import PrivacyOptions, audit_privacy

# confidence_black_box on the audited model of the synthetic data, seed 0, 200 resamples (9cbd2ec).
OLD_AUC, OLD_LOW, OLD_HIGH = 0.489875, 0.4365949429184987, 0.5388162673121661


def test_black_box_auc_within_the_old_interval_and_names_its_model(synthetic_dataset):
    trained = train_models(synthetic_dataset, options=ModelOptions(cv_folds=0), seed=0)
    rep = audit_privacy(trained, options=PrivacyOptions(networks=(), bootstrap=200), seed=0)
    loss, bb = rep.audited.membership
    assert bb.attack == "confidence_black_box" and bb.attack_model == ATTACK_MODEL and "HistGradientBoosting" in ATTACK_MODEL
    assert loss.attack_model == ""  # the loss-threshold attack trains no model
    assert OLD_LOW <= bb.auc.value <= OLD_HIGH
    assert bb.auc.value != pytest.approx(OLD_AUC, abs=1e-12)  # the attack model did change
