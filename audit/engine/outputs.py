"""The model's outputs and the labels over every row of a current table, on a Dask cluster.

Prediction drift compares the scores of rows the model never saw (the validation split of the
audited sample, as on one machine: the table's own rows include the ones the model was fitted
on) with the scores of every row of the current table, each partition scored where it is read.
Label drift compares the labels of every labelled row of the table with those of every labelled
row of the current table. A partition is reduced to a score summary (a binary model's distinct
scores with their counts, a multiclass model's count of each predicted class) and its label
counts; the reductions merge exactly and pairwise (:func:`audit.engine.drift.merge_summaries`),
and only the merged summaries reach this process.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from audit.data import align_current
from audit.data.columns import labelled
from audit.engine.drift import _tree
from audit.sections.drift.multiclass import class_counts
from audit.sections.drift.stats import count_categories, summarise_numeric
from audit.sections.population.rows import RowPlan, as_dtype


def partition_outputs(part: pd.DataFrame, plan: RowPlan, score: bool) -> dict:
    """Row count, the output summary of every row (when ``score``) and the label counts of the
    labelled rows (when the partition has the target) of one partition."""
    out: dict = {"__rows__": len(part)}
    if score:
        k = max(len(plan.classes), 1)
        raw = plan.scorer(align_current(part, plan)[list(plan.features)]) if len(part) else np.zeros((0, k))
        scores = np.asarray(raw, dtype=float).reshape(len(part), k)
        out["score"] = (class_counts(scores.argmax(axis=1).astype(float), plan.classes) if plan.classes
                        else summarise_numeric(scores[:, 0]))
    if plan.target in part.columns:
        y = part[plan.target][labelled(part[plan.target])]
        # The audited rows' dtype first, so that a partition read as float says "1", not "1.0".
        out["label"] = count_categories(as_dtype(y, plan.target_dtype).astype(str))
    return out


def outputs_on_cluster(reference: str | Path, current: str | Path, client, plan: RowPlan) -> tuple[dict, dict]:
    """The label counts of every row of ``reference`` and the output summary and label counts of
    every row of ``current`` (files, directories or globs), reduced on the cluster at the same time."""
    import dask

    from audit.engine.cluster import worker_deaths
    from audit.engine.frames import read_partitioned

    shipped = dask.delayed(plan, name=f"outputs-plan-{uuid.uuid4().hex}")  # the model goes once, not in every task
    ref = read_partitioned(reference, columns=[plan.target])  # the labels only: nothing of it is scored
    cur = read_partitioned(current)  # without the target, no partition counts labels: no "label" entry
    graphs = [_tree([dask.delayed(partition_outputs)(p, shipped, False) for p in ref.to_delayed()]),
              _tree([dask.delayed(partition_outputs)(p, shipped, True) for p in cur.to_delayed()])]
    with worker_deaths("computing prediction and label drift over every row"):
        r, c = client.compute(graphs, sync=True)
    return r, c


__all__ = ["outputs_on_cluster", "partition_outputs"]
