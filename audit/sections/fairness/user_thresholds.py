"""Mitigation for the user's own model: ThresholdOptimizer post-processes its scores.

The user's model cannot be retrained here, so reweighing, ExponentiatedGradient and
unawareness (which refit) are stated as not run on it. ThresholdOptimizer only needs
scores: it is fitted on the user's scores of the validation split, through a
one-column estimator whose input is that score.
"""

from __future__ import annotations

import time

import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin

RETRAINS = "retrains the model; the user's model cannot be retrained here (the baselines in the leaderboard can)"


class _ScoreAsProba(ClassifierMixin, BaseEstimator):
    """An already-fitted classifier whose single input column is P(positive)."""

    def __init__(self) -> None:
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = 1

    def fit(self, Z, y):  # never refitted (prefit=True); present for the estimator protocol
        return self

    def predict_proba(self, Z):
        s = np.asarray(Z, dtype=np.float64).reshape(-1)
        return np.column_stack([1 - s, s])

    def predict(self, Z):
        return (self.predict_proba(Z)[:, 1] >= 0.5).astype(int)


def user_mitigations(trained, scorer, names, *, g_val, g_te, cols, seed, variant_skipped):
    """Variants for the user's model: threshold_* fitted on its scores, the rest skipped with the reason."""
    out = []
    s_val = trained.score(trained.X_val).reshape(-1, 1)
    s_te = trained.score(trained.X_test).reshape(-1, 1)
    for name in names:
        if not name.startswith("threshold_"):
            out.append(variant_skipped(name, RETRAINS))
            continue
        constraint = "demographic_parity" if name == "threshold_dp" else "equalized_odds"
        unseen = sorted(set(g_te) - set(g_val))
        if unseen:
            out.append(variant_skipped(name, f"evaluation groups {', '.join(unseen)} have no validation rows to learn a threshold from"))
            continue
        t0 = time.perf_counter()
        to = ThresholdOptimizer(estimator=_ScoreAsProba(), constraints=constraint, prefit=True, predict_method="predict_proba")
        try:
            to.fit(s_val, trained.y_val, sensitive_features=g_val)
            pred = to.predict(s_te, sensitive_features=g_te, random_state=seed)
        except ValueError as exc:
            out.append(variant_skipped(name, f"fairlearn could not fit it: {exc}"))
            continue
        out.append(scorer.variant(name, np.asarray(pred), None, estimator=f"{trained.report.selected_label}, group-specific randomised thresholds",
                                  fit_split="validation", fit_rows=len(trained.y_val), seconds=time.perf_counter() - t0,
                                  detail=f"{constraint.replace('_', ' ')} constraint over {' x '.join(cols)} groups, fitted on the user's "
                                         "scores of the validation split; predictions are randomised (seeded) between two thresholds per group"))
    return out
