"""Error analysis without declared groups: the cohorts where the model errs most.

Two views, as in Microsoft's Responsible-AI error analysis:

- a shallow decision tree fitted to the error indicator (a wrong 0/1 prediction, or the
  absolute error for regression). Unlike RAI, the tree is fitted on the *validation*
  split and its leaves are scored on the *test* split, so a cohort's error rate and
  interval are not inflated by the tree having chosen it on the same rows;
- k-means clusters of the test rows (unsupervised: the errors play no part in forming
  them), each described by its most distinctive traits.

Every cohort states its size, error, a confidence interval (Wilson for a rate, Student
t for a mean absolute error) and whether that interval lies above, below or around the
overall error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from audit.models.baselines import TrainedModels
from audit.serial import ReportMixin
from audit.stats import Estimate
from audit.sections.explanations.surrogate import ReadableEncoder, leaf_conditions

HIGHER, LOWER, SIMILAR = "higher", "lower", "similar"


@dataclass(frozen=True)
class Cohort(ReportMixin):
    """A set of test rows and the model's error on them.

    ``method`` is ``tree`` (a leaf of the error tree) or ``kmeans`` (a cluster);
    ``conditions`` are the leaf's rules or the cluster's distinctive traits;
    ``versus_overall`` says whether the interval lies above (``higher``), below
    (``lower``) or around (``similar``) the overall error.
    """

    method: str
    name: str
    description: str
    conditions: tuple[str, ...]
    size: int
    error: Estimate
    versus_overall: str


@dataclass(frozen=True)
class ErrorAnalysis(ReportMixin):
    """Cohorts of the test split ranked by error (worst first)."""

    error_metric: str  # "error_rate" | "mean_absolute_error"
    n_test: int
    overall: Estimate
    tree_fit_split: str
    n_tree_fit: int
    tree_max_depth: int
    min_cohort_size: int
    tree_cohorts: tuple[Cohort, ...]
    n_clusters: int
    cluster_cohorts: tuple[Cohort, ...]
    n_cluster_fit: int = 0  # test rows k-means was fitted on (a seeded sample when larger); every row is labelled

    def worst(self) -> Cohort | None:
        """The cohort (of either method) with the highest error whose interval lies above the overall error."""
        above = [c for c in self.tree_cohorts + self.cluster_cohorts if c.versus_overall == HIGHER]
        return max(above, key=lambda c: c.error.value) if above else None


def _interval(err: np.ndarray, binary: bool, confidence: float) -> Estimate:
    """The error rate with its Wilson interval, or the mean absolute error with its Student t interval."""
    n, nan = len(err), float("nan")
    method = "Wilson" if binary else "Student t"
    if n == 0:
        return Estimate(nan, nan, nan, confidence, 0, method)
    if binary:
        k = int(err.sum())
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        return Estimate(k / n, float(ci.low), float(ci.high), confidence, n, method)
    m = float(err.mean())
    if n < 2:
        return Estimate(m, nan, nan, confidence, n, method)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * err.std(ddof=1) / np.sqrt(n))
    return Estimate(m, m - half, m + half, confidence, n, method)


def _cohort(method: str, name: str, conditions: tuple[str, ...], err: np.ndarray, binary: bool,
            confidence: float, overall: float) -> Cohort:
    e = _interval(err, binary, confidence)
    versus = HIGHER if e.low > overall else LOWER if e.high < overall else SIMILAR
    desc = " AND ".join(conditions) if method == "tree" else "; ".join(conditions)
    return Cohort(method=method, name=name, description=desc or "all rows", conditions=conditions, size=len(err),
                  error=e, versus_overall=versus)


def _cluster_traits(encoder: ReadableEncoder, Z: np.ndarray, member: np.ndarray, k: int = 3) -> tuple[str, ...]:
    """The ``k`` traits that most set a cluster apart, in standard deviations of the whole split."""
    scored: list[tuple[float, str]] = []
    for j, col in enumerate(encoder.columns):
        allv, inv = Z[:, j], Z[member, j]
        sd = allv.std()
        if sd == 0:
            continue
        z = (inv.mean() - allv.mean()) / sd
        if col in encoder.onehot:
            if z <= 0:  # "is less often X" describes a cluster poorly; keep over-represented categories
                continue
            text = f"{col}: {inv.mean():.0%} (all {allv.mean():.0%})"
        else:
            text = f"{col} ≈ {np.median(inv):.4g} (all {np.median(allv):.4g})"
        scored.append((abs(z), text))
    scored.sort(key=lambda t: -t[0])
    return tuple(t for _, t in scored[:k])


def analyse_errors(
    encoder: ReadableEncoder,
    *,
    X_fit: pd.DataFrame,
    err_fit: np.ndarray,
    X_test: pd.DataFrame,
    err_test: np.ndarray,
    binary: bool,
    max_depth: int,
    min_cohort_size: int,
    n_clusters: int,
    confidence: float,
    seed: int,
    cluster_max_rows: int = 0,
) -> ErrorAnalysis:
    """Error-tree and k-means cohorts of the test rows.

    Parameters
    ----------
    encoder : fitted readable encoding of the features.
    X_fit, err_fit : rows and per-row errors the error tree is fitted on (validation split).
    X_test, err_test : rows and per-row errors the cohorts are scored on (0/1 or absolute error).
    binary : errors are 0/1 (a rate) rather than absolute errors (a mean).
    cluster_max_rows : k-means is fitted on at most this many test rows (a seeded sample; 0 = all),
        then labels every test row.
    """
    overall_est = _interval(err_test, binary, confidence)
    overall = overall_est.value
    Zte = encoder.transform(X_test)
    tree_cohorts: list[Cohort] = []
    if max_depth > 0 and len(err_fit) >= 2 * min_cohort_size:
        Zfit = encoder.transform(X_fit)
        tree = (DecisionTreeClassifier if binary else DecisionTreeRegressor)(
            max_depth=max_depth, min_samples_leaf=min_cohort_size, random_state=seed)
        tree.fit(Zfit, err_fit.astype(np.int64) if binary else err_fit)
        leaf_test = tree.apply(Zte)
        for leaf, conds in leaf_conditions(tree, encoder).items():
            m = leaf_test == leaf
            if m.any():
                tree_cohorts.append(_cohort("tree", f"leaf {leaf}", conds, err_test[m], binary, confidence, overall))
    cluster_cohorts: list[Cohort] = []
    k = min(n_clusters, len(Zte) // max(min_cohort_size, 1))
    n_fit = 0
    if k >= 2:
        labels, n_fit = _clusters(encoder, Zte, k, cluster_max_rows, seed)
        for c in range(k):
            m = labels == c
            if m.any():
                cluster_cohorts.append(_cohort("kmeans", f"cluster {c}", _cluster_traits(encoder, Zte, m), err_test[m],
                                               binary, confidence, overall))
    key = lambda c: (-c.error.value, c.name)  # noqa: E731
    return ErrorAnalysis(
        error_metric="error_rate" if binary else "mean_absolute_error", n_test=len(err_test), overall=overall_est,
        tree_fit_split="validation",
        n_tree_fit=len(err_fit), tree_max_depth=max_depth, min_cohort_size=min_cohort_size,
        tree_cohorts=tuple(sorted(tree_cohorts, key=key)), n_clusters=k, cluster_cohorts=tuple(sorted(cluster_cohorts, key=key)),
        n_cluster_fit=n_fit,
    )


def _clusters(encoder: ReadableEncoder, Zte: np.ndarray, k: int, max_rows: int, seed: int) -> tuple[np.ndarray, int]:
    """k-means labels of every test row, and the rows it was fitted on.

    Numbers are standardised (over every test row) so that no unit dominates; one-hot columns stay
    0/1. On a large split k-means is fitted on a seeded sample of ``max_rows`` rows and labels the
    rest by their nearest centre: at 200,000 test rows (the 1M-row audit) the fit on every row
    took 6.4 s of the section's 15, and six centres are as well placed by 50,000 rows. Below the
    cap the fit is on every row, as before.
    """
    num = [j for j, c in enumerate(encoder.columns) if c not in encoder.onehot]
    mean, sd = Zte[:, num].mean(axis=0), Zte[:, num].std(axis=0)

    def standard(Z: np.ndarray) -> np.ndarray:
        Z = Z.copy()
        if num:
            Z[:, num] = (Z[:, num] - mean) / np.where(sd > 0, sd, 1.0)
        return Z

    km = KMeans(n_clusters=k, n_init=3, random_state=seed)
    n = len(Zte)
    if not 0 < max_rows < n:
        return km.fit_predict(standard(Zte)), n
    fit = np.sort(np.random.default_rng([seed, 17]).choice(n, size=max_rows, replace=False))
    km.fit(standard(Zte[fit]))
    # Labelled in blocks: one standardised copy of the whole split is what the cap saves.
    labels = np.concatenate([km.predict(standard(Zte[a:a + max_rows])) for a in range(0, n, max_rows)])
    return labels, max_rows


def error_cohorts(trained: TrainedModels, encoder: ReadableEncoder, pred_test: np.ndarray, *, max_depth: int,
                  min_cohort_size: int, n_clusters: int, confidence: float, seed: int, cluster_max_rows: int = 0) -> ErrorAnalysis:
    """:func:`analyse_errors` on the audited model: the tree fitted on validation errors, cohorts of test errors."""
    clf = trained.task != "regression"
    y_test = trained.y_test
    pred_val = trained.predict(trained.X_val)
    if clf:
        err_val, err_test = (pred_val != trained.y_val).astype(float), (pred_test != y_test).astype(float)
    else:
        err_val, err_test = np.abs(pred_val - trained.y_val), np.abs(pred_test - y_test)
    return analyse_errors(encoder, X_fit=trained.X_val, err_fit=err_val, X_test=trained.X_test, err_test=err_test, binary=clf,
                          max_depth=max_depth, min_cohort_size=min_cohort_size, n_clusters=n_clusters,
                          confidence=confidence, seed=seed, cluster_max_rows=cluster_max_rows)
