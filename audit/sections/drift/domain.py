"""The domain classifier: can a model tell current rows from reference rows?

An AUC near 0.5 means the two samples look alike as a whole; the permutation
importance of each feature names what separates them. This catches drift that
per-feature tests miss (a change in how features go together).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from audit.serial import ReportMixin
from audit.stats import Estimate, derived_seed
from audit.threads import one_thread


@dataclass(frozen=True)
class SeparatingFeature(ReportMixin):
    """Drop in the domain classifier's held-out AUC when the feature is permuted."""

    feature: str
    importance: float
    std: float


@dataclass(frozen=True)
class DomainClassifier(ReportMixin):
    """A classifier trained to tell current rows from reference rows (AUC 0.5 = indistinguishable)."""

    auc: Estimate  # on n_reference + n_current out-of-fold scores
    model: str
    n_reference: int
    n_current: int
    folds: int
    importance_rows: int
    importance_repeats: int
    features: tuple[SeparatingFeature, ...]  # every feature, most separating first
    separating: tuple[str, ...]  # drop the AUC by >= min_importance; empty when the interval includes 0.5
    min_importance: float


def delong_ci(y: np.ndarray, score: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """ROC AUC with a DeLong confidence interval (Sun & Xu's fast midrank form).

    Hand-written: scikit-learn and scipy offer no AUC interval, and the bootstrap
    would cost hundreds of AUCs on ~100,000 scores where DeLong needs three rankings.
    """
    pos, neg = score[y == 1], score[y == 0]
    m, n = len(pos), len(neg)
    if m < 2 or n < 2:
        return float("nan"), float("nan"), float("nan")
    tx, ty = stats.rankdata(pos), stats.rankdata(neg)
    tz = stats.rankdata(np.r_[pos, neg])
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n  # per positive: share of negatives it outranks
    v01 = 1 - (tz[m:] - ty) / m  # per negative: share of positives that outrank it
    se = np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    z = stats.norm.ppf(0.5 + confidence / 2)
    return float(auc), float(max(auc - z * se, 0.0)), float(min(auc + z * se, 1.0))


def _encode(frames: list[pd.DataFrame], numeric: tuple[str, ...], categorical: tuple[str, ...]) -> np.ndarray:
    """One float matrix for HistGradientBoosting: numeric values, then category codes (NaN = missing).

    Codes are shared across both sides and ranked by frequency; categories past the
    254 most frequent share one code because the model's native categorical
    support takes at most 255 categories.
    """
    both = pd.concat([f[list(numeric) + list(categorical)] for f in frames], ignore_index=True)
    X = np.empty((len(both), len(numeric) + len(categorical)))
    for j, c in enumerate(numeric):
        X[:, j] = pd.to_numeric(both[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    for j, c in enumerate(categorical, start=len(numeric)):
        codes, uniq = pd.factorize(both[c], use_na_sentinel=True)
        if len(uniq) > 254:
            rank = np.empty(len(uniq), dtype=np.int64)
            rank[np.argsort(-np.bincount(codes[codes >= 0], minlength=len(uniq)), kind="stable")] = np.arange(len(uniq))
            codes = np.where(codes >= 0, np.minimum(rank[np.maximum(codes, 0)], 254), -1)
        X[:, j] = np.where(codes >= 0, codes, np.nan)
    return X


def domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    sample: int,
    folds: int,
    max_iter: int,
    importance_rows: int,
    importance_repeats: int,
    min_importance: float,
    confidence: float,
    seed: int,
) -> DomainClassifier | None:
    """Cross-validated AUC of reference-vs-current classification, its DeLong interval
    and the permutation importance of every feature. None when a side is too small."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import get_scorer

    from audit.models.permutation import permutation_importances
    from sklearn.model_selection import StratifiedKFold
    
    rng = np.random.default_rng(seed)
    k_ref, k_cur = min(len(reference), sample), min(len(current), sample)
    if min(k_ref, k_cur) < 2 * folds or min(k_ref, k_cur) < 10:
        return None
    # Up to ``sample`` rows per side without replacement; AUC does not depend on the
    # share of each side, so unequal sides need no rebalancing.
    ir = np.sort(rng.choice(len(reference), size=k_ref, replace=False))
    ic = np.sort(rng.choice(len(current), size=k_cur, replace=False))
    X = _encode([reference.iloc[ir], current.iloc[ic]], numeric, categorical)
    y = np.r_[np.zeros(k_ref, dtype=np.int64), np.ones(k_cur, dtype=np.int64)]
    is_cat = np.r_[np.zeros(len(numeric), dtype=bool), np.ones(len(categorical), dtype=bool)]
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y))
    # The importance rows are shared out between the folds, so both threads do the same
    # work and the importances average over every fold's model, not one model's quirks.
    per_fold = [min(len(te), max(importance_rows // folds, 1)) for _, te in splits]

    def fold(f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tr, te = splits[f]
        # One OpenMP thread per fold and two folds at a time: the same two cores as one
        # multi-threaded fit, without its spin-waiting on busy cores (audit.threads).
        with one_thread("openmp"):
            # A short, fast boosting run: it only has to notice a difference, not model it finely.
            est = HistGradientBoostingClassifier(
                max_iter=max_iter, learning_rate=0.2, early_stopping=True, n_iter_no_change=5,
                categorical_features=is_cat if is_cat.any() else None, random_state=seed,
            ).fit(X[tr], y[tr])
            # scikit-learn's permutation importance, its copies scored in batched calls (audit.models.permutation)
            _, drops = permutation_importances(est, X[te], y[te], get_scorer("roc_auc"), n_repeats=importance_repeats,
                                               random_state=derived_seed(seed, f), max_samples=per_fold[f])
            return te, est.predict_proba(X[te])[:, 1], drops

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(fold, range(folds)))
    oof = np.empty(len(y))
    for te, p, _ in done:
        oof[te] = p
    drops = np.hstack([d[2] for d in done])  # features x (folds * repeats)
    imp, imp_sd = drops.mean(axis=1), drops.std(axis=1)
    auc, lo, hi = delong_ci(y, oof, confidence)
    names = list(numeric) + list(categorical)
    order = np.argsort(-imp, kind="stable")
    feats = tuple(SeparatingFeature(names[i], float(imp[i]), float(imp_sd[i])) for i in order)
    return DomainClassifier(
        auc=Estimate(float(auc), float(lo), float(hi), level=float(confidence), n=len(y), method="DeLong, on out-of-fold scores"),
        model="HistGradientBoostingClassifier", n_reference=k_ref, n_current=k_cur, folds=folds,
        importance_rows=sum(per_fold), importance_repeats=importance_repeats, features=feats,
        # Without a detectable difference, the largest importances are noise, not separation.
        separating=tuple(s.feature for s in feats if s.importance >= min_importance) if lo > 0.5 else (),
        min_importance=min_importance,
    )
