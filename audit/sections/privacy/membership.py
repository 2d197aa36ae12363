"""Membership-inference attacks (private helpers of ``audit.sections.privacy.section``).

Two attacks, both on a balanced set of members (training rows) and non-members
(held-out rows):

- ``loss_threshold`` (Yeom et al., 2018): members tend to have lower loss, so the
  attack score is ``-loss``. Hand-written: the attack *is* one ROC curve of the
  per-row loss, and needs no attack model. Evaluated on every member and non-member.
- ``confidence_black_box``: ART's ``MembershipInferenceBlackBox`` trains an attack
  classifier on the target's predicted probabilities and the true label; it is
  fitted on one half of the rows and evaluated on the other half. The attack
  classifier is scikit-learn's ``HistGradientBoostingClassifier`` (seeded, one
  OpenMP thread) in place of ART's ``"gb"`` default
  (``GradientBoostingClassifier``, 100 exact-split trees): 0.12 CPU s per fit
  against 0.31 s on 2,000 rows of 4 features, with membership AUCs inside the old
  bootstrap intervals on Adult and German credit (issue 15; bench/README.md,
  ``tests/test_privacy_speed.py``). ART's
  ``ShadowModels`` would need copies of every target (including each DP network)
  trained on shadow data, multiplying the cost of the DP sweep, so it is not used.

Each attack reports ROC AUC with a bootstrap interval, the membership advantage
(max over thresholds of TPR - FPR) and the TPR at a low FPR (e.g. 1 %), the
figure that matters for the most exposed individuals (Carlini et al., 2022).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from audit.serial import ReportMixin
from audit.stats import Estimate, Ties, bootstrap_estimate, bootstrap_weights

_EPS = 1e-7
ATTACK_MODEL = "scikit-learn HistGradientBoostingClassifier (100 iterations, seeded)"


@dataclass(frozen=True)
class AttackResult(ReportMixin):
    """One membership-inference attack against one model.

    ``auc`` is the attack's ROC AUC (with its bootstrap interval) at telling members from non-members (0.5 = no
    better than chance); ``advantage`` = max over thresholds of TPR - FPR;
    ``tpr_at_low_fpr`` = the largest TPR with FPR at most ``low_fpr``. All on
    ``n_members`` + ``n_nonmembers`` evaluation rows; ``n_fit`` rows (half members)
    trained the attack model (0 for the loss-threshold attack).
    """

    attack: str
    auc: Estimate
    advantage: float
    tpr_at_low_fpr: float
    low_fpr: float
    n_members: int
    n_nonmembers: int
    n_fit: int
    # The classifier the attack trained ("" for the loss-threshold attack, which trains none).
    attack_model: str = ""
    # The ROC curve on a fixed FPR grid (TPR = best TPR at FPR <= grid point), for plotting.
    roc_fpr: tuple[float, ...] = ()
    roc_tpr: tuple[float, ...] = ()


def row_loss(y: np.ndarray, score: np.ndarray, task: str) -> np.ndarray:
    """Per-row log loss (binary, ``score`` = P(y=1); multiclass, ``score`` = (n, k) class
    probabilities) or squared error (regression)."""
    y = np.asarray(y, dtype=np.float64)
    if task == "multiclass":
        P = np.asarray(score, dtype=np.float64)
        return -np.log(np.clip(P[np.arange(len(y)), y.astype(np.int64)], _EPS, 1.0))
    if task == "binary":
        p = np.clip(np.asarray(score, dtype=np.float64), _EPS, 1 - _EPS)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return (np.asarray(score, dtype=np.float64) - y) ** 2


def _summarise(name: str, member: np.ndarray, score: np.ndarray, *, n_fit: int, n_boot: int, confidence: float,
               low_fpr: float, rng: np.random.Generator, attack_model: str = "") -> AttackResult:
    fpr, tpr, _ = roc_curve(member, score)
    ties = Ties(member.astype(np.float64), score)
    auc = float(ties.auc(np.ones((1, len(score))))[0])
    boots = [ties.auc(W) for W in bootstrap_weights(len(score), n_boot, rng)]
    auc_ci = bootstrap_estimate(auc, boots, level=confidence, n=len(score), resamples=n_boot)
    ok = fpr <= low_fpr
    grid = np.unique(np.r_[0.0, 0.001, 0.005, 0.01, 0.02, 0.05, np.linspace(0, 1, 41)])
    # Step ROC: the best TPR reachable without exceeding each grid FPR.
    idx = np.searchsorted(fpr, grid, side="right") - 1
    roc_tpr = tpr[np.clip(idx, 0, len(tpr) - 1)]
    return AttackResult(
        attack=name, auc=auc_ci,
        advantage=float(np.max(tpr - fpr)), tpr_at_low_fpr=float(tpr[ok].max()) if ok.any() else 0.0,
        low_fpr=float(low_fpr), n_members=int(member.sum()), n_nonmembers=int(len(member) - member.sum()), n_fit=n_fit,
        attack_model=attack_model,
        roc_fpr=tuple(round(float(x), 6) for x in grid), roc_tpr=tuple(round(float(x), 6) for x in roc_tpr),
    )


def attack_membership(
    *,
    target: Any,
    score_in: np.ndarray,
    y_in: np.ndarray,
    score_out: np.ndarray,
    y_out: np.ndarray,
    task: str,
    seed: int,
    n_boot: int,
    confidence: float,
    low_fpr: float,
) -> tuple[AttackResult, ...]:
    """Run the attacks given the target's scores on members (``_in``) and non-members (``_out``).

    ``target`` is a fitted scikit-learn-like classifier (``classes_``), used only
    to satisfy ART's estimator type: the predictions are passed in, so the target
    is never queried again.
    """
    rng = np.random.default_rng(seed)
    member = np.r_[np.ones(len(y_in), dtype=np.int64), np.zeros(len(y_out), dtype=np.int64)]
    loss = np.r_[row_loss(y_in, score_in, task), row_loss(y_out, score_out, task)]
    out = [_summarise("loss_threshold", member, -loss, n_fit=0, n_boot=n_boot, confidence=confidence, low_fpr=low_fpr, rng=rng)]
    if task in ("binary", "multiclass"):
        out.append(_black_box(target, score_in, y_in, score_out, y_out, seed=seed, n_boot=n_boot,
                              confidence=confidence, low_fpr=low_fpr, rng=rng))
    return tuple(out)


def _black_box(target: Any, score_in: np.ndarray, y_in: np.ndarray, score_out: np.ndarray, y_out: np.ndarray, *,
               seed: int, n_boot: int, confidence: float, low_fpr: float, rng: np.random.Generator) -> AttackResult:
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.estimators.classification.scikitlearn import ScikitlearnClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier

    from audit.threads import one_thread

    def proba(s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=np.float64)
        return s if s.ndim == 2 else np.column_stack([1 - s, s])  # multiclass scores are (n, k) already

    split = np.random.default_rng(seed + 1)
    pi, po = split.permutation(len(y_in)), split.permutation(len(y_out))
    fi, ei = pi[: len(pi) // 2], pi[len(pi) // 2:]
    fo, eo = po[: len(po) // 2], po[len(po) // 2:]
    # Seeded, so the same seed gives the same report (ART's defaults are unseeded).
    attack = MembershipInferenceBlackBox(ScikitlearnClassifier(model=target), input_type="prediction", attack_model_type="gb")
    # ART 1.20's ``attack_model=`` wants an ART-wrapped classifier, whose ``fit`` then fails on ART's own
    # 1-D membership labels; so the default model's instance is swapped for ours (ART's default path
    # fits it with ``fit`` and scores with ``predict_proba``, the scikit-learn API).
    attack.attack_model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    y_in, y_out = np.asarray(y_in, dtype=np.int64), np.asarray(y_out, dtype=np.int64)
    # One OpenMP thread: on ~2,000 rows of 4 features a second thread only spins (measured 0.12 CPU s
    # per fit with one thread, 4.8 s with two on the loaded 2-core machine; audit/threads.py).
    with one_thread("openmp"):
        attack.fit(x=None, y=y_in[fi], test_x=None, test_y=y_out[fo], pred=proba(score_in[fi]), test_pred=proba(score_out[fo]))
        p_in = attack.infer(None, y_in[ei], pred=proba(score_in[ei]), probabilities=True).ravel()
        p_out = attack.infer(None, y_out[eo], pred=proba(score_out[eo]), probabilities=True).ravel()
    member = np.r_[np.ones(len(ei), dtype=np.int64), np.zeros(len(eo), dtype=np.int64)]
    return _summarise("confidence_black_box", member, np.r_[p_in, p_out], n_fit=len(fi) + len(fo), n_boot=n_boot,
                      confidence=confidence, low_fpr=low_fpr, rng=rng, attack_model=ATTACK_MODEL)
