"""The space attacks search: mutable numeric features, standardised, inside their training range.

``Space`` maps raw rows to standardised coordinates and back; ``Scorer`` asks the audited
pipeline about candidate points (fast on the encoded matrix when the model allows it);
``valid`` keeps only candidates whose realised raw row still flips the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from audit.models.baselines import TrainedModels


@dataclass(frozen=True, eq=False)
class Space:
    """The standardised, boxed space of the mutable features."""

    features: tuple[str, ...]
    mu: np.ndarray
    sd: np.ndarray
    raw_lo: np.ndarray
    raw_hi: np.ndarray
    integer: np.ndarray  # bool per feature

    @property
    def lo(self) -> np.ndarray:
        return self.to_z(self.raw_lo)

    @property
    def hi(self) -> np.ndarray:
        return self.to_z(self.raw_hi)

    def to_z(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mu) / self.sd

    def to_raw(self, z: np.ndarray) -> np.ndarray:
        return self.mu + self.sd * z


def attack_space(trained: TrainedModels) -> tuple[Space | None, tuple[str, ...]]:
    ds, Xtr = trained.dataset, trained.X_train
    feats = [c for c in ds.numeric if c not in ds.sensitive and c not in ds.immutable and np.nanstd(Xtr[c].to_numpy(dtype=float)) > 0]
    fixed = tuple(c for c in ds.features if c not in feats)
    if not feats:
        return None, fixed
    V = Xtr[feats].to_numpy(dtype=np.float64)
    integer = np.array([np.allclose(v[np.isfinite(v)], np.round(v[np.isfinite(v)])) for v in V.T])
    return Space(tuple(feats), np.nanmean(V, 0), np.nanstd(V, 0), np.nanmin(V, 0), np.nanmax(V, 0), integer), fixed


class Scorer:
    """P(y=1) of a pipeline on base rows whose mutable features are replaced by standardised ``Z``.

    Attacks ask thousands of questions, and a pandas round-trip through the ColumnTransformer
    costs ~5 ms. The baselines' preprocessing is affine in a present numeric value (median
    imputation leaves it, scaling is affine), so the encoded row is ``E0 + (x - x0) @ J`` with
    ``J`` probed once and the estimator answers alone. The shortcut is checked against the full
    pipeline, which is used instead when they disagree (a custom, non-affine pipeline).
    """

    def __init__(self, pipe, X0: pd.DataFrame, space: Space, rng: np.random.Generator, *, thr: float = 0.5, k: int = 2) -> None:
        # k classes: 2 decides at threshold ``thr`` on P(class 1); more decide by the most probable class.
        self.pipe, self.X0, self.space, self.thr, self.k = pipe, X0, space, thr, k
        self.x0 = X0[list(space.features)].to_numpy(dtype=np.float64)
        self.fast = False
        if "pre" in getattr(pipe, "named_steps", {}) and len(pipe.steps) == 2:
            pre, self.est = pipe[0], pipe[-1]
            self.E0 = _dense(pre.transform(X0))
            probe = X0.iloc[[0] * (len(space.features) + 1)].reset_index(drop=True)
            for j, f in enumerate(space.features):
                probe.loc[j + 1, f] += space.sd[j]
            T = _dense(pre.transform(probe))
            self.J = (T[1:] - T[0]) / space.sd[:, None]
            self.fast = True
            rows = rng.choice(len(X0), size=min(len(X0), 16), replace=False)
            Z = rng.uniform(space.lo, space.hi, size=(len(rows), len(space.features)))
            self.fast = bool(np.allclose(self.proba(rows, Z), self._slow(rows, Z), atol=1e-7))

    def frame(self, rows: np.ndarray, Z: np.ndarray) -> pd.DataFrame:
        X = self.X0.iloc[rows].reset_index(drop=True)
        X[list(self.space.features)] = self.space.to_raw(Z)
        return X

    def _slow(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        return self.pipe.predict_proba(self.frame(rows, Z))

    def proba(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        if not self.fast:
            return self._slow(rows, Z)
        return self.est.predict_proba(self.E0[rows] + (self.space.to_raw(Z) - self.x0[rows]) @ self.J)

    def scores(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        return self.proba(rows, Z)[:, 1]

    def decide(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """The decision (class code) on each point: a flip is a change of it."""
        P = self.proba(rows, Z)
        return (P[:, 1] >= self.thr).astype(np.int64) if self.k == 2 else P.argmax(axis=1)


def _dense(m) -> np.ndarray:
    return np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float64)


def distance(delta: np.ndarray, norm: str) -> np.ndarray:
    return np.abs(delta).max(axis=-1) if norm == "linf" else np.sqrt((delta**2).sum(axis=-1))


def valid(space: Space, z0: np.ndarray, z: np.ndarray, *, toward: bool, scorer: Scorer | None = None, base=None, thr=0.5, norm="l2") -> np.ndarray:
    """Valid values (standardised): whole numbers for integer-valued features, inside the observed range.

    Within a budget, integers round toward the row's value so the budget holds. For a minimal
    perturbation, rounding to nearest can fall back across the boundary, so rounding away from
    the row's value is tried too and the flipping candidate with the smaller distance is kept.
    """
    x0, x = space.to_raw(z0), space.to_raw(z)
    d = np.round(x - x0, 9)
    if toward:
        cands = [np.where(space.integer, x0 + np.trunc(d), x)]
    else:
        cands = [np.where(space.integer, np.round(x), x), np.where(space.integer, x0 + np.sign(d) * np.ceil(np.abs(d)), x)]
    cands = [space.to_z(np.clip(c, space.raw_lo, space.raw_hi)) for c in cands]
    if len(cands) == 1:
        return cands[0]
    rows = np.arange(len(z0))
    dist = [np.where(scorer.decide(rows, c) != base, distance(c - z0, norm), np.inf) for c in cands]
    return np.where((np.argmin(dist, axis=0) == 0)[:, None], cands[0], cands[1])
