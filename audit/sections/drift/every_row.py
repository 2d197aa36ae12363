"""The drift section over every row of the table and of a current table, on a Dask cluster.

The feature tests (:mod:`audit.engine.drift`), prediction drift against every current row and
label drift between every labelled row of both (:mod:`audit.engine.outputs`) run on the
cluster; the domain classifier and the performance on current data stay on the sampled rows.
A predictions column, a regression model or a model that cannot be sent to the workers keeps
the sampled prediction and label drift, and the current side's description says which ran where.
"""

from __future__ import annotations

import dataclasses

from audit.errors import DataError
from audit.sections.drift.multiclass import class_counts
from audit.sections.drift.prediction import predictions_column
from audit.sections.drift.stats import categorical_drift, numeric_drift, single_test, summarise_numeric


def every_row_features(every_row: tuple, ds, opts, sampled):
    """The feature tests over every row of both tables; the domain classifier's result stays the sample's."""
    from audit.engine.drift import drift_on_cluster

    rows, source = every_row
    full = drift_on_cluster(rows.source, source, rows.client, numeric=ds.numeric, categorical=ds.categorical, options=opts)
    note = sampled.domain_note or (f"on samples: {sampled.n_reference:,} rows of the table's training split and "
                                   f"{sampled.n_current:,} of the current data")
    return (dataclasses.replace(full, domain=sampled.domain, domain_note=note),
            f"every row of the table ({full.n_reference:,}, on {rows.engine})")


def every_row_outputs(every_row: tuple, trained, out, labels, opts, data, sampled_current: int):
    """(prediction drift, label drift, the current side's description) over every current row where
    the model can be scored on the workers; the sampled results otherwise."""
    from audit.engine.outputs import outputs_on_cluster
    from audit.sections.population import rows as R
    from audit.sections.population.section import row_scorer
    from audit.sections.registry import SectionNotRun

    rows, source = every_row
    sampled = (out.prediction, labels,
               f"every row of the current data ({data.n_current:,}; model-based drift on a sample of {sampled_current:,})")
    # A predictions column scores only the rows it came with: its drift stays the sampled one.
    if (trained.task not in ("binary", "multiclass") or predictions_column(trained) is not None
            or out.prediction is None or out.s_ref is None or out.scorer is None):
        return sampled
    try:
        plan = R.make_plan(trained.dataset, row_scorer(trained, True))
    except SectionNotRun:  # a model the workers cannot be sent: the sampled drift stands
        return sampled
    ref, cur = outputs_on_cluster(rows.source, source, rows.client, plan)
    t, classes = trained.dataset.target, tuple(trained.classes or ())
    if trained.task == "multiclass":
        raw = categorical_drift("predicted class", class_counts(out.s_ref, classes), cur["score"],
                                threshold=opts.jensen_shannon_threshold)
    else:
        raw = numeric_drift("model score", summarise_numeric(out.s_ref), cur["score"], bins=opts.psi_bins,
                            quantiles=opts.quantiles, threshold=opts.wasserstein_threshold)
    if "label" in ref and "label" in cur and len(cur["label"]):
        r, c = ref["label"], cur["label"]
        unknown = sorted(set(c.index[c > 0]) - set(r.index[r > 0]) - set(classes))
        if unknown:  # as on one machine (shift.code_labels): a label the model was never audited on is an error
            known = list(classes) or sorted(r.index[r > 0])
            raise DataError(f"the target column {t!r} of the current data holds {unknown[:5]}; expected the training "
                            f"labels {known[:20]}")
        if classes:  # every class listed, zeros included, as the in-memory class drift lists them
            r = r.reindex(list(classes) + [x for x in r.index if x not in classes], fill_value=0)
        labels = single_test(categorical_drift(t, r, c, threshold=opts.jensen_shannon_threshold), opts.alpha)
    return (single_test(raw, opts.alpha), labels,
            f"every row of the current data ({data.n_current:,}; prediction and label drift over every row too, "
            f"the domain classifier and performance on a sample of {sampled_current:,})")


__all__ = ["every_row_features", "every_row_outputs"]
