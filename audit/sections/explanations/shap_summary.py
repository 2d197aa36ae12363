"""Summaries of per-row SHAP values: global importance, dependence curves, SHAP by group.

Pure numpy over the (rows x original features) SHAP matrix; the report dataclasses of
these summaries live here too and are re-exported by :mod:`audit.sections.explanations.section`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.serial import ReportMixin
from audit.sections.explanations.shap_values import FeatureCodec


def _r(v: float) -> float:
    """Six significant digits: plenty to draw, and keeps report.json small."""
    return float(f"{float(v):.6g}")


@dataclass(frozen=True)
class FeatureImportance(ReportMixin):
    """Mean |SHAP| (the ranking) and mean SHAP of one original feature over the explained rows."""

    feature: str
    rank: int
    mean_abs_shap: float
    mean_shap: float
    sensitive: bool


@dataclass(frozen=True)
class FeatureValues(ReportMixin):
    """Beeswarm data of one feature: its SHAP value and its value on every explained row.

    ``values`` are numbers for a numeric feature and codes into ``categories`` for a
    categorical one (NaN = missing), so the dashboard colours both the same way.
    """

    feature: str
    kind: str  # "numeric" | "categorical"
    shap: tuple[float, ...]
    values: tuple[float, ...]
    categories: tuple[str, ...]

    def display(self, i: int) -> str:
        v = self.values[i]
        if v != v:  # NaN
            return "missing"
        return self.categories[int(v)] if self.kind == "categorical" else f"{v:.6g}"


@dataclass(frozen=True)
class DependenceBin(ReportMixin):
    """SHAP values of rows whose feature value falls in one bin (or is one category)."""

    label: str
    x: float  # median value in the bin, or the category code
    count: int
    mean_shap: float
    low: float  # 10th percentile of SHAP in the bin
    high: float  # 90th percentile


@dataclass(frozen=True)
class Dependence(ReportMixin):
    """Dependence curve of a top feature; the scatter's points are its ``FeatureValues``.

    ``interaction`` is the feature that seems to interact most (shap's approximate
    interactions), the usual colour of a dependence scatter.
    """

    feature: str
    kind: str
    interaction: str | None
    bins: tuple[DependenceBin, ...]


@dataclass(frozen=True)
class GroupShap(ReportMixin):
    """SHAP within one group of one sensitive attribute, over the explained rows of that group."""

    attribute: str
    group: str
    n: int
    small: bool  # fewer rows than the data's min_group_size: left out of the gap
    mean_output: float
    mean_abs_shap: Mapping[str, float]
    mean_shap: Mapping[str, float]


@dataclass(frozen=True)
class GapContribution(ReportMixin):
    feature: str
    contribution: float
    share: float  # contribution / gap


@dataclass(frozen=True)
class GroupGap(ReportMixin):
    """Why the mean model output differs between the highest and lowest group of an attribute.

    Because SHAP values add up to the output, the gap in mean output equals the sum over
    features of the gap in mean SHAP; ``contributions`` are those per-feature gaps, largest
    first.
    """

    attribute: str
    high_group: str
    low_group: str
    n_high: int
    n_low: int
    gap: float
    contributions: tuple[GapContribution, ...]


def importance(values: np.ndarray, features: tuple[str, ...], sensitive: tuple[str, ...]) -> tuple[FeatureImportance, ...]:
    """Features ranked by mean |SHAP| (ties by name)."""
    mean_abs = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(features))
    mean = values.mean(axis=0) if len(values) else np.zeros(len(features))
    order = sorted(range(len(features)), key=lambda j: (-mean_abs[j], features[j]))
    return tuple(FeatureImportance(feature=features[j], rank=r + 1, mean_abs_shap=_r(mean_abs[j]), mean_shap=_r(mean[j]),
                                   sensitive=features[j] in sensitive) for r, j in enumerate(order))


def _bin_stats(label: str, x: float, s: np.ndarray) -> DependenceBin:
    lo, hi = np.quantile(s, [0.1, 0.9])
    return DependenceBin(label=label, x=_r(x), count=len(s), mean_shap=_r(s.mean()), low=_r(lo), high=_r(hi))


def _curve(x: np.ndarray, s: np.ndarray, categories: tuple[str, ...] | None, n_bins: int) -> tuple[DependenceBin, ...]:
    out = []
    ok = ~np.isnan(x)
    xs, ss = x[ok], s[ok]
    if categories is not None:
        for code in np.unique(xs):
            m = xs == code
            out.append(_bin_stats(categories[int(code)], code, ss[m]))
    elif len(xs):
        # A value holding at least 1/n_bins of the rows (capital_gain = 0 for 92% of Adult)
        # gets a bin of its own; quantile edges would otherwise collapse onto it.
        uniq, counts = np.unique(xs, return_counts=True)
        heavy = uniq[counts >= len(xs) / n_bins] if len(uniq) > n_bins else uniq
        for u in heavy:
            out.append(_bin_stats(f"{u:.4g}", u, ss[xs == u]))
        rest = ~np.isin(xs, heavy)
        if rest.any():
            xr, sr = xs[rest], ss[rest]
            edges = np.unique(np.quantile(xr, np.linspace(0, 1, max(n_bins - len(heavy), 1) + 1)))
            which = np.searchsorted(edges[1:-1], xr, side="right")
            for b in range(max(len(edges) - 1, 1)):
                m = which == b
                if m.any():
                    close = "]" if b >= len(edges) - 2 else ")"
                    label = f"[{edges[b]:.4g}, {edges[min(b + 1, len(edges) - 1)]:.4g}{close}"
                    out.append(_bin_stats(label, float(np.median(xr[m])), sr[m]))
        out.sort(key=lambda d: d.x)
    if (~ok).any():
        out.append(_bin_stats("missing", float("nan"), s[~ok]))
    return tuple(out)


def dependence(values: np.ndarray, C: np.ndarray, codec: FeatureCodec, top: tuple[FeatureImportance, ...],
               n_bins: int, seed: int) -> tuple[Dependence, ...]:
    """Dependence curves of the ``top`` features, each with its likeliest interacting feature."""
    import shap  # already loaded by the explainer

    features = codec.features
    Vs, Cs = values, C
    if len(C) > 10_000:
        # approximate_interactions would shuffle with numpy's global generator past 10,000 rows.
        keep = np.sort(np.random.default_rng(seed).choice(len(C), 10_000, replace=False))
        Vs, Cs = values[keep], C[keep]
    out = []
    for fi in top:
        j = features.index(fi.feature)
        inter = None
        if len(features) > 1 and len(Cs) > 1:
            order = shap.utils.approximate_interactions(j, Vs, Cs)
            inter = next((features[k] for k in order if k != j), None)
        cats = codec.categories.get(fi.feature)
        out.append(Dependence(feature=fi.feature, kind="categorical" if cats is not None else "numeric", interaction=inter,
                              bins=_curve(C[:, j], values[:, j], cats, n_bins)))
    return tuple(out)


def group_shap(values: np.ndarray, outputs: np.ndarray, groups: pd.DataFrame, features: tuple[str, ...],
               min_group_size: int) -> tuple[tuple[GroupShap, ...], tuple[GroupGap, ...]]:
    """Mean |SHAP| per feature within each group, and the features behind each attribute's output gap."""
    rows: list[GroupShap] = []
    gaps: list[GroupGap] = []
    for attr in groups.columns:
        labels = groups[attr].astype(str).to_numpy()
        per: list[tuple[GroupShap, np.ndarray]] = []
        for g in sorted(set(labels)):
            m = labels == g
            ms = values[m].mean(axis=0)
            gs = GroupShap(attribute=str(attr), group=g, n=int(m.sum()), small=bool(m.sum() < min_group_size),
                           mean_output=_r(outputs[m].mean()),
                           mean_abs_shap={f: _r(v) for f, v in zip(features, np.abs(values[m]).mean(axis=0))},
                           mean_shap={f: _r(v) for f, v in zip(features, ms)})
            rows.append(gs)
            per.append((gs, ms))
        ok = [(gs, ms, float(outputs[labels == gs.group].mean())) for gs, ms in per if not gs.small]
        if len(ok) < 2:
            continue
        hi = max(ok, key=lambda t: t[2])
        lo = min(ok, key=lambda t: t[2])
        gap = hi[2] - lo[2]
        diff = hi[1] - lo[1]
        order = sorted(range(len(features)), key=lambda j: (-abs(diff[j]), features[j]))
        contribs = tuple(GapContribution(feature=features[j], contribution=_r(diff[j]),
                                         share=_r(diff[j] / gap) if gap != 0 else float("nan")) for j in order)
        gaps.append(GroupGap(attribute=str(attr), high_group=hi[0].group, low_group=lo[0].group, n_high=hi[0].n,
                             n_low=lo[0].n, gap=_r(gap), contributions=contribs))
    return tuple(rows), tuple(gaps)
