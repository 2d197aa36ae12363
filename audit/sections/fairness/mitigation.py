"""Model variants scored on the audited model's test split: unawareness and mitigations.

Private helpers of :mod:`audit.sections.fairness.section`. Every variant is scored with the same
bootstrap resamples of the same test rows (:class:`Scorer`), so the
accuracy-fairness trade-off between them is a paired comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import ExponentiatedGradient
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from audit.sections.fairness.moments import FastDemographicParity, FastEqualizedOdds
from audit.sections.fairness.metrics import Resampler, group_labels, keyed_disparities, overall_metrics
from audit.serial import ReportMixin
from audit.stats import Estimate
from audit.models.baselines import MODEL_LABELS, TrainedModels, make_pipeline, make_preprocessor
from audit.models.fast_scoring import encoded_proba, predict_proba
from audit.models.fast_scoring import transform as fast_transform
from audit.threads import one_thread

MITIGATIONS = ("reweighing", "expgrad_dp", "expgrad_eo", "threshold_dp", "threshold_eo")
_LABELS = {
    "unmitigated": "Audited model (no mitigation)",
    "unaware": "Audited model retrained without the sensitive features",
    "reweighing": "Reweighing (pre-processing)",
    "expgrad_base": "Logistic regression, unconstrained (ExponentiatedGradient's base estimator)",
    "expgrad_dp": "ExponentiatedGradient, demographic parity",
    "expgrad_eo": "ExponentiatedGradient, equalized odds",
    "threshold_dp": "ThresholdOptimizer, demographic parity",
    "threshold_eo": "ThresholdOptimizer, equalized odds",
}


@dataclass(frozen=True)
class ModelVariant(ReportMixin):
    """One model scored on the audited model's test split.

    ``metrics`` hold accuracy, balanced accuracy, selection rate and ROC AUC
    (NaN when the variant gives no scores) for classification, MAE and R2 for
    regression; ``disparities`` are keyed like ``FairnessReport.disparities_adequate``
    (adequately sized groups only). ``status`` is "done" or "skipped" (``detail`` says why).
    """

    name: str
    label: str
    status: str
    detail: str
    estimator: str
    fit_split: str
    fit_rows: int
    seconds: float
    metrics: Mapping[str, Estimate]
    disparities: Mapping[str, Mapping[str, Estimate]]


@dataclass(frozen=True)
class Scorer:
    """Scores predictions on the test split: metrics and disparities with paired intervals."""

    task: str
    y: np.ndarray
    coded: Mapping[str, tuple[np.ndarray, tuple[str, ...]]]
    adequate: Mapping[str, np.ndarray]
    resampler: Resampler

    def variant(self, name: str, pred: np.ndarray, score: np.ndarray | None, *, detail: str, estimator: str,
                fit_split: str, fit_rows: int, seconds: float) -> ModelVariant:
        metrics = overall_metrics(self.task, self.y, pred.astype(float), score, self.resampler)
        if self.task == "binary" and score is None:
            metrics["roc_auc"] = self.resampler.estimate(np.nan, np.empty(0), len(self.y))
        disp = keyed_disparities(self.task, self.y, pred.astype(float), self.coded, self.adequate, self.resampler)
        return ModelVariant(name=name, label=_LABELS[name], status="done", detail=detail, estimator=estimator,
                            fit_split=fit_split, fit_rows=int(fit_rows), seconds=float(seconds), metrics=metrics, disparities=disp)


class _Encoded(ClassifierMixin, BaseEstimator):  # mixins first, as scikit-learn asks
    """The audited model's fitted final step, scored through ``encoded_proba`` (the same
    probabilities, binned for a gradient boosting), for fairlearn's prefit ThresholdOptimizer,
    which scores the validation and test rows with it (4 s of 9 s at 1M rows before)."""

    def __init__(self, model=None):
        self.model = model
        # Both ThresholdOptimizers (one per constraint) score the same validation and test
        # matrices: kept by identity (fairlearn passes our array through), the second is free.
        self._seen: list[tuple[Any, np.ndarray]] = []

    @property
    def classes_(self):
        return self.model.classes_

    def fit(self, X, y=None):  # fitted already (prefit=True never calls it); check_is_fitted needs the method
        return self

    def __sklearn_is_fitted__(self) -> bool:  # scikit-learn's check_is_fitted asks this
        return True

    def predict_proba(self, X):
        for seen, proba in self._seen:
            if seen is X:
                return proba.copy()
        proba = encoded_proba(self.model, X)
        self._seen = [*self._seen[-1:], (X, proba)]  # the last two: validation and test
        return proba.copy()


def skipped(name: str, reason: str) -> ModelVariant:
    return ModelVariant(name=name, label=_LABELS[name], status="skipped", detail=reason, estimator="", fit_split="",
                        fit_rows=0, seconds=0.0, metrics={}, disparities={})


def unmitigated(trained: TrainedModels, scorer: Scorer, score: np.ndarray, pred: np.ndarray) -> ModelVariant:
    return scorer.variant("unmitigated", pred, score if trained.task == "binary" else None, detail="the audited model as fitted",
                          estimator=MODEL_LABELS[trained.selected], fit_split="train", fit_rows=len(trained.y_train), seconds=0.0)


def training_subsample(n: int, max_rows: int, seed: int) -> tuple[np.ndarray, str]:
    """Sorted row numbers of a seeded subsample of ``max_rows`` of ``n`` training rows (all when
    ``max_rows`` is 0 or at least ``n``), and how the variants' details name it."""
    if 0 < max_rows < n:
        idx = np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
        return idx, f"{max_rows} of {n} training rows (seeded subsample)"
    return np.arange(n), f"{n} of {n} training rows"


def _on(sample: str, idx: np.ndarray, trained: TrainedModels) -> str:
    """The refit's sample, named in its detail only when it is one (every row otherwise, as the audited model)."""
    return f"; fitted on {sample}" if len(idx) < len(trained.y_train) else ""


def retrain_unaware(trained: TrainedModels, scorer: Scorer, *, max_rows: int = 0, seed: int = 0) -> ModelVariant:
    """Refit the audited model's kind without the sensitive features ("fairness through unawareness"),
    on at most ``max_rows`` training rows (0: all)."""
    ds = trained.dataset
    dropped = [s for s in ds.sensitive if s in ds.features]
    if not trained.refittable:
        from audit.sections.fairness.user_thresholds import RETRAINS

        return skipped("unaware", RETRAINS)
    if not dropped:
        return skipped("unaware", "the audited model already excludes the sensitive features (sensitive_as_features = false)")
    feats = [f for f in ds.features if f not in ds.sensitive]
    t0 = time.perf_counter()
    idx, sample = training_subsample(len(trained.y_train), max_rows, seed)
    pipe = make_pipeline(trained.selected, trained.task, tuple(c for c in ds.numeric if c in feats),
                         tuple(c for c in ds.categorical if c in feats), seed=trained.seed)
    pipe.fit(trained.X_train[feats].iloc[idx], trained.y_train[idx])
    secs = time.perf_counter() - t0
    Xt = trained.X_test[feats]
    if trained.task == "binary":
        score = predict_proba(pipe, Xt)[:, 1]
        pred = (score >= trained.report.decision_threshold).astype(np.int64)
    else:
        score, pred = None, pipe.predict(Xt)
    return scorer.variant("unaware", pred, score, detail=f"dropped {', '.join(dropped)}; {len(feats)} features remain" + _on(sample, idx, trained),
                          estimator=MODEL_LABELS[trained.selected], fit_split="train", fit_rows=len(idx), seconds=secs)


def reweighing_weights(groups: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kamiran & Calders (2012) weights P(group) P(label) / P(group, label).

    Written here (five lines) because fairlearn has no reweighing and AIF360,
    which has, is a large dependency to add for one formula.
    """
    g = np.unique(groups.astype(str), return_inverse=True)[1]
    n = len(y)
    joint = np.zeros((g.max() + 1, 2))
    np.add.at(joint, (g, y.astype(int)), 1.0)
    expected = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True) / n
    return (expected / np.maximum(joint, 1.0))[g, y.astype(int)]


def mitigate(trained: TrainedModels, scorer: Scorer, *, score: np.ndarray, pred: np.ndarray, names: tuple[str, ...],
             cols: tuple[str, ...], max_rows: int, eps: float, max_iter: int, seed: int, refit_rows: int = 0,
             progress: Callable[[float, str], None] | None = None) -> tuple[ModelVariant, ...]:
    """The audited model (its test ``score`` and ``pred``) and each requested mitigation, on the same test split.

    Constraints and weights use the groups of ``cols`` (several columns = their
    intersection, so parity between joint groups also holds for each column alone).
    """
    out = [unmitigated(trained, scorer, score, pred)]
    if trained.task != "binary":
        return tuple(out) + tuple(skipped(n, "applies to binary classification only") for n in names)
    g_tr, g_val, g_te = (group_labels(g, cols) for g in (trained.groups_train, trained.groups_val, trained.groups_test))
    if not trained.refittable:
        from audit.sections.fairness.user_thresholds import user_mitigations

        return tuple(out) + tuple(user_mitigations(trained, scorer, names, g_val=g_val, g_te=g_te, cols=cols, seed=seed,
                                                   variant_skipped=skipped))
    pre = trained.model.named_steps["pre"]
    est = trained.model.named_steps["model"]
    thr = trained.report.decision_threshold
    Z_te = fast_transform(pre, trained.X_test)
    label = MODEL_LABELS[trained.selected]
    done = 0

    def tick(msg: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done / (len(names) + 2), msg)

    if "reweighing" in names:
        tick("reweighing")
        t0 = time.perf_counter()
        idx, sample = training_subsample(len(trained.y_train), refit_rows, seed)
        w = reweighing_weights(g_tr[idx], trained.y_train[idx])
        model = clone(est).fit(fast_transform(pre, trained.X_train.iloc[idx]), trained.y_train[idx], sample_weight=w)
        s = encoded_proba(model, Z_te)[:, 1]
        out.append(scorer.variant("reweighing", (s >= thr).astype(int), s, estimator=label, fit_split="train",
                                  fit_rows=len(w), seconds=time.perf_counter() - t0,
                                  detail=f"the audited model refitted with weights P(group)P(label)/P(group, label) over {' x '.join(cols)} groups "
                                         f"(weights {w.min():.2f} to {w.max():.2f})" + _on(sample, idx, trained)))

    eg_names = [n for n in ("expgrad_dp", "expgrad_eo") if n in names]
    if eg_names:
        out.extend(_expgrad(trained, scorer, eg_names, g_tr, cols, max_rows=max_rows, eps=eps, max_iter=max_iter, seed=seed, tick=tick))

    Z_val, scored = fast_transform(pre, trained.X_val), _Encoded(est)
    for name, constraint in (("threshold_dp", "demographic_parity"), ("threshold_eo", "equalized_odds")):
        if name not in names:
            continue
        tick(_LABELS[name])
        unseen = sorted(set(g_te) - set(g_val))
        if unseen:
            out.append(skipped(name, f"test groups {', '.join(unseen)} have no validation rows to learn a threshold from"))
            continue
        t0 = time.perf_counter()
        # Fitted on the validation split: thresholds chosen on the training rows would be
        # tuned to the model's over-confident in-sample scores.
        to = ThresholdOptimizer(estimator=scored, constraints=constraint, prefit=True, predict_method="predict_proba")
        try:
            to.fit(Z_val, trained.y_val, sensitive_features=g_val)
            pred = to.predict(Z_te, sensitive_features=g_te, random_state=seed)
        except ValueError as exc:
            out.append(skipped(name, f"fairlearn could not fit it: {exc}"))
            continue
        out.append(scorer.variant(name, np.asarray(pred), None, estimator=f"{label}, group-specific randomised thresholds",
                                  fit_split="validation", fit_rows=len(trained.y_val), seconds=time.perf_counter() - t0,
                                  detail=f"{constraint.replace('_', ' ')} constraint over {' x '.join(cols)} groups; "
                                         "predictions are randomised (seeded) between two thresholds per group"))
    return tuple(out)


def _expgrad(trained: TrainedModels, scorer: Scorer, names: list[str], g_tr: np.ndarray, cols: tuple[str, ...], *, max_rows: int, eps: float,
             max_iter: int, seed: int, tick: Callable[[str], None]) -> list[ModelVariant]:
    """Unconstrained logistic base estimator and ExponentiatedGradient under each constraint."""
    ds = trained.dataset
    # A scaled encoding: the logistic base estimator needs it (capital gains run to 99,999).
    if "logistic" in trained.pipelines:
        pre = trained.pipelines["logistic"].named_steps["pre"]
    else:
        pre = make_preprocessor(ds.numeric, ds.categorical, scale=True).fit(trained.X_train)
    idx, sample = training_subsample(len(trained.y_train), max_rows, seed)
    Z, y, g = fast_transform(pre, trained.X_train.iloc[idx]), trained.y_train[idx], g_tr[idx]
    Z_te = fast_transform(pre, trained.X_test)
    thr = trained.report.decision_threshold
    # liblinear: each of the ~100 oracle fits is a small problem where its lean
    # coordinate descent beats lbfgs / newton-cholesky by 2-3x.
    base = LogisticRegression(solver="liblinear", max_iter=1000)
    out = []
    t0 = time.perf_counter()
    s = clone(base).fit(Z, y).predict_proba(Z_te)[:, 1]
    out.append(scorer.variant("expgrad_base", (s >= thr).astype(int), s, estimator="logistic regression (liblinear)",
                              fit_split="train", fit_rows=len(idx), seconds=time.perf_counter() - t0,
                              detail=f"fitted on {sample}; the reference for the ExponentiatedGradient rows"))
    for name in names:
        tick(_LABELS[name])
        # fairlearn's moments with a numpy projection of the multipliers: the same fit (moments.py)
        moment = FastDemographicParity() if name == "expgrad_dp" else FastEqualizedOdds()
        t0 = time.perf_counter()
        eg = ExponentiatedGradient(clone(base), moment, eps=eps, max_iter=max_iter)
        # One BLAS thread while the ~100 small oracle fits run; process-wide, hence the narrow scope (audit.threads).
        with one_thread("blas"):
            try:
                eg.fit(Z, y, sensitive_features=g)
            except ValueError as exc:
                out.append(skipped(name, f"fairlearn could not fit it: {exc}"))
                continue
            pred = eg.predict(Z_te, random_state=seed)
        out.append(scorer.variant(name, np.asarray(pred), None, estimator="randomised mixture of logistic regressions",
                                  fit_split="train", fit_rows=len(idx), seconds=time.perf_counter() - t0,
                                  detail=f"{moment.short_name} constraint (eps {eps}) over {' x '.join(cols)} groups, "
                                         f"fitted on {sample}; {eg.n_oracle_calls_} oracle fits"))
    return out
