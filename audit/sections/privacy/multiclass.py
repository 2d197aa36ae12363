"""Privacy section helpers for a multiclass model: accuracy, ROC AUC and group gaps.

The privacy section compares the audited model with DP networks by accuracy, ROC AUC
and group gaps. With k classes: accuracy is the share of right predicted classes, ROC
AUC the one-vs-rest macro mean, and the demographic parity / equalized odds differences
the largest one-vs-rest gap over the classes (the worst class, as in the fairness
section); group accuracy is the multiclass accuracy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from audit.models.baselines import metric_value
from audit.sections.privacy.groups import GroupMetrics, group_metrics


def multiclass_evaluation(y: np.ndarray, P: np.ndarray, groups: pd.DataFrame, min_size: int):
    """(accuracy, macro one-vs-rest ROC AUC, group metrics) of class probabilities ``P``."""
    pred = P.argmax(axis=1)
    per_class = [group_metrics((y == c).astype(float), (pred == c).astype(float), groups, min_size) for c in range(P.shape[1])]
    out = []
    for j, col in enumerate(groups.columns):
        codes, names = pd.factorize(groups[col].astype(str), sort=True)
        n = np.bincount(codes, minlength=len(names))
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.bincount(codes, weights=(pred == y).astype(float), minlength=len(names)) / n

        def worst(field: str) -> float:
            v = [getattr(g[j], field) for g in per_class if np.isfinite(getattr(g[j], field))]
            return float(max(v)) if v else math.nan

        first = per_class[0][j]
        out.append(GroupMetrics(
            attribute=str(col), counts=first.counts, accuracy=dict(zip((str(v) for v in names), acc.tolist())),
            selection_rate={}, demographic_parity_difference=worst("demographic_parity_difference"),
            equalized_odds_difference=worst("equalized_odds_difference"), min_group_size=int(min_size), excluded=first.excluded,
        ))
    return metric_value("accuracy", y, P), metric_value("roc_auc", y, P), tuple(out)
