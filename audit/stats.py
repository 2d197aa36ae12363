"""Estimates with intervals, and the weighted bootstrap every section shares.

:class:`Estimate` is the one way a report states "a value with its interval":
the point value, the interval's ends, its confidence level, the rows it was
computed on and how the interval was made. An undefined interval has NaN ends
(``null`` in JSON).

The bootstrap uses resampling *weights* (how often each row is drawn) rather
than resampled copies, so weighted, vectorised forms of a metric score a whole
block of resamples at once; ``tests/test_performance.py`` checks the weighted
forms equal scikit-learn's with unit weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from audit.serial import ReportMixin


@dataclass(frozen=True)
class Estimate(ReportMixin):
    """A point estimate with its confidence interval.

    ``low`` / ``high`` are NaN when the interval is undefined (no resamples, too
    few rows, or an undefined value); ``level`` is the confidence level (0.95);
    ``n`` the rows the value was computed on; ``method`` how the interval was made
    ("percentile bootstrap (200 resamples)", "DeLong", "Wilson", "Student t").
    """

    value: float
    low: float
    high: float
    level: float
    n: int
    method: str = ""

    def text(self, spec: str = ".3f") -> str:
        """``value [low, high]`` in the given format."""
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def derived_seed(seed: int, offset: int) -> int:
    """``seed + offset`` wrapped into 0 .. 2**32 - 1, the range scikit-learn's ``random_state``
    takes: the configured seed may itself be 2**32 - 1, and ``seed + 1`` then raised mid-audit."""
    return (int(seed) + int(offset)) % 2**32


def bootstrap_method(resamples: int) -> str:
    return f"percentile bootstrap ({resamples} resamples)"


# A block of count vectors holds at most this many cells (16 MB as float64), whatever the rows:
# at 200,000 test rows a block of 100 resamples was 160 MB, and drawing it took three such
# arrays at once (1.2 GB peak in the performance bootstrap). The blocks' content does not
# depend on their size (the same draws in the same order; tests/test_stats.py checks it).
BLOCK_CELLS = 2_000_000


def block_size(n: int, chunk: int = 100) -> int:
    """Resamples per block: ``chunk``, fewer when ``n`` rows would make a block exceed BLOCK_CELLS."""
    return max(1, min(chunk, BLOCK_CELLS // max(n, 1)))


def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator, *, chunk: int | None = None) -> Iterator[np.ndarray]:
    """Yield blocks of bootstrap count vectors, shape (block, n): row b counts how often each row is drawn.

    ``chunk`` (default: :func:`block_size`) is the resamples per block."""
    chunk = block_size(n) if chunk is None else max(1, chunk)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        idx += (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


def percentile_interval(samples: np.ndarray | Iterable[np.ndarray], level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite samples; NaN ends when there are none.

    ``samples`` is one array or blocks of them (as :func:`bootstrap_weights` yields).
    """
    if not isinstance(samples, np.ndarray):
        parts = list(samples)
        samples = np.concatenate(parts) if parts else np.array([])
    s = samples[np.isfinite(samples)]
    if len(s) == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo, hi = np.quantile(s, [a, 1 - a])
    return float(lo), float(hi)


def bootstrap_estimate(value: float, samples: np.ndarray | Iterable[np.ndarray], *, level: float, n: int, resamples: int) -> Estimate:
    """``value`` with the percentile interval of its bootstrap ``samples`` (none around an undefined value)."""
    value = float(value)
    lo, hi = percentile_interval(samples, level) if np.isfinite(value) else (float("nan"), float("nan"))
    return Estimate(value=value, low=lo, high=hi, level=float(level), n=int(n), method=bootstrap_method(resamples))


class Ties:
    """The tie groups of one score vector, split by label: computed once, used for every block.

    Row i of the (2k x n) indicator ``M`` is tie group i's positives, row k + i its negatives
    (groups in ascending score). One sparse product with a block of weights gives every
    resample's weighted positives and negatives per distinct score: 2.4x faster than reordering
    every resample and ``np.add.reduceat``. Built once per bootstrap, not once per block: with
    small blocks (:data:`BLOCK_CELLS`) the sort would otherwise be repeated for each.
    """

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        import scipy.sparse as sp  # here, not at the top: readers of a stored report import this module too

        order = np.argsort(score, kind="mergesort")
        s = score[order]
        new = np.r_[True, s[1:] != s[:-1]]
        group = np.empty(len(score), dtype=np.int64)
        group[order] = np.cumsum(new) - 1
        self.k = k = int(new.sum())
        self.M = sp.csr_matrix((np.ones(len(score)), (np.where(y == 1, group, group + k), np.arange(len(score)))),
                               shape=(2 * k, len(score)))

    def sums(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted positives and negatives per distinct score, ascending, one row per weight row: (B, k) each.

        Resample-major: the cumulative sums that follow run along contiguous rows, 3x faster
        than down the columns of the sparse product's (k, B) result, which is transposed once."""
        G = np.ascontiguousarray((self.M @ np.ascontiguousarray(np.asarray(W, dtype=np.float64).T)).T)
        return G[:, : self.k], G[:, self.k :]

    def auc(self, W: np.ndarray) -> np.ndarray:
        return _auc_from_sums(*self.sums(W))

    def auc_and_ap(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both, from one set of tie sums (average precision walks the same groups in reverse)."""
        sums = self.sums(W)
        return _auc_from_sums(*sums), _ap_from_sums(*sums)


def _auc_from_sums(gpos: np.ndarray, gneg: np.ndarray) -> np.ndarray:
    below = np.cumsum(gneg, axis=1) - gneg
    num = np.sum(gpos * (below + 0.5 * gneg), axis=1)
    den = gpos.sum(axis=1) * gneg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _ap_from_sums(gpos: np.ndarray, gneg: np.ndarray) -> np.ndarray:
    gpos, gneg = gpos[:, ::-1], gneg[:, ::-1]  # highest score first
    tp, fp = np.cumsum(gpos, axis=1), np.cumsum(gneg, axis=1)
    P = tp[:, -1] if tp.shape[1] else np.zeros(gpos.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        return np.where(P > 0, np.sum(gpos * prec, axis=1) / P, np.nan)


def weighted_auc(y: np.ndarray, score: np.ndarray, W: np.ndarray) -> np.ndarray:
    """ROC AUC for each weight row of ``W`` (ties count one half), vectorised. Over many blocks, build :class:`Ties` once."""
    return Ties(y, score).auc(W)


def weighted_average_precision(y: np.ndarray, score: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's step definition) for each weight row, vectorised."""
    return _ap_from_sums(*Ties(y, score).sums(W))


def weighted_auc_and_ap(y: np.ndarray, score: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both, from one set of tie sums."""
    return Ties(y, score).auc_and_ap(W)


__all__ = ["BLOCK_CELLS", "Estimate", "Ties", "bootstrap_estimate", "block_size", "bootstrap_method", "bootstrap_weights", "derived_seed", "percentile_interval",
           "weighted_auc", "weighted_auc_and_ap", "weighted_average_precision"]
