"""Multiclass explanations: SHAP per class and summed, additivity per class, a leaked label ranked first."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audit.config import ModelOptions
from audit.data import prepare_dataset
from audit.models.baselines import train_models
from audit.sections.explanations.section import ExplanationOptions, ExplanationReport, explain_model
from conftest import make_multiclass

_OPTS = ExplanationOptions(sample_size=300, permutation_sample=300, permutation_repeats=3, n_clusters=3)


@pytest.fixture(scope="module")
def leaky():
    ds = prepare_dataset(make_multiclass(1500, seed=2, leak=True), target="decision", sensitive=["group"])
    return train_models(ds, options=ModelOptions(cv_folds=0), seed=0)


@pytest.mark.parametrize("model", ["logistic", "hist_gb"])
def test_leaked_label_ranks_first_and_additivity_holds_per_class(leaky, model):
    t = dataclasses.replace(leaky, selected=model)
    r = explain_model(t, options=_OPTS, seed=0)
    assert r.task == "multiclass" and r.output_space == "logits" and r.classes == t.classes
    assert r.importance[0].feature == "leak"
    assert r.permutation.metric == "roc_auc" and r.permutation.features[0].feature == "leak"
    assert r.additivity.passed and r.additivity.n_rows == r.n_explained
    assert set(r.per_class) == set(t.classes)
    for lab, c in r.per_class.items():
        assert c.max_abs_error <= _OPTS.additivity_tolerance, lab
    # Summed importance is the sum of the per-class importances.
    per = {lab: {fi.feature: fi.mean_abs_shap for fi in c.importance} for lab, c in r.per_class.items()}
    for fi in r.importance:
        assert fi.mean_abs_shap == pytest.approx(sum(p[fi.feature] for p in per.values()), rel=1e-4)
    # Rows explain their predicted class: base + contributions = that class's logit.
    pred = t.predict(t.X_test.iloc[list(r.rows)])
    assert r.predicted_classes == tuple(t.classes[c] for c in pred)
    logits = t.model.decision_function(t.X_test.iloc[list(r.rows)])
    for i in (0, 5, 17):
        loc = r.local(i)
        assert loc.model_output == pytest.approx(logits[i, pred[i]], rel=1e-5, abs=1e-5)
        assert loc.output == pytest.approx(loc.model_output, abs=1e-3)
    assert r.surrogate.fidelity_metric == "agreement" and r.surrogate.fidelity > 0.8
    assert any("THEN " + lab in r.surrogate.text for lab in t.classes)
    assert r.errors.error_metric == "error_rate"
    assert ExplanationReport.from_dict(r.to_dict()).to_dict() == r.to_dict()


def test_model_agnostic_explainer_per_class(leaky):
    t = dataclasses.replace(leaky, selected="logistic")
    r = explain_model(t, options=dataclasses.replace(_OPTS, explainer="permutation", agnostic_max_rows=40,
                                                     background_size=30), seed=0)
    assert r.explainer == "permutation" and r.n_explained == 40
    assert r.importance[0].feature == "leak"
    assert all(np.isfinite(c.max_abs_error) for c in r.per_class.values()) and r.additivity.passed
