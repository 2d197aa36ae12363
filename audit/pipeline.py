"""run_audit: data -> models -> sections -> AuditReport, with progress.

Sections after the models are independent and run two at a time (:mod:`audit.engine.local`):
on Linux each in a forked process of its own (two threads would share one GIL), elsewhere and
on a cluster on a small thread pool. Progress callbacks are always called from the caller's
thread, so a Streamlit page can pass a callback that draws.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import pandas as pd

from audit import __version__
from audit.config import AuditConfig
from audit.data import Dataset, align_current, frame_sha256, load_dataset, load_table, prepare_dataset
from audit.engine.cluster import EngineSpec, connect, parse_engine, worker_deaths
from audit.engine.local import run_sections
from audit.models.baselines import train_models
from audit.models.loading import ModelFile
from audit.report import REPORT_FORMAT, AuditReport, DatasetInfo, Manifest, SectionTiming
from audit.sections import registry
from audit.sections.registry import SectionNotRun
from audit.verdict import Verdict, decide

Progress = Callable[[str, float, str], None]
DataSource = str | Path | bytes | IO[bytes] | pd.DataFrame | Dataset

LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "fairlearn", "shap", "opacus", "torch", "adversarial-robustness-toolbox",
             "onnxruntime", "skops")


def library_versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def resolve_options(config: AuditConfig) -> dict[str, Any]:
    """Build every requested section's typed options up front, so a bad option fails before any work."""
    reg = registry.active()
    return {name: config.options_for(name, reg[name].options_type()) for name in config.sections}


def _as_dataset(data: DataSource, config: AuditConfig, client=None) -> tuple[Dataset, Any]:
    """The audited rows, and where every row is (``ClusterRows`` on a cluster; ``None``: the dataset's frame)."""
    if isinstance(data, Dataset):
        return data, None
    if client is not None:
        return _dataset_on_cluster(data, config, client)
    return load_dataset(data, target=config.target, sensitive=config.sensitive, options=config.data, seed=config.seed,
                        predictions=config.model.predictions or None), None


def engine_spec(config: AuditConfig) -> EngineSpec:
    return parse_engine(config.engine.address or None, workers=config.engine.workers)


def _dataset_on_cluster(path: str | Path, config: AuditConfig, client) -> tuple[Dataset, Any]:
    """Read ``path`` (a file, directory or glob) on the cluster; the audit runs on a stratified sample."""
    from audit.engine.sample import ClusterRows, sample_on_cluster

    spec = engine_spec(config)
    with worker_deaths("drawing the sample"):
        got = sample_on_cluster(path, client, target=config.target, rows=config.engine.sample_rows, seed=config.seed)
    ds = prepare_dataset(got.frame, target=config.target, sensitive=config.sensitive, options=config.data,
                         name=got.name, sha256=got.sha256, seed=config.seed, predictions=config.model.predictions or None)
    note = (f"the table has {got.rows_total:,} rows in {got.files} files; a stratified sample of {ds.n_rows:,} rows, "
            f"drawn on {spec.label}, was audited")
    ds = dataclasses.replace(ds, rows_in_file=got.rows_total, sampled=len(got.frame) < got.rows_labelled,
                             warnings=(*ds.warnings, note))
    return ds, ClusterRows(str(path), client, spec.label, got.rows_total, got.files, got.partition_labelled)


def _as_frame(src: DataSource, config: AuditConfig) -> tuple[pd.DataFrame, DatasetInfo]:
    if isinstance(src, Dataset):
        return src.frame, DatasetInfo(src.name, src.sha256, src.n_rows, src.frame.shape[1])
    if isinstance(src, pd.DataFrame):
        return src, DatasetInfo("data", frame_sha256(src), len(src), src.shape[1])
    frame, name, sha = load_table(src, options=config.data)
    return frame, DatasetInfo(name, sha, len(frame), frame.shape[1])


def _drift_inputs(current: DataSource | None, reference: DataSource | None, dataset: Dataset, config: AuditConfig,
                  client=None) -> tuple[pd.DataFrame | None, DatasetInfo | None, pd.DataFrame | None, str | None]:
    """The current and reference tables aligned to the training schema (``None`` where not given),
    and the current table's path when its every row is compared on the cluster.

    On a cluster a current file, directory or glob is not read into this process: a sample of
    ``[engine] sample_rows`` rows serves the model-based drift, and the feature tests run over
    every row on the cluster (:mod:`audit.engine.drift`)."""
    cur_frame = cur_info = ref_frame = cur_source = None
    if client is not None and reference is None and isinstance(current, (str, Path)):
        from audit.engine.sample import simple_sample_on_cluster

        with worker_deaths("drawing the sample of the current table"):
            got = simple_sample_on_cluster(current, client, rows=config.engine.sample_rows, seed=config.seed)
        cur_frame = align_current(got.frame, dataset)
        return cur_frame, DatasetInfo(got.name, got.sha256, got.rows_total, got.frame.shape[1]), None, str(current)
    if current is not None:
        raw, cur_info = _as_frame(current, config)
        cur_frame = align_current(raw, dataset)
    if reference is not None:
        raw, _ = _as_frame(reference, config)
        ref_frame = align_current(raw, dataset)
    return cur_frame, cur_info, ref_frame, cur_source


def run_audit(
    config: AuditConfig,
    data: DataSource,
    reference: DataSource | None = None,
    *,
    current: DataSource | None = None,
    progress: Progress | None = None,
    workers: int = 2,
    model_file: ModelFile | None = None,
) -> AuditReport:
    """Run the audit described by ``config`` on ``data``.

    Parameters
    ----------
    config : target, sensitive columns, sections, seed and options.
    data : the training data (path, bytes, file object, DataFrame or prepared Dataset).
    reference : the drift reference data (default: the training split).
    current : the data met in use, compared with the reference by the drift audit.
    progress : called as progress(section, fraction, message) from the caller's thread.
    workers : threads for independent sections (1 = sequential).
    model_file : the user's model already read (a dashboard upload); else ``config.model.path``.

    Returns
    -------
    AuditReport
    """
    started = datetime.now(timezone.utc)
    say = progress or (lambda s, f, m: None)
    options = resolve_options(config)
    spec = engine_spec(config)  # a bad engine fails here, before any work
    if not (isinstance(data, (str, Path)) and spec.kind != "local"):
        spec = EngineSpec()  # a frame, upload or prepared dataset is already in this process
    # One connection for the whole run: the sample is drawn and every-row sections run on it.
    with connect(spec) as client:
        return _audit(config, data, reference, current, say=say, workers=workers, model_file=model_file,
                      options=options, engine=spec.label, client=client, started=started)


def _audit(config: AuditConfig, data: DataSource, reference: DataSource | None, current: DataSource | None, *,
           say: Progress, workers: int, model_file: ModelFile | None, options: dict[str, Any], engine: str,
           client: Any, started: datetime) -> AuditReport:
    t_start = time.perf_counter()
    timings: list[SectionTiming] = []
    t0 = time.perf_counter()
    say("data", 0.0, "reading and validating the data")
    dataset, rows = _as_dataset(data, config, client)
    # Only when the table itself was read on the cluster (rows): a frame given in memory keeps the old path.
    cur_frame, cur_info, ref_frame, cur_source = _drift_inputs(current, reference, dataset, config,
                                                               client if rows is not None else None)
    timings.append(SectionTiming("data", "done", time.perf_counter() - t0, f"{dataset.n_rows} rows"))
    say("data", 1.0, f"{dataset.n_rows} rows, {len(dataset.features)} features, task {dataset.task}")

    user = None
    if config.model.active or model_file is not None:
        from audit.models.attach import current_predictions, load_user_model

        # Before the baselines train, so a bad model file (or predictions column) fails in seconds.
        user = load_user_model(config.model, dataset, model_file=model_file)
        cur_frame = current_predictions(user, cur_frame, "current data")
        ref_frame = current_predictions(user, ref_frame, "reference data")
    t0 = time.perf_counter()
    trained = train_models(dataset, options=config.models, seed=config.seed, progress=lambda f, m: say("models", f, m),
                           workers=workers)
    not_run: dict[str, str] = {}
    if user is not None:
        from audit.models.attach import attach_user_model, skipped_sections

        trained = attach_user_model(trained, user, config.model)
        not_run = skipped_sections(trained)
    timings.append(SectionTiming("models", "done", time.perf_counter() - t0))

    reg = registry.active()
    to_run, skipped = _sections_to_run(config, dataset.task, not_run)
    timings += skipped
    results = run_sections(trained, to_run, config, options, say, workers, current=cur_frame, reference=ref_frame,
                            rows=rows, current_source=cur_source)
    timings += [SectionTiming(name, "done", secs, where) if not isinstance(rep, SectionNotRun)
                else SectionTiming(name, "not run", secs, str(rep)) for name, (rep, secs, where) in results.items()]
    order = {n: i for i, n in enumerate(("data", "models", *reg.names))}
    timings.sort(key=lambda t: order.get(t.name, 99))
    reports = {name: rep for name, (rep, _, _) in results.items() if not isinstance(rep, SectionNotRun)}
    scorecard = {"data": _data_verdict(dataset)}
    for spec in reg:
        if reports.get(spec.name) is not None:
            scorecard[spec.scorecard_area] = reports[spec.name].verdict
    manifest = _manifest(config, dataset, started=started, seconds=time.perf_counter() - t_start,
                         timings=tuple(timings), current=cur_info, engine=engine)
    return AuditReport(manifest=manifest, models=trained.report, sections=reports, scorecard=scorecard)


def _sections_to_run(config: AuditConfig, task: str, not_run: dict[str, str]) -> tuple[list[str], list[SectionTiming]]:
    """The requested sections that can run, and a timing entry with the reason for each that cannot."""
    reg = registry.active()
    skipped = [SectionTiming(s.name, "skipped", 0.0, "not requested") for s in reg if s.name not in config.sections]
    to_run = [n for n in reg.names if n in config.sections]
    if task == "multiclass":
        # Never a binary computation passed off on class codes: the section says it did not run.
        unsupported = [n for n in to_run if not getattr(reg[n].load(), "SUPPORTS_MULTICLASS", False)]
        skipped += [SectionTiming(n, "skipped", 0.0, "not available for multiclass targets yet") for n in unsupported]
        to_run = [n for n in to_run if n not in unsupported]
    # Sections the audited model cannot support (e.g. a predictions column and no callable model).
    skipped += [SectionTiming(n, "not run", 0.0, not_run[n]) for n in to_run if n in not_run]
    return [n for n in to_run if n not in not_run], skipped


def _manifest(config: AuditConfig, dataset: Dataset, *, started: datetime, seconds: float,
              timings: tuple[SectionTiming, ...], current: DatasetInfo | None, engine: str) -> Manifest:
    return Manifest(
        format=REPORT_FORMAT,
        tool_version=__version__,
        dataset=DatasetInfo(dataset.name, dataset.sha256, dataset.rows_in_file, len(dataset.columns)),
        rows_used=dataset.n_rows,
        sampled=dataset.sampled,
        target=dataset.target,
        sensitive=dataset.sensitive,
        task=dataset.task,
        positive_label=dataset.positive_label,
        features=dataset.features,
        excluded=dict(dataset.excluded),
        schema=dataset.columns,
        warnings=dataset.warnings,
        config=config.to_dict(),
        seed=config.seed,
        python=platform.python_version(),
        libraries=library_versions(),
        started_at=started.isoformat(timespec="seconds"),
        duration_seconds=seconds,
        timings=timings,
        current_dataset=current,
        engine=engine,
        group_sizes={c: {str(k): int(v) for k, v in dataset.groups[c].value_counts().sort_index().items()} for c in dataset.sensitive},
        label_counts=({str(k): int(v) for k, v in dataset.frame[dataset.target].astype(str).value_counts().sort_index().items()}
                      if dataset.task != "regression" else {}),
    )


def _data_verdict(dataset: Dataset) -> Verdict:
    warns = [w for w in dataset.warnings if "sensitive group" in w or "personal identifier" in w]
    passes = [f"{dataset.n_rows} rows, {len(dataset.features)} features; no data warnings"]
    return decide([], warns, passes)


def gate_failed(report: AuditReport, config: AuditConfig) -> list[str]:
    """Areas that trip the configured gate (empty when the gate passes)."""
    if config.gate.fail_on == "none":
        return []
    bad = {"fail"} if config.gate.fail_on == "fail" else {"fail", "warn"}
    areas = config.gate.areas or tuple(report.scorecard)
    return [a for a in areas if a in report.scorecard and report.scorecard[a].status in bad]


__all__ = ["run_audit", "gate_failed", "resolve_options", "library_versions"]
