"""Every row: counts, representation, base rates and the audited model's confusion counts and
rates over every row of the table, per sensitive attribute and their intersection.

The other sections work on the audited rows (on a cluster, a stratified sample of the table;
their reports state its size). This one reads the whole table again where it lives: on the
local engine the dataset's frame in blocks, on a Dask cluster every partition, scored by the
audited model with ``map_partitions`` and reduced to count arrays
(:mod:`audit.engine.population`). Both go through :func:`rows.prepare_rows`, so counts and
rates are exactly equal between the engines on the same rows.

A multiclass model is counted as its k x k confusion matrix per group; every class is then read
one-vs-rest (the share predicted that class, its TPR and FPR) with the same gaps and rules as a
binary model, and the verdict rests on the worst class (as in the fairness section), which the
report names and whose rates fill ``stats.groups``; ``stats.per_class`` holds every class.

The model is scored on every row, including the rows it was fitted on, so its accuracy here
is partly in-sample (the report says how many rows it was fitted on); the representation and
base rates do not depend on the model.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from audit.bounds import bounded
from audit.engine.population import GroupRates, PopulationSpec, PopulationStats, population_blocks, population_dask
from audit.errors import ConfigError
from audit.sections.population import rows as R
from audit.sections.registry import SectionNotRun
from audit.serial import ReportMixin
from audit.verdict import Verdict, decide

SUPPORTS_MULTICLASS = True  # the k x k confusion per group, every class one-vs-rest
GAP_METRICS = ("base_rate", "selection_rate", "tpr", "fpr", "accuracy")


@bounded("population")
@dataclass(frozen=True)
class PopulationOptions(ReportMixin):
    """Options of the every-row statistics (TOML table ``[population]``).

    bootstrap : Poisson-bootstrap replicates for the intervals (default 200; 0 = no intervals).
    confidence : width of the intervals (default 0.95).
    auc_bins : score bins of the AUC (default 1000: within 1e-3 of the exact AUC).
    intersections : also count the intersection of all sensitive attributes (default true).
    block_rows : rows per block on the local engine (default 200,000; memory, not numbers: any block size
        gives the same result). A block's encoded rows are the section's largest array (about 860 MB for
        1,000,000 Adult rows in one block, which made the 1M audit's peak).
    four_fifths : fail when an adequately sized group's every-row selection rate is below this fraction
        of the highest group's and their intervals do not overlap (default 0.8).
    warn_parity_difference : warn when the every-row selection rates of adequately sized groups differ
        by more than this (default 0.1).
    warn_equalized_odds_difference : warn when their TPRs or FPRs differ by more than this (default 0.1).
    """

    bootstrap: int = 200
    confidence: float = 0.95
    auc_bins: int = 1000
    intersections: bool = True
    block_rows: int = 200_000
    four_fifths: float = 0.8
    warn_parity_difference: float = 0.1
    warn_equalized_odds_difference: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.intersections, bool):
            raise ConfigError(f"option intersections in [population] must be true or false, got {self.intersections!r}")


@dataclass(frozen=True)
class PopulationReport(ReportMixin):
    """Every-row statistics of the audit.

    rows : rows counted (every labelled row of the table when ``every_row``).
    rows_in_table : rows the table holds (the difference had no target).
    every_row : False only when the local engine loaded a capped sample (``data.max_rows``).
    sample_rows : rows the sampled sections audited (their reports state their own sizes).
    model_fitted_on : rows the audited model was fitted on; they are among ``rows``.
    gaps : grouping -> metric -> highest minus lowest rate among groups of at least ``min_group_size`` rows.
    worst_class : a multiclass model's class whose one-vs-rest rates the verdict and ``gaps`` rest on
        (the worst verdict, ties broken by the largest selection-rate gap); None for a binary model.
    per_class_gaps : class -> the ``gaps`` of that class (multiclass only).
    """

    rows: int
    rows_in_table: int
    every_row: bool
    engine: str
    sample_rows: int
    model: str
    model_fitted_on: int
    min_group_size: int
    statement: str
    stats: PopulationStats
    gaps: Mapping[str, Mapping[str, float | None]]
    small_groups: tuple[str, ...]
    verdict: Verdict
    worst_class: str | None = None
    per_class_gaps: Mapping[str, Mapping[str, Mapping[str, float | None]]] = field(default_factory=dict)


def row_scorer(trained, on_cluster: bool):
    if trained.task == "multiclass":  # only the baselines: a user's model is binary or regression
        return R.ProbaScorer(trained.model, len(trained.classes))
    if trained.selected != "user":
        return R.PipelineScorer(trained.model)
    if not on_cluster:
        return trained.score  # in this process: the model as every other section calls it
    import cloudpickle

    scorer = trained.user.score
    try:
        cloudpickle.dumps(scorer)
    except Exception as exc:  # what cannot be pickled varies (locks, handles, C extension objects)
        raise SectionNotRun(f"the audited model cannot be sent to the cluster's workers ({type(exc).__name__}); "
                            "run the every-row statistics with --engine local") from exc
    return scorer


def _stats_local(trained, spec: PopulationSpec, plan: R.RowPlan, block_rows: int) -> PopulationStats:
    frame = trained.dataset.frame
    blocks = ((start, R.prepare_rows(frame.iloc[start:start + block_rows], plan))
              for start in range(0, len(frame), block_rows))
    return population_blocks(blocks, spec, engine="local (one process)")


def _stats_cluster(rows, spec: PopulationSpec, plan: R.RowPlan, progress) -> PopulationStats:
    import dask

    from audit.engine.cluster import worker_deaths
    from audit.engine.frames import read_partitioned

    ddf = read_partitioned(rows.source)
    client = rows.client
    counted = list(rows.partition_labelled)  # counted while the sample was drawn (audit.engine.sample)
    recount = len(counted) != ddf.npartitions
    if progress and recount:
        progress(0.1, f"counting the labelled rows of {ddf.npartitions} partitions")
    with worker_deaths("computing the every-row statistics"):
        lengths = counted
        if recount:
            # Counted on the whole frame, not on ddf[target]: a one-column read may fuse partitions,
            # and these counts must line up with the partitions scored below.
            lengths = client.compute(ddf.map_partitions(R.count_labelled, plan.target, meta=(None, "int64"))).result()
        if len(lengths) != ddf.npartitions:
            raise RuntimeError(f"counted {len(lengths)} partitions of {ddf.npartitions}")  # a bug, never the user's input
        if progress:
            progress(0.3, f"scoring and counting {int(sum(lengths)):,} rows on {rows.engine}")
        # The plan (with the model) goes to the cluster once, as one key, not inside every task.
        shipped = dask.delayed(plan, name=f"population-plan-{uuid.uuid4().hex}")
        prepared = ddf.map_partitions(R.prepare_rows, shipped, meta=R.meta(plan))
        return population_dask(prepared, spec, client, engine=rows.engine, lengths=[int(n) for n in lengths])


def _gaps(groups_of: Mapping[str, Mapping[str, GroupRates]], min_size: int) -> tuple[dict[str, dict[str, float | None]], list[str]]:
    gaps: dict[str, dict[str, float | None]] = {}
    small = []
    for key, groups in groups_of.items():
        if key == "overall":
            continue
        big = {g: r for g, r in groups.items() if r.n >= min_size}
        small += [f"{key}={g} ({r.n:,} rows)" for g, r in groups.items() if r.n < min_size]
        gaps[key] = {}
        for m in GAP_METRICS:
            vals = [r.rates[m] for r in big.values() if r.rates[m] is not None]
            gaps[key][m] = max(vals) - min(vals) if len(vals) >= 2 else None
    return gaps, small


def _findings(groups_of, gaps, options: PopulationOptions, min_size: int, prefix: str = "") -> tuple[list[str], list[str]]:
    """Fails and warnings of one set of group rates (a binary model's, or one class's one-vs-rest)."""
    fails, warns = [], []
    for key, g in gaps.items():
        sel, tpr, fpr = g["selection_rate"], g["tpr"], g["fpr"]
        if sel is not None and sel > options.warn_parity_difference:
            warns.append(f"{prefix}{key}: every-row selection rates differ by {sel:.3f} (above {options.warn_parity_difference})")
        eo = max((x for x in (tpr, fpr) if x is not None), default=None)
        if eo is not None and eo > options.warn_equalized_odds_difference:
            warns.append(f"{prefix}{key}: every-row TPR/FPR differ by up to {eo:.3f} (above {options.warn_equalized_odds_difference})")
        fails += [prefix + f for f in _four_fifths(key, groups_of[key], options, min_size)]
    return fails, warns


def _verdict(fails: list[str], warns: list[str], small: list[str], n: int) -> Verdict:
    warns = list(warns)
    if small:
        warns.append(f"groups below the minimum size, left out of the verdict: {', '.join(small[:10])}")
    passes = [] if (fails or warns) else [
        f"over every one of {n:,} rows, group selection rates, TPRs and FPRs are within the thresholds"]
    return decide(fails, warns, passes)


def _worst_class(stats: PopulationStats, options: PopulationOptions, min_size: int):
    """The class whose one-vs-rest findings are worst (fails, then warnings, then the widest
    selection-rate gap), with every class's gaps and the findings of all classes."""
    per_gaps, fails, warns, rank = {}, [], [], []
    for c, groups_of in stats.per_class.items():
        gaps, _ = _gaps(groups_of, min_size)
        f, w = _findings(groups_of, gaps, options, min_size, prefix=f"class {c}, ")
        per_gaps[c], fails, warns = gaps, fails + f, warns + w
        widest = max((g["selection_rate"] for g in gaps.values() if g["selection_rate"] is not None), default=0.0)
        rank.append((2 if f else 1 if w else 0, widest, c))
    worst = max(rank, key=lambda r: r[:2])[2]  # max keeps the first of equals: the first class in code order
    return worst, per_gaps, fails, warns


def _four_fifths(key: str, groups: Mapping[str, GroupRates], options: PopulationOptions, min_size: int) -> list[str]:
    big = [(g, r) for g, r in groups.items() if r.n >= min_size and r.rates["selection_rate"] is not None]
    if len(big) < 2:
        return []
    lo_g, lo = min(big, key=lambda x: x[1].rates["selection_rate"])
    hi_g, hi = max(big, key=lambda x: x[1].rates["selection_rate"])
    low, high = lo.rates["selection_rate"], hi.rates["selection_rate"]
    apart = (lo.intervals["selection_rate"][1] or low) < (hi.intervals["selection_rate"][0] or high)
    if high > 0 and low / high < options.four_fifths and apart:
        return [f"{key}: the selection rate of {lo_g} ({low:.3f}) is {low / high:.2f} of {hi_g}'s ({high:.3f}), "
                f"below the four-fifths rule ({options.four_fifths}), over every row"]
    return []


def audit_population(trained, *, options: PopulationOptions, seed: int, progress=None, rows=None) -> PopulationReport:
    """Every-row statistics: over ``rows`` on its cluster, else over the dataset's frame in this process."""
    ds = trained.dataset
    if ds.task not in ("binary", "multiclass"):
        raise SectionNotRun(f"every-row statistics are computed for binary and multiclass targets; this target is {ds.task}")
    plan = R.make_plan(ds, row_scorer(trained, rows is not None))
    spec = PopulationSpec(R.LABEL, R.SCORE, tuple(ds.sensitive), threshold=float(trained.report.decision_threshold),
                          bootstrap=options.bootstrap, seed=seed, bins=options.auc_bins, intersections=options.intersections,
                          confidence=options.confidence, classes=plan.classes, pred=R.PRED)
    if rows is None:
        stats = _stats_local(trained, spec, plan, options.block_rows)
        in_table, every = ds.rows_in_file, not ds.sampled
    else:
        stats = _stats_cluster(rows, spec, plan, progress)
        in_table, every = rows.rows_total, True
    min_size = int(ds.options.min_group_size)
    worst, per_gaps = None, {}
    if stats.classes:
        worst, per_gaps, fails, warns = _worst_class(stats, options, min_size)
        stats = replace(stats, groups=stats.per_class[worst])
    gaps, small = _gaps(stats.groups, min_size)
    if not stats.classes:
        fails, warns = _findings(stats.groups, gaps, options, min_size)
    fitted = 0 if trained.selected == "user" else int(trained.report.n_train)
    return PopulationReport(
        rows=stats.rows, rows_in_table=int(in_table), every_row=every, engine=stats.engine, sample_rows=ds.n_rows,
        model=str(trained.selected), model_fitted_on=fitted, min_group_size=min_size,
        statement=_statement(stats, in_table, every, ds.n_rows, fitted, worst), stats=stats, gaps=gaps,
        small_groups=tuple(small), verdict=_verdict(fails, warns, small, stats.rows), worst_class=worst,
        per_class_gaps=per_gaps)


def _statement(stats: PopulationStats, in_table: int, every: bool, sample_rows: int, fitted: int, worst: str | None) -> str:
    if not every:
        text = f"Computed on a seeded sample of {stats.rows:,} of the table's {in_table:,} rows (data.max_rows)"
    elif stats.rows < in_table:
        text = f"Computed on every row of the table with a target: {stats.rows:,} of its {in_table:,} rows"
    else:
        text = f"Computed on every row of the table: {stats.rows:,} rows"
    text += f", on {stats.engine}. The sampled sections audited {sample_rows:,} rows."
    if worst is not None:
        text += (f" Each of the {len(stats.classes)} classes is read one-vs-rest; the group rates shown first are "
                 f"those of class {worst}, the worst by the verdict.")
    if fitted:
        return text + f" The model was fitted on {fitted:,} of these rows, so its every-row accuracy is partly in-sample."
    return text + " Which rows your model was trained on is not known to the audit."


__all__ = ["PopulationOptions", "PopulationReport", "audit_population"]
