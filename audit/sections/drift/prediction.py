"""The audited model's outputs in the drift audit: prediction drift, and the scores performance uses.

A callable model (a baseline, the user's ONNX or skops file) scores any rows, so its
scores on the reference and the current rows are compared. A predictions column
cannot score new rows: prediction drift then compares the column on the reference
rows with the current table's copy of it, on the column's own scale, and is null
with the reason when a side lacks the column or when a simulated shift built the
current rows (never a baseline's scores passed off as the user's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.models.baselines import TrainedModels
from audit.sections.drift import multiclass as mcd
from audit.sections.drift.stats import FeatureDrift, numeric_drift, single_test, summarise_numeric

Scorer = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True, eq=False)
class ModelOutputs:
    """Prediction drift (or why it is null) and the scores on the audit's scale, for performance."""

    prediction: FeatureDrift | None
    note: str  # why ``prediction`` is None; "" when it was measured
    reference_source: str
    s_ref: np.ndarray | None
    s_cur: np.ndarray | None
    scorer: Scorer | None  # a frame (features and any predictions column) -> scores; None: cannot score


def predictions_column(trained: TrainedModels):
    """The audited predictions column (:class:`audit.models.user.PredictionsColumn`), or None for a callable model."""
    user = getattr(trained, "user", None)
    return user if user is not None and not user.callable else None


def model_outputs(trained: TrainedModels, pred_ref: pd.DataFrame, cur: pd.DataFrame, opts, *, simulated: bool,
                  sides: tuple[str, str]) -> ModelOutputs:
    """Prediction drift between ``pred_ref`` and ``cur`` (``sides`` names them) and the scores of both."""
    column = predictions_column(trained)
    if column is not None:
        return _column_outputs(column, pred_ref, cur, opts, simulated=simulated, sides=sides)
    features = list(trained.dataset.features)
    multi = trained.task == "multiclass"
    # Multiclass: the predicted class is the output users act on; its distribution is compared.
    if multi:
        def scorer(f: pd.DataFrame) -> np.ndarray:
            return trained.predict(f[features]).astype(np.float64)
    else:
        def scorer(f: pd.DataFrame) -> np.ndarray:
            return trained.score(f[features])
    s_ref, s_cur = scorer(pred_ref), scorer(cur)
    if multi:
        raw = mcd.class_drift("predicted class", s_ref, s_cur, trained.classes, opts.jensen_shannon_threshold)
    else:
        raw = numeric_drift("model score", summarise_numeric(s_ref), summarise_numeric(s_cur), bins=opts.psi_bins,
                            quantiles=opts.quantiles, threshold=opts.wasserstein_threshold)
    return ModelOutputs(single_test(raw, opts.alpha), "", sides[0], s_ref, s_cur, scorer)


def _column_outputs(column, pred_ref: pd.DataFrame, cur: pd.DataFrame, opts, *, simulated: bool,
                    sides: tuple[str, str]) -> ModelOutputs:
    col = column.column
    source = f"{sides[0]}, predictions column {col!r} on its own scale"
    if simulated:
        why = ("a simulated shift builds new rows, which a predictions column cannot score; prediction drift and "
               "performance under a simulated shift need a callable model (an ONNX or skops file)")
        return ModelOutputs(None, why, source, None, None, None)
    for frame, side in zip((pred_ref, cur), sides):
        if col not in frame.columns:
            why = (f"the {side} has no column {col!r}, so its predictions are unknown; a predictions column cannot "
                   f"score new rows (add the column to that file, or audit a callable model: an ONNX or skops file)")
            return ModelOutputs(None, why, source, None, None, None)
    r, c = pred_ref[col].to_numpy(dtype=np.float64), cur[col].to_numpy(dtype=np.float64)
    raw = numeric_drift(f"predictions ({col})", summarise_numeric(r), summarise_numeric(c), bins=opts.psi_bins,
                        quantiles=opts.quantiles, threshold=opts.wasserstein_threshold)

    def scorer(f: pd.DataFrame) -> np.ndarray:
        return column.to_score(f[col].to_numpy(dtype=np.float64))

    # Drift is tested on the column as given; performance reads it mapped like the audit's scores.
    return ModelOutputs(single_test(raw, opts.alpha), "", source, column.to_score(r), column.to_score(c), scorer)
