"""Perturbation curves: Gaussian noise, categorical corruption and missing values swept over levels.

``Judge`` holds the audited model's decisions, the task metric and the flip rule that
every robustness test shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.models.baselines import TrainedModels
from audit.serial import ReportMixin


@dataclass(frozen=True)
class CurvePoint(ReportMixin):
    """The metric and the flip rate at one perturbation level (means over the repeats)."""

    level: float
    metric: float
    flip_rate: float
    mean_score_change: float


@dataclass(frozen=True)
class Curve(ReportMixin):
    """One perturbation swept over levels; ``features`` are the columns perturbed."""

    name: str
    unit: str
    features: tuple[str, ...]
    n_rows: int
    repeats: int
    points: tuple[CurvePoint, ...]
    by_feature_level: float
    by_feature: Mapping[str, float]  # flip rate at by_feature_level with only that column perturbed
    note: str = ""


class Judge:
    """The audited model's decisions, the task metric and the flip rule, in one place."""

    def __init__(self, trained: TrainedModels, tol: float) -> None:
        # Multiclass scores are (n, k) class probabilities and the decision is the most probable class.
        self.trained, self.multi = trained, trained.task == "multiclass"
        self.binary = trained.task == "binary" or self.multi  # classification: accuracy, flips of decisions
        self.thr = trained.report.decision_threshold
        self.tol = tol * float(np.std(trained.y_train)) if not self.binary else 0.0
        self.metric = "accuracy" if self.binary else "mean_absolute_error"

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.trained.proba(X) if self.multi else self.trained.score(X)

    def decide(self, s: np.ndarray) -> np.ndarray:
        return s.argmax(axis=1) if self.multi else s >= self.thr

    def value(self, s: np.ndarray, y: np.ndarray) -> float:
        if len(y) == 0:
            return float("nan")
        return float(np.mean(self.decide(s) == y)) if self.binary else float(np.mean(np.abs(s - y)))

    def flips(self, s: np.ndarray, s0: np.ndarray) -> np.ndarray:
        return self.decide(s) != self.decide(s0) if self.binary else np.abs(s - s0) > self.tol

    def change(self, s: np.ndarray, s0: np.ndarray) -> float:
        """Mean absolute score change (multiclass: half the L1 change of the probability vector)."""
        d = np.abs(s - s0)
        return float(d.sum(axis=1).mean() / 2) if self.multi else float(d.mean())

    def gap(self, slice_value: float, overall: float) -> float:
        return overall - slice_value if self.binary else (slice_value - overall) / max(overall, 1e-12)


def curve(name: str, unit: str, feats: list[str], levels, by_level: float, X, y, s0, judge: Judge, repeats: int, perturb, note: str) -> Curve:
    """Sweep ``perturb(X, columns, level)`` over the levels (means of ``repeats`` draws), then perturb
    one column at a time at ``by_level`` (one draw) to show which column drives the flips.

    Every perturbed copy is drawn first, in the order of the loops (so the random draws are
    those of scoring each copy in turn), and the copies are scored in one call: a pipeline call
    costs ~25 ms however few its rows (the column transformer's per-call checks), and a curve
    makes up to 30 of them. Rows are scored independently, so the scores are the same."""
    draws = [perturb(X, feats, lv) for lv in levels for _ in range(repeats if lv > 0 else 1) if feats]
    draws += [perturb(X, [c], by_level) for c in feats]
    scores = iter(_score_together(judge, draws, len(X)))
    pts = []
    for lv in levels:
        m, f, c = [], [], []
        for _ in range(repeats if lv > 0 else 1):
            s = next(scores) if feats else s0
            m.append(judge.value(s, y))
            f.append(judge.flips(s, s0).mean())
            c.append(judge.change(s, s0))
        pts.append(CurvePoint(float(lv), float(np.mean(m)), float(np.mean(f)), float(np.mean(c))))
    by = {c: float(judge.flips(next(scores), s0).mean()) for c in feats}
    return Curve(name, unit, tuple(feats), len(X), repeats, tuple(pts), float(by_level), by, note if feats else "no column to perturb")


def _score_together(judge: Judge, frames: list[pd.DataFrame], n: int) -> list[np.ndarray]:
    """``[judge.score(f) for f in frames]`` in one model call (each frame has ``n`` rows)."""
    if not frames:
        return []
    whole = judge.score(pd.concat(frames, ignore_index=True))
    return [whole[k * n:(k + 1) * n] for k in range(len(frames))]


def noisy(X: pd.DataFrame, cols: list[str], lv: float, sd: Mapping[str, float], box: Mapping[str, tuple[float, float]], rng) -> pd.DataFrame:
    """Gaussian noise of ``lv`` standard deviations that never leaves the training range (a capital
    gain does not go below 0); a value already outside it is not pulled in."""
    Xp = X.copy()
    for c in cols:
        x = X[c].to_numpy(dtype=float)
        noisy = x + rng.standard_normal(len(X)) * lv * sd[c]
        Xp[c] = np.clip(noisy, np.fmin(x, box[c][0]), np.fmax(x, box[c][1]))
    return Xp


def swapped(X: pd.DataFrame, cols: list[str], rate: float, cats: Mapping[str, np.ndarray], rng) -> pd.DataFrame:
    """Each cell, with probability ``rate``, becomes another category seen in training."""
    Xp = X.copy()
    for c in cols:
        k = cats[c]
        hit = rng.random(len(X)) < rate
        own = X[c].astype(object).map({v: i for i, v in enumerate(k)}).to_numpy(dtype=float)
        # another category: the row's own index shifted by 1..K-1; any category when its own is unknown
        shifted = (np.nan_to_num(own).astype(int) + rng.integers(1, len(k), size=len(X))) % len(k)
        idx = np.where(np.isnan(own), rng.integers(0, len(k), size=len(X)), shifted)
        Xp[c] = np.where(hit, k[idx], X[c].to_numpy(dtype=object))
    return Xp


def blanked(X: pd.DataFrame, cols: list[str], rate: float, rng) -> pd.DataFrame:
    """Each cell, with probability ``rate``, is set missing (the pipeline imputes it)."""
    Xp = X.copy()
    for c in cols:
        # NaN in string columns too: SimpleImputer (missing_values=np.nan) leaves None in place, so the
        # cell reached the one-hot encoder as an unknown category instead of being imputed "missing".
        Xp[c] = X[c].mask(rng.random(len(X)) < rate, np.nan)
    return Xp
