"""The audited model's performance on labelled current data against the reference, with intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.models.baselines import TrainedModels
from audit.sections.drift import multiclass as mcd
from audit.sections.drift.prediction import ModelOutputs
from audit.sections.drift.shift import split_frame
from audit.sections.drift.stats import metric_with_ci
from audit.serial import ReportMixin
from audit.stats import Estimate


@dataclass(frozen=True)
class PerformanceShift(ReportMixin):
    """The audited model's primary metric on labelled current data against the reference."""

    metric: str
    reference: Estimate
    current: Estimate
    drop: float  # reference - current
    reference_source: str


def take(frame: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= k:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size=k, replace=False))]


def labels_of(frame: pd.DataFrame, target: str) -> np.ndarray | None:
    """The coded labels (NaN = missing), or None when the frame has no labelled row."""
    if target not in frame.columns:
        return None
    y = frame[target].to_numpy(dtype=np.float64)
    return y if np.isfinite(y).any() else None


def measure_performance(trained: TrainedModels, cur_scored: pd.DataFrame, pred_ref: pd.DataFrame, out: ModelOutputs,
                        opts, rng: np.random.Generator, *, current_given: bool,
                        reference_given: bool, simulated: bool) -> tuple[tuple[PerformanceShift, ...], str]:
    """Performance shifts when the current rows have labels and are not the test split itself; else why not."""
    ds = trained.dataset
    y_cur = labels_of(cur_scored, ds.target)
    if y_cur is None:
        return (), "not measured: the current data has no labels (no target column)"
    if not current_given and not simulated:
        return (), "not measured: the current data is the test split itself (see the performance section)"
    if out.scorer is None:
        return (), f"not measured: {out.note}"
    if reference_given and labels_of(pred_ref, ds.target) is not None:
        y_ref, sc_ref, src = labels_of(pred_ref, ds.target), out.s_ref, "reference data"
    else:
        test = take(split_frame(trained, "test"), opts.score_rows, rng)
        y_ref, sc_ref, src = labels_of(test, ds.target), out.scorer(test), "held-out test split"
    return _shifts(y_ref, sc_ref, y_cur, out.s_cur, src, trained, opts, rng)


def _shifts(y_ref, s_ref, y_cur, s_cur, src: str, trained: TrainedModels, opts,
            rng: np.random.Generator) -> tuple[tuple[PerformanceShift, ...], str]:
    ok_r, ok_c = np.isfinite(y_ref), np.isfinite(y_cur)
    y_ref, s_ref, y_cur, s_cur = y_ref[ok_r], s_ref[ok_r], y_cur[ok_c], s_cur[ok_c]
    if len(y_cur) < 10:
        return (), f"not measured: only {len(y_cur)} labelled current rows (at least 10 needed)"
    # AUC is blind to a shift that moves every score the same way; accuracy at the
    # decision threshold is not, so a binary model is judged on both.
    metrics = ("roc_auc", "accuracy") if trained.task == "binary" else ("accuracy",) if trained.task == "multiclass" else ("r2",)
    kw = dict(threshold=trained.report.decision_threshold, confidence=opts.confidence, n_boot=opts.performance_bootstrap, rng=rng)
    measure = metric_with_ci
    if trained.task == "multiclass":  # scores are predicted class codes
        measure = lambda m, y, s, **_: mcd.accuracy_ci(y, s, opts.confidence)  # noqa: E731
    out = []
    for m in metrics:
        r = measure(m, y_ref, s_ref, **kw)
        c = measure(m, y_cur, s_cur, **kw)
        out.append(PerformanceShift(metric=m, reference=r, current=c, drop=r.value - c.value, reference_source=src))
    return tuple(out), ""


