"""Statistics over every row: confusion counts, rates and binned AUC, overall and per group,
with Poisson-bootstrap intervals, computed the same way in one process or on a Dask cluster.

Each partition is reduced to small count arrays (``partition_stats``) which are summed, so the
cluster never moves rows and the result does not depend on how the rows are partitioned:
counts and rates equal the in-memory path exactly. A binary model's cells are the four
(label, prediction) pairs; a multiclass model's are its k x k confusion matrix, from which every
class's one-vs-rest counts are derived when summarising (:mod:`audit.engine.classes`). The
bootstrap weight of a row is a
function of (seed, global row number, replicate) only (a counter-based draw,
:mod:`audit.engine.poisson`), so the
intervals are exact for a given seed on any partitioning, streaming, with no row held twice.
AUC is computed from score histograms (``bins`` equal-width bins on [0, 1]); with 1,000
bins it lies within 1e-3 of the exact AUC (a multiclass model's: each class's one-vs-rest AUC
from the histograms of that class's probability).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.engine.poisson import poisson_weights
from audit.errors import DataError
from audit.serial import ReportMixin

CELLS = ("tn", "fp", "fn", "tp")
RATES = ("base_rate", "selection_rate", "tpr", "fpr", "accuracy")
_ROW_BLOCK = 65_536  # rows per bootstrap block inside a partition: bounds the n x B weight matrix
# Groups x cells above which the bootstrap sums go through a sparse one-hot matrix: a dense one
# of 65,536 rows x (say) 40 intersections x 400 cells of a 20-class model would take 8 GB.
_DENSE_CELLS = 256


@dataclass(frozen=True)
class PopulationSpec:
    """What to compute: label and score columns, the group columns, the decision threshold.

    ``classes`` (a multiclass model's class labels in code order; empty for a binary one): the
    label column then holds class codes, ``pred`` the predicted code, and ``score + "_" + k`` the
    probability of class k; ``threshold`` does not apply.
    """

    label: str
    score: str
    groups: tuple[str, ...]
    threshold: float = 0.5
    bootstrap: int = 200
    seed: int = 0
    bins: int = 1000
    intersections: bool = True
    confidence: float = 0.95
    classes: tuple[str, ...] = ()
    pred: str = "__audit_pred__"

    @property
    def k(self) -> int:
        """Classes of the model: a binary model's cells are a 2 x 2 confusion matrix."""
        return len(self.classes) if self.classes else 2

    def keys(self) -> list[tuple[str, tuple[str, ...]]]:
        out = [("overall", ()), *((g, (g,)) for g in self.groups)]
        if self.intersections and len(self.groups) >= 2:
            out.append((" x ".join(self.groups), self.groups))
        return out


# key -> group label -> [point (k*k,), boot (B, k*k), hist (2, bins) or (k, 2, bins)]; k = 2 for a binary model.
Stats = dict[str, dict[str, list[np.ndarray]]]


def _group_codes(frame: pd.DataFrame, cols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Group code of every row and the group labels ("F", or "F x black" for an intersection)."""
    codes, labels = np.zeros(len(frame), dtype=np.int64), [""]
    for c in cols:  # mixed-radix codes: vectorised, no per-row string joins
        cc, uu = pd.factorize(frame[c].astype(str).to_numpy(), use_na_sentinel=False)
        codes = codes * len(uu) + cc
        labels = [f"{a} x {b}" if a else str(b) for a in labels for b in uu]
    if not cols:
        labels = ["all"]
    used, inverse = np.unique(codes, return_inverse=True)
    return inverse.reshape(-1), np.asarray(labels, dtype=object)[used]


def _cells_and_hist(frame: pd.DataFrame, spec: PopulationSpec, codes: np.ndarray, g: int):
    """Confusion cell (label * k + prediction) of every row, and each group's score histograms:
    (g, 2, bins) by label (binary) or (g, k, 2, bins), class c's probability by (label == c)."""
    y = frame[spec.label].to_numpy().astype(np.int64)
    if not spec.classes:
        s = np.asarray(frame[spec.score], dtype=float)
        b = np.clip((s * spec.bins).astype(np.int64), 0, spec.bins - 1)
        hist = np.bincount((codes * 2 + y) * spec.bins + b, minlength=g * 2 * spec.bins).reshape(g, 2, spec.bins)
        return y * 2 + (s >= spec.threshold), hist
    k = spec.k
    pred = frame[spec.pred].to_numpy().astype(np.int64)
    flat = []
    for c in range(k):
        s = np.asarray(frame[f"{spec.score}_{c}"], dtype=float)
        b = np.clip((s * spec.bins).astype(np.int64), 0, spec.bins - 1)
        flat.append(((codes * k + c) * 2 + (y == c)) * spec.bins + b)
    hist = np.bincount(np.concatenate(flat) if flat else np.zeros(0, np.int64), minlength=g * k * 2 * spec.bins)
    return y * k + pred, hist.reshape(g, k, 2, spec.bins)


def _add_boot(acc: np.ndarray, w: np.ndarray, index: np.ndarray, width: int, onehot: np.ndarray | None) -> None:
    """acc (B, width) += the weights w (B, n) summed by each row's column ``index``.

    ``onehot``: an all-zero (at least n, width) buffer of this grouping, reused block after block
    (its ones are cleared after use) instead of a fresh zeroed matrix per block; None above
    ``_DENSE_CELLS`` columns, where a sparse matrix is used."""
    n = len(index)
    if onehot is not None:
        rows, block = np.arange(n), onehot[:n]
        block[rows, index] = 1.0
        acc += w @ block
        block[rows, index] = 0.0
        return
    from scipy.sparse import csr_matrix

    sparse = csr_matrix((np.ones(n), (np.arange(n), index)), shape=(n, width))
    acc += np.asarray((sparse.T @ w.T).T)  # the same integer sums (exact in float64) as the dense product


def partition_stats(frame: pd.DataFrame, offset: int, spec: PopulationSpec,
                    scorer: Callable[[pd.DataFrame], np.ndarray] | None = None) -> Stats:
    """Count arrays of one partition whose first row is global row ``offset``."""
    if scorer is not None:  # a binary score computed here rather than read from the frame
        frame = frame.assign(**{spec.score: np.asarray(scorer(frame), dtype=float)})
    m = spec.k * spec.k
    keyed = [(key, *_group_codes(frame, cols)) for key, cols in spec.keys()]
    cells = [_cells_and_hist(frame, spec, codes, len(uniques)) for _, codes, uniques in keyed]
    cell = cells[0][0]
    boot = [np.zeros((spec.bootstrap, len(uniques) * m)) for _, _, uniques in keyed]
    # Buffers reused by every block (see audit.engine.poisson on why fresh large temporaries
    # are slow on a Dask worker): one weight matrix, shared by every grouping, and a one-hot each.
    block_rows = min(_ROW_BLOCK, len(frame))
    weights = np.empty((spec.bootstrap, block_rows))
    onehots = [np.zeros((block_rows, len(u) * m)) if len(u) * m <= _DENSE_CELLS else None for _, _, u in keyed]
    for start in range(0, len(frame), _ROW_BLOCK):
        stop = min(start + _ROW_BLOCK, len(frame))
        w = weights[:, :stop - start]
        w[...] = poisson_weights(np.arange(offset + start, offset + stop), spec.bootstrap, spec.seed).T
        for (key, codes, uniques), acc, onehot in zip(keyed, boot, onehots):
            _add_boot(acc, w, codes[start:stop] * m + cell[start:stop], len(uniques) * m, onehot)
    out: Stats = {}
    for (key, codes, uniques), acc, (_, hist) in zip(keyed, boot, cells):
        g = len(uniques)
        point = np.bincount(codes * m + cell, minlength=g * m).reshape(g, m)
        per_group = acc.reshape(spec.bootstrap, g, m).transpose(1, 0, 2)
        out[key] = {str(u): [point[i], per_group[i], hist[i]] for i, u in enumerate(uniques)}
    return out


def merge_stats(a: Stats, b: Stats) -> Stats:
    """The sum of two partitions' counts (associative, so partitions can be reduced in any tree)."""
    out: Stats = {k: {g: [x.copy() for x in v] for g, v in groups.items()} for k, groups in a.items()}
    for key, groups in b.items():
        for label, arrays in groups.items():
            if label in out.setdefault(key, {}):
                out[key][label] = [x + y for x, y in zip(out[key][label], arrays)]
            else:
                out[key][label] = [x.copy() for x in arrays]
    return out


@dataclass(frozen=True)
class GroupRates(ReportMixin):
    """One group's confusion counts and rates over every row, with bootstrap percentile intervals."""

    n: int
    share: float
    counts: Mapping[str, int]
    rates: Mapping[str, float | None]
    intervals: Mapping[str, tuple[float | None, float | None]]
    auc: float | None


@dataclass(frozen=True)
class PopulationStats(ReportMixin):
    """Every-row statistics; ``engine`` says where they were computed.

    A multiclass model (``classes`` non-empty): ``per_class`` holds, per class, the groups'
    one-vs-rest counts and rates (``accuracy`` is the multiclass accuracy: predicted class right),
    ``confusion`` each group's k x k matrix (rows the true class, columns the predicted one), and
    ``groups`` is the class the section's verdict rests on (its report names it); ``threshold``
    is None (the predicted class is the most probable one).
    """

    rows: int
    threshold: float | None
    bootstrap: int
    confidence: float
    auc_bins: int
    engine: str
    groups: Mapping[str, Mapping[str, GroupRates]]
    classes: tuple[str, ...] = ()
    per_class: Mapping[str, Mapping[str, Mapping[str, GroupRates]]] = field(default_factory=dict)
    confusion: Mapping[str, Mapping[str, tuple[tuple[int, ...], ...]]] = field(default_factory=dict)


def _rates(c: np.ndarray) -> dict[str, np.ndarray]:
    tn, fp, fn, tp = (c[..., i].astype(float) for i in range(4))
    n = tn + fp + fn + tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"base_rate": (fn + tp) / n, "selection_rate": (fp + tp) / n, "tpr": tp / (tp + fn),
                "fpr": fp / (fp + tn), "accuracy": (tn + tp) / n}


def binned_auc(hist: np.ndarray) -> float | None:
    """ROC AUC from per-class score histograms (ties within a bin count one half)."""
    neg, pos = hist[0].astype(float), hist[1].astype(float)
    if neg.sum() == 0 or pos.sum() == 0:
        return None
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _one_vs_rest(cells: np.ndarray, k: int, c: int) -> np.ndarray:
    """(..., 4) counts tn, fp, fn, tp of class c against the rest, from (..., k*k) confusion cells."""
    m = cells.reshape(*cells.shape[:-1], k, k)
    tp = m[..., c, c]
    fn, fp = m[..., c, :].sum(axis=-1) - tp, m[..., :, c].sum(axis=-1) - tp
    return np.stack([m.sum(axis=(-2, -1)) - tp - fn - fp, fp, fn, tp], axis=-1)


def _accuracy(cells: np.ndarray, k: int) -> np.ndarray:
    m = cells.reshape(*cells.shape[:-1], k, k).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.trace(m, axis1=-2, axis2=-1) / m.sum(axis=(-2, -1))


def _group_rates(point, boot, hist, total: int, qs: tuple[float, float], accuracy=None) -> GroupRates:
    pr, br = _rates(point), _rates(boot)
    if accuracy is not None:  # a multiclass model's own accuracy, not the one-vs-rest one
        pr["accuracy"], br["accuracy"] = accuracy
    iv = {}
    for m in RATES:
        v = br[m][np.isfinite(br[m])]
        iv[m] = (_finite(np.percentile(v, qs[0])), _finite(np.percentile(v, qs[1]))) if len(v) else (None, None)
    n = int(point.sum())
    return GroupRates(n, n / total if total else 0.0, dict(zip(CELLS, map(int, point))),
                      {m: _finite(pr[m]) for m in RATES}, iv, binned_auc(hist))


def summarise(stats: Stats, spec: PopulationSpec, *, engine: str, confidence: float | None = None) -> PopulationStats:
    """Rates, intervals and AUCs from summed counts (``confidence``: default the spec's)."""
    confidence = spec.confidence if confidence is None else confidence
    qs = (50 * (1 - confidence), 100 - 50 * (1 - confidence))
    total = int(sum(v[0].sum() for v in stats["overall"].values()))
    if not spec.classes:
        out = {key: {label: _group_rates(*groups[label], total, qs) for label in sorted(groups)}
               for key, groups in stats.items()}
        return PopulationStats(total, spec.threshold, spec.bootstrap, confidence, spec.bins, engine, out)
    k = spec.k
    per_class = {name: {key: {label: _group_rates(_one_vs_rest(point, k, c), _one_vs_rest(boot, k, c), hist[c], total, qs,
                                                  accuracy=(_accuracy(point, k), _accuracy(boot, k)))
                              for label, (point, boot, hist) in sorted(groups.items())}
                        for key, groups in stats.items()}
                 for c, name in enumerate(spec.classes)}
    confusion = {key: {label: tuple(tuple(int(x) for x in row) for row in groups[label][0].reshape(k, k))
                       for label in sorted(groups)} for key, groups in stats.items()}
    return PopulationStats(total, None, spec.bootstrap, confidence, spec.bins, engine, {}, classes=tuple(spec.classes),
                           per_class=per_class, confusion=confusion)


def population_blocks(blocks: Iterable[tuple[int, pd.DataFrame]], spec: PopulationSpec, *, scorer=None,
                      engine: str = "local") -> PopulationStats:
    """In this process, over ``(first row number, frame)`` blocks (how the rows are cut changes no number)."""
    stats: Stats | None = None
    for start, block in blocks:
        part = partition_stats(block, start, spec, scorer)
        stats = part if stats is None else merge_stats(stats, part)
    return summarise(stats or {"overall": {}}, spec, engine=engine)


def population_local(frame: pd.DataFrame, spec: PopulationSpec, *, scorer=None,
                     partition_rows: int = 1_000_000) -> PopulationStats:
    """In this process, in blocks of ``partition_rows`` (the blocks do not change the result)."""
    blocks = ((start, frame.iloc[start:start + partition_rows]) for start in range(0, len(frame), partition_rows))
    return population_blocks(blocks, spec, scorer=scorer)


def _partition_stats_numbered(frame: pd.DataFrame, number: int, offset: int, rows: int, spec: PopulationSpec, scorer) -> Stats:
    """``partition_stats`` of partition ``number``, which must hold the ``rows`` rows it was numbered
    with: counted in an earlier pass, a table that changed since then would otherwise give
    overlapping bootstrap row numbers."""
    if len(frame) != rows:
        raise DataError(f"partition {number} of the table has {len(frame):,} labelled rows, {rows:,} when they were "
                        "counted: the files changed during the audit")
    return partition_stats(frame, offset, spec, scorer)


def population_dask(ddf, spec: PopulationSpec, client, *, scorer=None, engine: str = "dask",
                    lengths: Sequence[int] | None = None) -> PopulationStats:
    """On the cluster: one task per partition, a tree of merges, only count arrays move.

    ``lengths`` (rows of every partition) numbers the rows for the bootstrap weights; by
    default they are counted on the cluster, which computes ``ddf`` once more.
    """
    import dask

    if lengths is None:
        lengths = client.compute(ddf.map_partitions(len)).result()
    offsets = np.concatenate([[0], np.cumsum(np.asarray(lengths, dtype=np.int64))[:-1]]).astype(int)
    parts = [dask.delayed(_partition_stats_numbered)(p, i, int(o), int(n), spec, scorer)
             for i, (p, o, n) in enumerate(zip(ddf.to_delayed(), offsets, lengths))]
    while len(parts) > 1:  # pairwise tree: the reduction never concentrates every partition's arrays at once
        parts = [dask.delayed(merge_stats)(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    stats = client.compute(parts[0]).result() if parts else {"overall": {}}
    return summarise(stats, spec, engine=engine)


__all__ = ["GroupRates", "PopulationStats", "PopulationSpec", "binned_auc", "merge_stats", "partition_stats",
           "poisson_weights", "population_blocks", "population_dask", "population_local", "summarise"]
