"""Per-feature drift statistics and the domain classifier, fast enough for 1M x 1M rows.

A numeric column is summarised once per side as its sorted distinct values with
their counts (a weighted empirical distribution); the KS statistic, the quantiles,
the PSI bins and the Wasserstein distance are all read from that summary, so each
column is sorted (or hashed) once instead of once per statistic. Columns with heavy
ties (ages, counts, codes) are summarised by hashing, which is ~5x faster than
sorting a million values. Categorical columns are reduced to category counts
(pandas categorical codes when the column has that dtype).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from audit.sections.drift.domain import delong_ci
from audit.serial import ReportMixin
from audit.models.baselines import metric_value
from audit.stats import Estimate, bootstrap_estimate, bootstrap_weights

MISSING = "(missing)"
# Shares are floored before the PSI's logarithm: an empty bin would make it infinite.
_PSI_FLOOR = 1e-4
# Below this many distinct values (both sides together) the Wasserstein distance is exact.
_EXACT_WASSERSTEIN = 200_000
_KSTWO_MAX_N = 10_000
# Categories shown in a report histogram; the tests always use every category.
_MAX_SHOWN = 30


@dataclass(frozen=True)
class FeatureDrift(ReportMixin):
    """Drift of one column between the reference and the current data.

    ``drifted`` is true only when the Benjamini-Hochberg adjusted p-value is below
    alpha AND ``effect_size`` (normalised Wasserstein for numeric columns,
    Jensen-Shannon distance for categorical ones) reaches ``effect_threshold``.
    Numeric tests use the non-missing values; the histograms (PSI, Jensen-Shannon)
    carry a missing bin when either side has missing values.
    """

    feature: str
    kind: str  # "numeric" | "categorical"
    test: str  # "ks" | "chi2"
    statistic: float
    p_value: float
    p_value_adjusted: float
    effect_metric: str  # "wasserstein_norm" | "jensen_shannon"
    effect_size: float
    effect_threshold: float
    drifted: bool
    psi: float
    wasserstein_norm: float  # W1 / reference sd; NaN for categorical columns
    wasserstein_quantiles: int  # 0 = exact on the distinct values, else the quantiles per side
    jensen_shannon: float  # base 2, in [0, 1]
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    reference_mean: float
    current_mean: float
    bins: tuple[str, ...]
    reference_share: tuple[float, ...]
    current_share: tuple[float, ...]


@dataclass(frozen=True)
class NumericSummary:
    """A column's finite values as sorted distinct values with counts."""

    values: np.ndarray
    counts: np.ndarray
    missing: int

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def cdf(self, x: np.ndarray) -> np.ndarray:
        cum = np.cumsum(self.counts)
        i = np.searchsorted(self.values, x, side="right")
        return np.where(i > 0, cum[np.maximum(i - 1, 0)], 0) / max(self.n, 1)

    def quantiles(self, probs: np.ndarray) -> np.ndarray:
        """Inverted-CDF quantiles (always observed values)."""
        cum = np.cumsum(self.counts)
        i = np.searchsorted(cum, probs * self.n, side="left")
        return self.values[np.minimum(i, len(self.values) - 1)]

    def moments(self) -> tuple[float, float]:
        if self.n == 0:
            return float("nan"), float("nan")
        # Elementwise sums, not ``@``: a BLAS dot wakes OpenBLAS's thread pool, which
        # costs ~50 ms per call when the cores are busy.
        w = self.counts / self.n
        mean = float(np.sum(w * self.values))
        return mean, float(np.sqrt(np.sum(w * (self.values - mean) ** 2)))


def summarise_numeric(x: pd.Series | np.ndarray) -> NumericSummary:
    """Sorted distinct finite values and their counts; NaN and +-inf count as missing."""
    # to_numpy with na_value: nullable columns (Int64, Float64) hold pd.NA, not NaN.
    a = x.to_numpy(dtype=np.float64, na_value=np.nan) if isinstance(x, pd.Series) else np.asarray(x, dtype=np.float64)
    ok = np.isfinite(a)
    missing = int(len(a) - ok.sum())
    if missing:
        a = a[ok]
    n = len(a)
    if n == 0:
        return NumericSummary(np.empty(0), np.empty(0, dtype=np.int64), missing)
    probe = a[:: max(1, n // 10_000)]
    if len(np.unique(probe)) * 4 < len(probe):
        # Heavy ties: hashing costs O(n) against the sort's O(n log n).
        vc = pd.Series(a, copy=False).value_counts(sort=False)
        v = vc.index.to_numpy(dtype=np.float64)
        order = np.argsort(v)
        return NumericSummary(v[order], vc.to_numpy(dtype=np.int64)[order], missing)
    s = np.sort(a)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return NumericSummary(s[starts], np.diff(np.r_[starts, n]).astype(np.int64), missing)


def count_categories(s: pd.Series) -> pd.Series:
    """Counts per category label (str), missing values under ``MISSING``."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        # Codes + bincount: no hashing of strings on the hot path.
        codes = np.asarray(s.cat.codes, dtype=np.int64)
        cnt = np.bincount(codes + 1, minlength=len(s.cat.categories) + 1)
        labels = [MISSING] + [str(c) for c in s.cat.categories]
        out = pd.Series(cnt, index=labels)
    else:
        out = s.value_counts(dropna=False)
        out.index = [MISSING if pd.isna(k) else str(k) for k in out.index]
    out = out[out > 0]
    return out.groupby(level=0, sort=False).sum().astype(np.int64)


def _psi(r: np.ndarray, c: np.ndarray) -> float:
    r, c = np.maximum(r, _PSI_FLOOR), np.maximum(c, _PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def _js(r: np.ndarray, c: np.ndarray) -> float:
    if r.sum() <= 0 or c.sum() <= 0:
        return float("nan")
    return float(jensenshannon(r, c, base=2))


def _shares(counts: np.ndarray) -> np.ndarray:
    t = counts.sum()
    return counts / t if t > 0 else np.zeros(len(counts))


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def numeric_drift(name: str, ref: NumericSummary, cur: NumericSummary, *, bins: int, quantiles: int, threshold: float) -> FeatureDrift:
    """KS test (asymptotic p-value), PSI and Jensen-Shannon on reference-quantile bins,
    normalised Wasserstein. ``p_value_adjusted`` and ``drifted`` are set by the caller."""
    nr, nc = ref.n, cur.n
    d = p = w = float("nan")
    wq = 0
    if nr and nc:
        # The sup of |F_ref - F_cur| is reached at an observed value of either side.
        d = float(max(np.abs(ref.cdf(ref.values) - cur.cdf(ref.values)).max(), np.abs(ref.cdf(cur.values) - cur.cdf(cur.values)).max()))
        p = _ks_pvalue(d, nr, nc)
        if len(ref.values) + len(cur.values) <= _EXACT_WASSERSTEIN:
            w = stats.wasserstein_distance(ref.values, cur.values, ref.counts, cur.counts)
        else:
            wq = quantiles
            probs = (np.arange(quantiles) + 0.5) / quantiles
            w = stats.wasserstein_distance(ref.quantiles(probs), cur.quantiles(probs))
        ref_sd, cur_sd = ref.moments()[1], cur.moments()[1]
        # The reference sd puts the distance in "standard deviations"; a constant
        # reference falls back to the current sd, then to raw units.
        scale = ref_sd if ref_sd > 0 else cur_sd if cur_sd > 0 else 1.0
        w = float(w / scale)
    edges = np.unique(ref.quantiles(np.arange(1, bins) / bins)) if nr else np.empty(0)
    rc = _bin_counts(ref, edges)
    cc = _bin_counts(cur, edges)
    labels = _bin_labels(edges)
    if ref.missing or cur.missing:
        rc, cc, labels = np.r_[rc, ref.missing], np.r_[cc, cur.missing], labels + [MISSING]
    rs, cs = _shares(rc), _shares(cc)
    return FeatureDrift(
        feature=name, kind="numeric", test="ks", statistic=d, p_value=p, p_value_adjusted=float("nan"),
        effect_metric="wasserstein_norm", effect_size=w, effect_threshold=threshold, drifted=False,
        psi=_psi(rs, cs), wasserstein_norm=w, wasserstein_quantiles=wq, jensen_shannon=_js(rs, cs),
        n_reference=nr, n_current=nc,
        missing_reference=ref.missing / max(nr + ref.missing, 1), missing_current=cur.missing / max(nc + cur.missing, 1),
        reference_mean=ref.moments()[0], current_mean=cur.moments()[0],
        bins=tuple(labels), reference_share=tuple(map(float, rs)), current_share=tuple(map(float, cs)),
    )


def _ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided asymptotic KS p-value.

    Hand-written around scipy's distributions rather than calling
    scipy.stats.ks_2samp, so each column is sorted once for every statistic. Up to
    an effective size of 10,000 it is exactly ks_2samp(method="asymp") (kstwo at
    n1*n2/(n1+n2)); above, kstwo.sf takes seconds per call while its limit,
    Kolmogorov's distribution (kstwobign), agrees to within 1% (both tested).
    """
    en = n1 * n2 / (n1 + n2)
    if en <= _KSTWO_MAX_N:
        return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))
    return float(np.clip(stats.kstwobign.sf(d * np.sqrt(en)), 0, 1))


def _bin_counts(s: NumericSummary, edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    if s.n == 0:
        return np.zeros(len(edges) + 1, dtype=np.int64)
    cum = np.r_[0, np.cumsum(s.counts)]
    at = cum[np.searchsorted(s.values, edges, side="right")]
    return np.diff(np.r_[0, at, s.n])


def _bin_labels(edges: np.ndarray) -> list[str]:
    if len(edges) == 0:
        return ["all values"]
    out = [f"<= {_fmt(edges[0])}"]
    out += [f"({_fmt(a)}, {_fmt(b)}]" for a, b in zip(edges[:-1], edges[1:])]
    return out + [f"> {_fmt(edges[-1])}"]


def categorical_drift(name: str, ref: pd.Series, cur: pd.Series, *, threshold: float) -> FeatureDrift:
    """Chi-square test of homogeneity on the category counts, PSI and Jensen-Shannon.

    ``ref`` / ``cur`` are counts from :func:`count_categories`; categories seen on
    one side only count as zero on the other.
    """
    # Ties in count are broken by label, so the order does not depend on how the counts were
    # gathered (one frame, or partitions merged on a cluster).
    cats = list(ref.sort_index().sort_values(ascending=False, kind="stable").index)
    cats += [c for c in cur.sort_index().sort_values(ascending=False, kind="stable").index if c not in ref.index]
    rc = ref.reindex(cats, fill_value=0).to_numpy(dtype=np.float64)
    cc = cur.reindex(cats, fill_value=0).to_numpy(dtype=np.float64)
    nr, nc = int(rc.sum()), int(cc.sum())
    stat = p = float("nan")
    if nr and nc:
        if len(cats) > 1:
            res = stats.chi2_contingency(np.vstack([rc, cc]))
            stat, p = float(res.statistic), float(res.pvalue)
        else:
            stat, p = 0.0, 1.0
    rs, cs = _shares(rc), _shares(cc)
    js = _js(rs, cs)
    shown, rsh, csh = cats, rs, cs
    if len(cats) > _MAX_SHOWN:
        k = _MAX_SHOWN - 1
        shown = cats[:k] + [f"(other {len(cats) - k} categories)"]
        rsh, csh = np.r_[rs[:k], rs[k:].sum()], np.r_[cs[:k], cs[k:].sum()]
    miss_r = float(ref.get(MISSING, 0)) / max(nr, 1)
    miss_c = float(cur.get(MISSING, 0)) / max(nc, 1)
    return FeatureDrift(
        feature=name, kind="categorical", test="chi2", statistic=stat, p_value=p, p_value_adjusted=float("nan"),
        effect_metric="jensen_shannon", effect_size=js, effect_threshold=threshold, drifted=False,
        psi=_psi(rs, cs), wasserstein_norm=float("nan"), wasserstein_quantiles=0, jensen_shannon=js,
        n_reference=nr, n_current=nc, missing_reference=miss_r, missing_current=miss_c,
        reference_mean=float("nan"), current_mean=float("nan"),
        bins=tuple(shown), reference_share=tuple(map(float, rsh)), current_share=tuple(map(float, csh)),
    )


def decide_drift(f: FeatureDrift, p_adjusted: float, alpha: float) -> FeatureDrift:
    """``f`` with its adjusted p-value, drifted when that is below alpha and the effect reaches its threshold."""
    drifted = bool(np.isfinite(p_adjusted) and p_adjusted < alpha and np.isfinite(f.effect_size) and f.effect_size >= f.effect_threshold)
    return replace(f, p_value_adjusted=float(p_adjusted), drifted=drifted)


def single_test(f: FeatureDrift, alpha: float) -> FeatureDrift:
    """A lone test needs no multiplicity correction: the adjusted p-value is the p-value."""
    return decide_drift(f, f.p_value, alpha)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values; NaN (untestable) entries stay NaN and do not count as tests."""
    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out



def metric_with_ci(metric: str, y: np.ndarray, s: np.ndarray, *, threshold: float, confidence: float, n_boot: int,
                   rng: np.random.Generator) -> Estimate:
    """A model metric on labelled rows with its interval.

    ``roc_auc`` uses DeLong, ``accuracy`` the Wilson score interval, ``r2`` a bootstrap
    of ``n_boot`` resamples (none when 0).
    """
    n, level = len(y), float(confidence)
    if metric == "roc_auc":
        if len(np.unique(y)) < 2:
            return Estimate(float("nan"), float("nan"), float("nan"), level, n, "undefined: one class")
        value, lo, hi = delong_ci(y.astype(np.int64), s, confidence)
        return Estimate(float(value), float(lo), float(hi), level, n, "DeLong")
    if metric == "accuracy":
        k = int(np.sum((s >= threshold) == (y == 1)))
        ci = stats.binomtest(k, n).proportion_ci(confidence, method="wilson")
        return Estimate(k / n, float(ci.low), float(ci.high), level, n, "Wilson")
    value = metric_value(metric, y, s)
    if n_boot == 0:
        return Estimate(float(value), float("nan"), float("nan"), level, n, "none")
    boots = []
    for W in bootstrap_weights(n, n_boot, rng):
        sst = W @ y**2 - (W @ y) ** 2 / W.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            boots.append(1 - (W @ (s - y) ** 2) / sst)
    return bootstrap_estimate(value, boots, level=level, n=n, resamples=n_boot)
