"""Group metrics, vectorised bootstrap disparities, representation and proxies.

Private helpers of :mod:`audit.sections.fairness.section`. Point estimates of the audited model
come from fairlearn's metric functions (:mod:`audit.sections.fairness.tables`, checked equal to
``MetricFrame``); the bootstrap re-computes the same
group metrics from weighted group sums (one matrix product per block of
resamples) instead of building a MetricFrame per resample, which would take
minutes. ``tests/test_fairness.py`` checks both agree with unit weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import entropy
from scipy.stats import chi2_contingency
from sklearn.metrics import mutual_info_score

from audit.serial import ReportMixin
from audit.sections.fairness.group_sums import group_sums_form
from audit.stats import Estimate, Ties, bootstrap_estimate, bootstrap_weights

INTERSECTION_SEP = " x "
BINARY_GROUP_METRICS = ("base_rate", "selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "roc_auc")
REGRESSION_GROUP_METRICS = ("mae", "mean_prediction", "mean_target")
BINARY_DISPARITIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "predictive_parity_difference",
)
REGRESSION_DISPARITIES = ("mean_prediction_difference", "mean_prediction_ratio", "mae_difference", "mae_ratio")


@dataclass(frozen=True)
class GroupRow(ReportMixin):
    """One group of one sensitive feature (or intersection) on the test split.

    ``adequate`` is False when ``count`` is below the minimum group size: the
    group is reported but its metrics do not enter the verdict.
    """

    group: str
    count: int
    share: float
    adequate: bool
    metrics: Mapping[str, Estimate]  # on the group's ``count`` rows


# --- group labels -----------------------------------------------------------------


def grouping_keys(sensitive: Sequence[str], intersections: bool) -> dict[str, tuple[str, ...]]:
    """Key ("sex", "sex x race") -> the sensitive columns it combines."""
    keys = {s: (s,) for s in sensitive}
    if intersections and len(sensitive) > 1:
        keys[INTERSECTION_SEP.join(sensitive)] = tuple(sensitive)
    return keys


def group_labels(groups: pd.DataFrame, cols: tuple[str, ...]) -> np.ndarray:
    """String group label per row; an intersection joins its parts with ' x '."""
    lab = groups[cols[0]].astype(str)
    for c in cols[1:]:
        lab = lab + INTERSECTION_SEP + groups[c].astype(str)
    return lab.to_numpy(dtype=object)


def encode(labels: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes and the sorted group names (sorted to match MetricFrame's order)."""
    names, codes = np.unique(labels.astype(str), return_inverse=True)
    return codes, tuple(str(n) for n in names)


def _gap(point: np.ndarray, samples: np.ndarray, mask: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Difference (max - min) and ratio (min / max) among ``mask`` groups.

    The two extreme groups are chosen on the point estimate and held fixed across
    resamples: the interval then describes the gap between those two groups and can
    contain 0, whereas a max-minus-min recomputed per resample is never below 0 and
    its interval would exclude 0 even when every group is alike.
    """
    idx = np.flatnonzero(mask & np.isfinite(point))
    if len(idx) < 2:
        nan = np.full(samples.shape[0], np.nan)
        return np.nan, np.nan, nan, nan
    hi, lo = idx[np.argmax(point[idx])], idx[np.argmin(point[idx])]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = point[lo] / point[hi] if point[hi] != 0 else np.nan
        return float(point[hi] - point[lo]), float(ratio), samples[:, hi] - samples[:, lo], samples[:, lo] / samples[:, hi]


def disparity_values(task: str, point: Mapping[str, np.ndarray], samples: Mapping[str, np.ndarray], mask: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """Disparity name -> (point value, bootstrap samples), over the groups in ``mask``."""
    if task != "binary":
        pd_, pr_, pds, prs = _gap(point["mean_prediction"], samples["mean_prediction"], mask)
        md, mr, mds, mrs = _gap(point["mae"], samples["mae"], mask)
        return {"mean_prediction_difference": (pd_, pds), "mean_prediction_ratio": (pr_, prs),
                "mae_difference": (md, mds), "mae_ratio": (mr, mrs)}
    sd, sr, sds, srs = _gap(point["selection_rate"], samples["selection_rate"], mask)
    td, tr_, tds, trs = _gap(point["tpr"], samples["tpr"], mask)
    fd, fr, fds, frs = _gap(point["fpr"], samples["fpr"], mask)
    pd_, _, pds, _ = _gap(point["precision"], samples["precision"], mask)
    # fairlearn's worst case: the larger TPR / FPR gap, the smaller ratio.
    return {
        "demographic_parity_difference": (sd, sds),
        "demographic_parity_ratio": (sr, srs),
        "equalized_odds_difference": (float(np.nanmax([td, fd])) if np.isfinite([td, fd]).any() else np.nan, np.fmax(tds, fds)),
        "equalized_odds_ratio": (float(np.nanmin([tr_, fr])) if np.isfinite([tr_, fr]).any() else np.nan, np.fmin(trs, frs)),
        "equal_opportunity_difference": (td, tds),
        "predictive_parity_difference": (pd_, pds),
    }


class Resampler:
    """Bootstrap weight blocks of the test rows, drawn once and shared by every model.

    Sharing the resamples pairs the comparisons: the mitigated and unmitigated
    models are scored on exactly the same bootstrap test sets.
    """

    def __init__(self, n: int, n_boot: int, seed: int, confidence: float):
        self.n, self.n_boot, self.confidence = n, n_boot, confidence
        # Kept as the smallest unsigned integers that hold the counts, not float64: the blocks live
        # as long as the section, and 200 resamples of 200,000 test rows are 320 MB as float64
        # (40 MB here). Each block is turned back into float64 when it is used.
        blocks = bootstrap_weights(n, n_boot, np.random.default_rng(seed)) if n_boot else ()
        self.blocks = [W.astype(np.min_scalar_type(int(W.max()))) for W in blocks]

    def stack(self, fn) -> dict[str, np.ndarray]:
        """Apply ``fn(W) -> {name: (b, ...)}`` to every block (float64 counts) and stack the results."""
        parts = [fn(W.astype(np.float64)) for W in self.blocks]
        if not parts:
            probe = fn(np.ones((1, self.n)))
            return {k: np.empty((0, *np.shape(v)[1:])) for k, v in probe.items()}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def estimate(self, value: float, samples: np.ndarray, n: int) -> Estimate:
        """``value`` on ``n`` rows with the percentile interval of its resampled ``samples``."""
        return bootstrap_estimate(value, samples, level=self.confidence, n=n, resamples=self.n_boot)


def keyed_disparities(task: str, y: np.ndarray, pred: np.ndarray, coded: Mapping[str, tuple[np.ndarray, tuple[str, ...]]],
                      adequate: Mapping[str, np.ndarray], rs: Resampler) -> dict[str, dict[str, Estimate]]:
    """Disparities with intervals per grouping key, over adequately sized groups only."""
    out = {}
    ones = np.ones((1, len(y)))
    for key, (codes, names) in coded.items():
        k = len(names)
        sums = group_sums_form(task, y, pred, codes, k)
        point = {m: v[0] for m, v in sums(ones).items()}
        samples = rs.stack(sums)
        vals = disparity_values(task, point, samples, adequate[key])
        out[key] = {m: rs.estimate(v, s, len(y)) for m, (v, s) in vals.items()}
    return out


def overall_metrics(task: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray | None, rs: Resampler) -> dict[str, Estimate]:
    """Accuracy-type metrics of one model on the test split with intervals (paired resamples)."""
    codes = np.zeros(len(y), dtype=int)
    one = np.ones((1, len(y)))
    if task == "binary":
        ties = Ties(y, score) if score is not None else None
        sums = group_sums_form(task, y, pred, codes, 1)

        def fn(W):
            g = sums(W)
            out = {"accuracy": g["accuracy"][:, 0], "balanced_accuracy": (g["tpr"][:, 0] + 1 - g["fpr"][:, 0]) / 2,
                   "selection_rate": g["selection_rate"][:, 0]}
            if score is not None:
                out["roc_auc"] = ties.auc(W)
            return out
    else:
        sums = group_sums_form(task, y, pred, codes, 1)

        def fn(W):
            g = sums(W)
            n = W.sum(axis=1)
            sse = W @ (pred - y) ** 2
            sst = W @ y**2 - (W @ y) ** 2 / n
            with np.errstate(invalid="ignore", divide="ignore"):
                return {"mae": g["mae"][:, 0], "r2": 1 - sse / sst}
    point = fn(one)
    samples = rs.stack(fn)
    return {m: rs.estimate(float(point[m][0]), samples[m], len(y)) for m in point}


# --- data bias ----------------------------------------------------------------------


@dataclass(frozen=True)
class RepresentationRow(ReportMixin):
    """A group's presence in the whole data and the splits, and its label base rate.

    ``base_rate`` is the positive-label rate (binary) or the mean target
    (regression) over the whole data: a gap between groups is historical bias in
    the labels, present before any model.
    """

    group: str
    count: int
    share: float
    share_train: float
    share_test: float
    base_rate: float


def representation(labels_all: np.ndarray, y_all: np.ndarray, labels_train: np.ndarray, labels_test: np.ndarray) -> tuple[RepresentationRow, ...]:
    s_all, s_tr, s_te = (pd.Series(v.astype(str)) for v in (labels_all, labels_train, labels_test))
    share = s_all.value_counts(normalize=True)
    cnt = s_all.value_counts()
    base = pd.Series(y_all.astype(float)).groupby(s_all.to_numpy()).mean()
    sh_tr, sh_te = s_tr.value_counts(normalize=True), s_te.value_counts(normalize=True)
    return tuple(
        RepresentationRow(group=str(g), count=int(cnt[g]), share=float(share[g]), share_train=float(sh_tr.get(g, 0.0)),
                          share_test=float(sh_te.get(g, 0.0)), base_rate=float(base[g]))
        for g in sorted(cnt.index)
    )


@dataclass(frozen=True)
class ProxyRow(ReportMixin):
    """How well one feature alone predicts one sensitive attribute.

    ``cramers_v`` (bias-corrected; 0 = independent, 1 = determined) and ``mutual_information``
    (the share of the attribute's entropy the feature explains) use the feature
    as categories, numeric features in quantile bins; ``auc`` is the
    out-of-sample ROC AUC of predicting the attribute from the feature's
    categories (prevalence-weighted one-vs-rest when the attribute has more than
    two groups; 0.5 = no information).
    """

    sensitive: str
    feature: str
    feature_is_sensitive: bool
    cramers_v: float
    mutual_information: float
    auc: float
    is_proxy: bool


def _categories(s: pd.Series, bins: int) -> np.ndarray:
    """Integer category codes: numeric features in quantile bins, missing values as their own category."""
    if pd.api.types.is_numeric_dtype(s) and s.nunique() > bins:
        binned = pd.qcut(s, q=bins, duplicates="drop", labels=False).to_numpy(dtype=float)
        return np.where(np.isnan(binned), -1, binned).astype(np.int64) + 1
    return pd.factorize(s.astype(object).where(s.notna(), "missing"), use_na_sentinel=False)[0]


def _cramers_v(table: np.ndarray) -> float:
    """Bergsma's (2013) bias-corrected Cramér's V.

    scipy's ``association`` gives the plain V, which grows with the number of
    categories even for independent columns (0.55 for a random 500-level feature on
    1,500 rows) and would flag any high-cardinality feature as a proxy.
    """
    n = table.sum()
    r, k = table.shape
    phi2 = chi2_contingency(table, correction=False)[0] / n
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    rc, kc = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    den = min(kc - 1, rc - 1)
    return float(np.sqrt(phi2 / den)) if den > 0 else 0.0


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of ``score`` for the rows where ``positive`` holds (both kinds present): the
    Mann-Whitney statistic with ties counted half, which is the area roc_auc_score's trapezoids
    add up to (``tests/test_fairness.py`` compares the two).

    Not scikit-learn's ``roc_auc_score`` here: the proxy scan calls it about a hundred times on
    a few hundred rows, and its input validation was three quarters of the scan (0.1 s of German
    credit's, in both the fairness and the robustness processes)."""
    values, inverse = np.unique(score, return_inverse=True)
    pos = np.bincount(inverse, weights=positive.astype(np.float64), minlength=len(values))
    neg = np.bincount(inverse, minlength=len(values)) - pos
    # Each positive ranks above the negatives with lower scores and ties with half of those at its own.
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def _one_feature_auc(cats: np.ndarray, n_cats: int, target: np.ndarray, n_cls: int, half: np.ndarray) -> float:
    """Encode categories by the attribute's group shares on one half, score the other half."""
    fit, ev = half, ~half
    present = np.unique(target[ev])
    if len(present) < 2:
        return np.nan
    table = np.zeros((n_cats, n_cls))
    np.add.at(table, (cats[fit], target[fit]), 1.0)
    prior = table.sum(axis=0) / max(table.sum(), 1.0)
    # One pseudo-row of prior shares per category keeps rare categories from scoring 0 or 1,
    # and gives categories unseen in the fitting half the prior.
    probs = (table + prior) / (table.sum(axis=1, keepdims=True) + 1.0)
    aucs, weights = [], []
    for c in present[:1] if len(present) == 2 and n_cls == 2 else present:
        # (both one-vs-rest AUCs of a two-group attribute are equal: score one)
        yb = target[ev] == c
        aucs.append(binary_auc(yb, probs[cats[ev], c]))
        weights.append(yb.mean())
    return float(np.average(aucs, weights=weights))


def detect_proxies(X: pd.DataFrame, groups: pd.DataFrame, *, sensitive: Sequence[str], metric: str, threshold: float,
                   bins: int, rng: np.random.Generator) -> tuple[ProxyRow, ...]:
    """Score every feature against every sensitive attribute (rows of ``X`` align with ``groups``)."""
    half = np.zeros(len(X), dtype=bool)
    half[rng.permutation(len(X))[: len(X) // 2]] = True
    cats = {f: _categories(X[f], bins) for f in X.columns}
    rows = []
    for s in sensitive:
        target, names = pd.factorize(groups[s].astype(str))
        n_cls = len(names)
        h_s = entropy(np.bincount(target))
        for f in X.columns:
            if f == s:
                continue
            n_cats = int(cats[f].max()) + 1
            table = np.zeros((n_cats, n_cls))
            np.add.at(table, (cats[f], target), 1.0)
            table = table[table.sum(axis=1) > 0]
            if min(table.shape) < 2:
                v = mi = 0.0
            else:
                v = _cramers_v(table)
                mi = float(mutual_info_score(None, None, contingency=table) / h_s) if h_s > 0 else 0.0
            auc = _one_feature_auc(cats[f], n_cats, target, n_cls, half)
            score = {"cramers_v": v, "mutual_information": mi, "auc": auc}[metric]
            rows.append(ProxyRow(sensitive=s, feature=f, feature_is_sensitive=f in sensitive, cramers_v=v,
                                 mutual_information=mi, auc=auc, is_proxy=bool(np.isfinite(score) and score >= threshold)))
    return tuple(rows)
