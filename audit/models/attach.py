"""Make the user's model the audited one: ``attach_user_model(trained, ...) -> UserTrainedModels``.

The baselines keep their splits and stay in ``pipelines`` (and the leaderboard)
as references. The user's model is scored on the evaluation rows: by default
every row of the table (their model did not train on it), or the baselines' test
split with ``[model] evaluate_on = "test"``; its leaderboard row is on the
baselines' validation and test splits, like for like.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.config import UserModelOptions
from audit.models.baselines import LeaderboardRow, TrainedModels, metric_value
from audit.models.info import UserModelInfo
from audit.models.loading import ModelError, read_model_file
from audit.models.user import PredictionsColumn, check_predictions, onnx_model, rescale_at_threshold, skops_model

# Sections and what they need beyond scoring the evaluation rows, with the reason shown when not run.
# Drift runs on a predictions column (its copy in the current file gives prediction drift), and privacy
# on a callable user model (the DP sweep trains reference networks; membership inference is not run,
# with MEMBERSHIP_UNKNOWN as the reason): both state in their reports which parts are null and why.
NEEDS_CALLABLE = "needs a callable model: a predictions column cannot score the new rows it builds"
MEMBERSHIP_UNKNOWN = ("membership inference needs the rows the model was trained on, which the audit does not know for "
                      "the user's model")
NEEDS_CALLABLE_PRIVACY = ("needs a callable model: with a predictions column there is no model to attack, and the DP sweep "
                          "would only train reference networks")
SECTION_NEEDS: dict[str, tuple[str, str]] = {
    # section -> (what it needs from the model, reason when missing)
    "explanations": ("callable", NEEDS_CALLABLE),  # permutation SHAP and importance through audit.models.shim
    "robustness": ("callable", NEEDS_CALLABLE),  # black-box: scores perturbed rows; PGD transfers from the logistic baseline
    "privacy": ("callable", NEEDS_CALLABLE_PRIVACY),  # membership itself is not run on any user model (MEMBERSHIP_UNKNOWN)
    # Every-row statistics score each partition of the table again; a column read with the audited rows cannot.
    "population": ("callable", "needs a callable model: a predictions column is not re-read from every row of the table"),
}


@dataclass(frozen=True, eq=False)
class UserTrainedModels(TrainedModels):
    """TrainedModels whose ``selected`` model is the user's (``"user"``), scored by ``user``.

    ``X_test`` / ``y_test`` / ``groups_test`` / ``idx_test`` are the evaluation rows.
    """

    user: Any = None
    info: UserModelInfo | None = None
    shim: Any = None  # audit.models.shim.as_pipeline(user): the callable model as a black-box Pipeline
    # The baselines' own TrainedModels (their test split, not the evaluation rows): what reference
    # models that train here (privacy's DP sweep) are trained and judged on, like for like.
    base: TrainedModels | None = None

    @property
    def model(self) -> Any:
        return self.shim if self.shim is not None else self.user

    @property
    def refittable(self) -> bool:
        return False

    def score(self, X: pd.DataFrame, name: str | None = None) -> np.ndarray:
        if name is None or name == "user":
            return self.user.score(X)
        return super().score(X, name)

    def encoded_feature_names(self, name: str | None = None) -> tuple[str, ...]:
        if name in (None, "user"):
            return self._shim_features()
        return super().encoded_feature_names(name)

    def encoded_to_original(self, name: str | None = None) -> tuple[str, ...]:
        if name in (None, "user"):
            return self._shim_features()
        return super().encoded_to_original(name)

    def _shim_features(self) -> tuple[str, ...]:
        # The shim's codec has one column per original feature.
        if self.shim is None:
            raise ModelError("a predictions column has no features to explain")
        return tuple(self.dataset.features)


def skipped_sections(trained: TrainedModels) -> dict[str, str]:
    """Sections that cannot run on this audited model, with the reason."""
    user = getattr(trained, "user", None)
    if user is None:
        return {}
    out = {}
    for name, (need, reason) in SECTION_NEEDS.items():
        if need == "callable" and not user.callable:
            out[name] = reason
        if need == "pipeline":
            out[name] = NEEDS_CALLABLE if not user.callable else reason
    return out


def load_user_model(options: UserModelOptions, dataset, *, model_file=None) -> Any:
    """The adapter named by ``options`` (a model file or a predictions column), checked against the data."""
    cols = tuple(c for c in dataset.frame.columns if c != dataset.target)
    if dataset.task not in ("binary", "regression"):
        raise ModelError(f"auditing your own model supports binary and regression targets; this target is {dataset.task}")
    if options.predictions:
        col = options.predictions
        if col not in dataset.frame.columns:
            raise ModelError(f"predictions column {col!r} is not in the data")
        raw = check_predictions(dataset.frame[col], column=col, task=dataset.task, threshold=options.threshold)
        vals, scale = raw, None
        if dataset.task == "binary" and options.threshold is not None:
            vals, scale = rescale_at_threshold(raw, options.threshold), (float(raw.min()), float(raw.max()))
        return PredictionsColumn(column=col, values=vals, task=dataset.task, threshold=options.threshold, rows={},
                                 raw=raw, scale=scale)
    file = model_file or read_model_file(options.path, max_file_mb=options.max_file_mb)
    if file.format == "onnx":
        return onnx_model(file, task=dataset.task, columns=cols, features=tuple(options.features))
    return skops_model(file, task=dataset.task, columns=cols, positive_label=dataset.positive_label, max_file_mb=options.max_file_mb)


def attach_user_model(trained: TrainedModels, user: Any, options: UserModelOptions) -> UserTrainedModels:
    """The audit's models with ``user`` as the audited model and the baselines as references."""
    ds = trained.dataset
    if options.evaluate_on == "all":
        idx_eval = np.arange(ds.n_rows)
        X_eval = ds.X.reset_index(drop=True)
        y_eval, g_eval = ds.y, ds.groups.reset_index(drop=True)
    else:
        idx_eval, X_eval, y_eval, g_eval = trained.idx_test, trained.X_test.copy(), trained.y_test, trained.groups_test
    if isinstance(user, PredictionsColumn):
        user.rows.update({id(trained.X_train): trained.idx_train, id(trained.X_val): trained.idx_val,
                          id(trained.X_test): trained.idx_test, id(X_eval): idx_eval})
    _check_output(user, X_eval.iloc[:50], ds.task)
    rep = trained.report
    metric = rep.selection_metric

    def on(X: pd.DataFrame, y: np.ndarray) -> float:
        return metric_value(metric, y, user.score(X))

    row = LeaderboardRow(name="user", label=user.label, cv_mean=float("nan"), cv_std=float("nan"),
                         val_score=on(trained.X_val, trained.y_val), test_score=on(trained.X_test, trained.y_test),
                         train_score=float("nan"), fit_seconds=float("nan"), selected=True)
    board = tuple(dataclasses.replace(r, selected=False) for r in rep.leaderboard) + (row,)
    desc = user.describe()
    notes = [f"metrics and group figures are on {'every row of the table' if options.evaluate_on == 'all' else 'the test split'} "
             f"({len(idx_eval)} rows); the leaderboard compares it with the baselines on their validation and test splits",
             "mitigations that retrain (reweighing, ExponentiatedGradient, unawareness) apply to baselines only and are not run on it"]
    if isinstance(user, PredictionsColumn) and options.threshold is not None:
        notes.append(f"the score is on its own scale: calibration figures (Brier, log loss, ECE) use it mapped onto [0, 1] "
                     f"with the threshold {options.threshold:g} at 0.5 and are not probabilities")
    file = getattr(user, "file", None)
    info = UserModelInfo(kind=user.kind, label=user.label, file_name=file.name if file else None, sha256=file.sha256 if file else None,
                         producer=desc["producer"], inputs=tuple(desc["inputs"]), outputs=tuple(desc["outputs"]),
                         evaluate_on=options.evaluate_on, evaluated_rows=len(idx_eval), threshold=options.threshold,
                         callable=user.callable, notes=tuple(notes))
    report = dataclasses.replace(rep, selected="user", selected_label=user.label, leaderboard=board, decision_threshold=0.5, user_model=info)
    fields = {f.name: getattr(trained, f.name) for f in dataclasses.fields(TrainedModels)}
    fields.update(X_test=X_eval, y_test=y_eval, groups_test=g_eval, idx_test=idx_eval, selected="user", report=report)
    from audit.models.shim import as_pipeline

    return UserTrainedModels(**fields, user=user, info=info, shim=as_pipeline(user, ds) if user.callable else None, base=trained)


def current_predictions(user: Any, frame: pd.DataFrame | None, what: str) -> pd.DataFrame | None:
    """``frame`` (a drift table) with its copy of the predictions column checked and made numeric.

    The column is optional there (prediction drift is then null with the reason); when present it
    must hold what the audited column holds, or the audit stops with a one-line error.
    """
    if frame is None or not isinstance(user, PredictionsColumn) or user.column not in frame.columns:
        return frame
    try:
        vals = check_predictions(frame[user.column], column=user.column, task=user.task, threshold=user.threshold)
    except ModelError as exc:
        raise ModelError(f"the {what}: {exc}") from exc
    out = frame.copy()
    out[user.column] = vals
    return out


def _check_output(user: Any, X: pd.DataFrame, task: str) -> None:
    """Score a few rows up front, so a model that does not fit the task fails before any section runs."""
    if not user.callable:
        return
    s = user.score(X)
    if s.shape != (len(X),):
        raise ModelError(f"the model's output does not fit a {task} task: {s.shape} values for {len(X)} rows")
    if task == "binary" and (np.nanmin(s) < 0 or np.nanmax(s) > 1):
        raise ModelError(f"the model's output does not fit a binary task: values from {np.nanmin(s):g} to {np.nanmax(s):g} are not probabilities")
    if not np.isfinite(s).all():
        raise ModelError("the model returned missing or infinite values on the audit data")
