"""fairlearn's DemographicParity and EqualizedOdds with a faster ``project_lambda``.

ExponentiatedGradient projects the Lagrange multipliers a hundred or more times per fit.
fairlearn 0.15's projection (a weighted median of each event's multipliers) runs pandas
``groupby``, ``.loc`` lookups and a ``concat`` each time: 18-21 ms a call, 40% of a fit on
German credit, where the oracle's own logistic regressions cost a sixth.

These subclasses do the same arithmetic on numpy arrays. The labels are matched once per fit
(fairlearn loads a moment's data once, and the multipliers carry its constraint index; any
other index falls back to fairlearn's own projection), and the result is the same
Series, value for value: ``tests/test_fairness_moments.py`` fits ExponentiatedGradient with
fairlearn's classes and with these and compares every multiplier, weight and prediction.
The two ``gamma`` methods are fairlearn's bodies without a repr nobody reads (below).
Everything else (loading the data, the bound, the signed weights) is fairlearn's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.reductions import DemographicParity, EqualizedOdds, ErrorRate

_SIGN, _EVENT, _GROUP_ID = "sign", "event", "group_id"


class _Plan:
    """Positions that reproduce fairlearn's label-aligned projection on plain arrays."""

    def __init__(self, index: pd.MultiIndex, group_prob: pd.Series) -> None:
        probe = pd.Series(np.arange(len(index), dtype=np.float64), index=index)
        plus, minus = probe["+"], probe["-"]
        signed = plus - minus  # fairlearn's own alignment decides the order
        self.plus = plus.reindex(signed.index).to_numpy()
        self.minus = minus.reindex(signed.index).to_numpy()
        prob = group_prob.reindex(signed.index).to_numpy(dtype=np.float64)
        self.ok = not (np.isnan(self.plus).any() or np.isnan(self.minus).any() or np.isnan(prob).any())
        if not self.ok:
            return
        self.plus, self.minus = self.plus.astype(np.intp), self.minus.astype(np.intp)
        codes = signed.index.get_level_values(_EVENT)
        # groupby(level=event, sort=False): events in order of first appearance, rows in index order
        self.events = [np.flatnonzero(codes == e) for e in pd.unique(codes)]
        self.probs = [prob[rows] for rows in self.events]
        self.halves = [p.sum() / 2 for p in self.probs]
        zero = pd.Series(0.0, index=signed.index)
        self.out_index = pd.concat([zero, zero], keys=["+", "-"], names=[_SIGN, _EVENT, _GROUP_ID]).index


class _FastProjection:
    """``project_lambda`` of ``UtilityParity`` on numpy arrays (same values, same index), and ``gamma``
    and its objective without the repr."""

    _plan: _Plan | None = None

    def project_lambda(self, lambda_vec: pd.Series) -> pd.Series:
        if self.ratio != 1.0:
            return lambda_vec
        plan = self._projection_plan(lambda_vec.index)
        if plan is None:
            return super().project_lambda(lambda_vec)
        v = lambda_vec.to_numpy(dtype=np.float64)
        signed = v[plan.plus] - v[plan.minus]
        for rows, prob, half in zip(plan.events, plan.probs, plan.halves):
            event = signed[rows]
            normalized = event / prob
            order = np.argsort(normalized, kind="stable")
            position = np.searchsorted(np.cumsum(prob[order]), half)
            signed[rows] = event - prob * normalized[order[position]]
        # Series.clip(lower=0) keeps values >= 0 and NaN as they are and sets the rest to 0.
        pos = np.where((signed >= 0) | np.isnan(signed), signed, 0.0)
        neg = np.where((-signed >= 0) | np.isnan(signed), -signed, 0.0)
        return pd.Series(np.concatenate([pos, neg]), index=plan.out_index)

    def gamma(self, predictor) -> pd.Series:
        predictions = predictor(self.X)
        if isinstance(predictions, np.ndarray):
            predictions = np.squeeze(predictions)
        pred = self.utility_diff.T * predictions + self.utilities[:, 0]
        return -self.U.T.dot(pred) / self.total_samples

    def default_objective(self) -> ErrorRate:
        return FastErrorRate()

    def _projection_plan(self, index: pd.Index) -> _Plan | None:
        if not (index is self.index or index.equals(self.index)):
            return None
        if self._plan is None:
            self._plan = _Plan(self.index, self.prob_group_event.div(self.prob_event, level=_EVENT))
        return self._plan if self._plan.ok else None


# fairlearn 0.15's gamma methods end with ``self._gamma_descr = str(gamma)``: a pandas repr,
# formatted on each of a fit's ~150 calls, written and never read (a tenth of a fit on German
# credit). The two ``gamma`` below are fairlearn's bodies without that line.


class FastErrorRate(ErrorRate):
    """fairlearn's ``ErrorRate`` (the objective of both constraints below) without the repr."""

    def gamma(self, predictor) -> pd.Series:
        y_pred = predictor(self.X)
        if isinstance(y_pred, np.ndarray):
            y_pred = np.squeeze(y_pred)
        signed_errors = self.tags["label"] - y_pred
        total_fn_cost = np.sum(signed_errors[signed_errors > 0] * self.fn_cost)
        total_fp_cost = np.sum(-signed_errors[signed_errors < 0] * self.fp_cost)
        return pd.Series(data=(total_fn_cost + total_fp_cost) / self.total_samples, index=self.index)


class FastDemographicParity(_FastProjection, DemographicParity):
    """fairlearn's ``DemographicParity``; only the projection is computed differently."""


class FastEqualizedOdds(_FastProjection, EqualizedOdds):
    """fairlearn's ``EqualizedOdds``; only the projection is computed differently."""
