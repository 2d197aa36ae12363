"""The baselines' cross-validation: which training rows the folds use, the folds, one fold's score.

Split from :mod:`audit.models.baselines` (which runs the folds as tasks beside the final fits).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, StratifiedKFold

from audit.config import ModelOptions

CLASS_FLOOR = 50  # rows a class keeps in the CV sample: 40 per fold's fit at 5 folds


def cv_rows(task: str, opts: ModelOptions, ytr: np.ndarray, seed: int) -> np.ndarray:
    """Training rows the folds use: every row at or below ``cv_max_rows``, else a seeded sample of
    that many, stratified, in which a class keeps at least ``CLASS_FLOOR`` rows (all of
    its rows when it has fewer), so a rare class never falls below what a fold's fit needs."""
    n = len(ytr)
    if not 0 < opts.cv_max_rows < n:
        return np.arange(n)
    rng = np.random.default_rng([seed, 2])
    if task == "regression":
        return np.sort(rng.choice(n, size=opts.cv_max_rows, replace=False))
    picked = []
    for c in np.unique(ytr):
        members = np.flatnonzero(ytr == c)
        k = min(len(members), max(CLASS_FLOOR, int(round(len(members) * opts.cv_max_rows / n))))
        picked.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(picked))


def folds_of(task: str, opts: ModelOptions, ytr: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each fold's (fit rows, scored rows) as row numbers of the training split (the sample of
    :func:`cv_rows`; every row, as ``cross_validate`` would, at or below ``cv_max_rows``)."""
    if not opts.cv_folds or opts.cv_folds < 2:
        return []
    clf = task != "regression"
    rows = cv_rows(task, opts, ytr, seed)
    cv = StratifiedKFold(opts.cv_folds, shuffle=True, random_state=seed) if clf else KFold(opts.cv_folds, shuffle=True, random_state=seed)
    # The folds depend on the labels and row count only.
    return [(rows[a], rows[b]) for a, b in cv.split(np.zeros((len(rows), 1)), ytr[rows])]


def cv_fold(est, Ztr: np.ndarray, ytr: np.ndarray, fold: tuple[np.ndarray, np.ndarray], scoring: str) -> float:
    """What ``cross_validate`` computes for one fold: a clone fitted on its training rows, scored on the rest."""
    tr, te = fold
    model = clone(est).fit(Ztr[tr], ytr[tr])
    return float(get_scorer(scoring)(model, Ztr[te], ytr[te]))


__all__ = ["CLASS_FLOOR", "cv_fold", "cv_rows", "folds_of"]
