"""Per-group accuracy and selection rate of one privacy-section model, and fairlearn's gaps.

Does privacy cost fairness? Each model of the sweep (the audited one, and each network
with and without DP) is scored per group on the same test split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.serial import ReportMixin


@dataclass(frozen=True)
class GroupMetrics(ReportMixin):
    """Test-split accuracy by group of one sensitive attribute, and fairlearn's gaps.

    The gaps use only groups with at least ``min_group_size`` test rows; smaller
    groups are listed in ``excluded``. Multiclass: the gaps are the largest one-vs-rest
    gap over the classes and ``selection_rate`` is empty (see ``multiclass.py``).
    """

    attribute: str
    counts: Mapping[str, int]
    accuracy: Mapping[str, float]
    selection_rate: Mapping[str, float]
    demographic_parity_difference: float
    equalized_odds_difference: float
    min_group_size: int
    excluded: tuple[str, ...]


def group_metrics(y: np.ndarray, pred: np.ndarray, groups: pd.DataFrame, min_size: int) -> tuple[GroupMetrics, ...]:
    """Per-group accuracy and selection rate, and fairlearn's demographic parity and
    equalized odds differences over the groups large enough to judge.

    Hand-written with ``np.bincount`` rather than fairlearn's ``MetricFrame`` /
    ``demographic_parity_difference`` / ``equalized_odds_difference``: fairlearn's
    pandas machinery costs ~0.45 s per model on Adult's test split, ~6 s over the
    default sweep (a quarter of the section), for five counts per group. The
    definitions are fairlearn's (max - min of the selection rate between groups; the
    larger of the TPR and FPR gaps) and a test checks the numbers equal fairlearn's.
    """
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    out = []
    for col in groups.columns:
        codes, names = pd.factorize(groups[col].astype(str), sort=True)
        k = len(names)

        def count(w: np.ndarray | None = None) -> np.ndarray:
            return np.bincount(codes, weights=w, minlength=k)

        n, pos = count(), count(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc, sel = count((y == pred).astype(np.float64)) / n, count(pred) / n
            tpr, fpr = count(y * pred) / pos, count((1 - y) * pred) / (n - pos)
        keep = n >= min_size
        dpd = eod = math.nan
        if keep.sum() >= 2:
            def gap(r: np.ndarray) -> float:
                r = r[keep][np.isfinite(r[keep])]
                return float(r.max() - r.min()) if len(r) else math.nan

            dpd, eod = gap(sel), float(np.nanmax([gap(tpr), gap(fpr)]))
        names = [str(v) for v in names]
        out.append(GroupMetrics(
            attribute=str(col), counts=dict(zip(names, n.astype(int).tolist())), accuracy=dict(zip(names, acc.tolist())),
            selection_rate=dict(zip(names, sel.tolist())), demographic_parity_difference=dpd,
            equalized_odds_difference=eod, min_group_size=int(min_size),
            excluded=tuple(v for v, kept in zip(names, keep) if not kept),
        ))
    return tuple(out)
