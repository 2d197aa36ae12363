"""Feature drift over every row of two partitioned tables, computed on a Dask cluster.

The per-feature tests of :mod:`audit.sections.drift.stats` need only two summaries: a
numeric column's sorted distinct values with their counts (``NumericSummary``, from which
KS, Wasserstein, PSI and the quantiles are computed) and a categorical column's counts per
label. Both add up exactly across partitions. So each partition is reduced to them where it
is read, the reductions are merged pairwise in a tree, and only the merged summaries reach
this process. The tests then run on them, and give the in-memory path's numbers on the same
rows exactly. A continuous column keeps one entry per distinct value: 16 bytes per distinct
value, not per row.

The domain classifier needs rows and is not run here (``domain_note`` says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from audit.errors import DataError
from audit.sections.drift.section import DatasetDrift, DriftOptions, assemble_drift
from audit.sections.drift.stats import NumericSummary, categorical_drift, count_categories, numeric_drift, summarise_numeric

DOMAIN_NOTE = "not run: the domain classifier needs rows, and these statistics were computed over every row on a cluster"


def partition_summaries(part: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> dict:
    """Row count, numeric summaries and category counts of one partition."""
    out: dict = {"__rows__": len(part)}
    for c in numeric:
        try:
            out[c] = summarise_numeric(part[c])
        except (TypeError, ValueError) as exc:
            raise DataError(f"column {c!r} is compared as numeric but a partition holds {part[c].dtype} values") from exc
    for c in categorical:
        out[c] = count_categories(part[c])
    return out


def _merge_numeric(a: NumericSummary, b: NumericSummary) -> NumericSummary:
    values, inverse = np.unique(np.concatenate([a.values, b.values]), return_inverse=True)
    counts = np.zeros(len(values), dtype=np.int64)
    np.add.at(counts, inverse.reshape(-1), np.concatenate([a.counts, b.counts]).astype(np.int64))
    return NumericSummary(values, counts, a.missing + b.missing)


def merge_summaries(a: dict, b: dict) -> dict:
    """The summaries of two partitions together (associative and exact: counts are integers)."""
    out: dict = {"__rows__": a["__rows__"] + b["__rows__"]}
    for k, x in a.items():
        if k == "__rows__":
            continue
        y = b[k]
        if isinstance(x, NumericSummary):
            out[k] = _merge_numeric(x, y)
        else:
            out[k] = x.add(y, fill_value=0).astype(np.int64)
    return out


def _tree(parts: list) -> object:
    import dask

    while len(parts) > 1:  # pairwise: no task ever holds every partition's summaries at once
        parts = [dask.delayed(merge_summaries)(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


def _summaries(source: str | Path, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> object:
    import dask

    from audit.engine.frames import read_partitioned

    ddf = read_partitioned(source, columns=[*numeric, *categorical])
    return _tree([dask.delayed(partition_summaries)(p, numeric, categorical) for p in ddf.to_delayed()])


def drift_on_cluster(reference: str | Path, current: str | Path, client, *, numeric: Sequence[str],
                     categorical: Sequence[str], options: DriftOptions | None = None) -> DatasetDrift:
    """Per-feature drift of every row of ``current`` against every row of ``reference`` (files,
    directories or globs of Parquet or CSV), both reduced on the cluster at the same time."""
    from audit.engine.cluster import worker_deaths

    opts = options or DriftOptions()
    numeric, categorical = tuple(numeric), tuple(categorical)
    if not numeric + categorical:
        raise DataError("drift needs at least one numeric or categorical column, got none")
    # Both graphs first: a table that lacks a column fails here, before anything runs.
    graphs = [_summaries(reference, numeric, categorical), _summaries(current, numeric, categorical)]
    with worker_deaths("computing drift over every row"):
        ref, cur = client.compute(graphs, sync=True)
    for name, s in (("reference", ref), ("current", cur)):
        if s["__rows__"] == 0:
            raise DataError(f"the {name} data has no rows; expected at least one")
    raw = [numeric_drift(c, ref[c], cur[c], bins=opts.psi_bins, quantiles=opts.quantiles, threshold=opts.wasserstein_threshold)
           if c in numeric else categorical_drift(c, ref[c], cur[c], threshold=opts.jensen_shannon_threshold)
           for c in numeric + categorical]
    return assemble_drift(raw, int(ref["__rows__"]), int(cur["__rows__"]), opts, domain_note=DOMAIN_NOTE)


__all__ = ["DOMAIN_NOTE", "drift_on_cluster", "merge_summaries", "partition_summaries"]
