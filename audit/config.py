"""Audit configuration: one frozen object that travels through the pipeline.

Section modules own their option dataclasses (``FairnessOptions`` etc.); the
config keeps each section's raw options as a mapping and builds the typed object
on demand with :meth:`AuditConfig.options_for`, which rejects unknown keys. This
keeps the config file flat (one TOML table per section) and means a new section
never edits this module.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from audit.serial import ReportMixin, from_jsonable
from audit.bounds import bounded
from audit.errors import ConfigError
from audit.sections import registry

T = TypeVar("T")

_E_UNKNOWN_SECTION = "unknown section {name!r}: expected some of {expected}"
_E_UNKNOWN_KEY = "unknown option {key!r} in [{section}]: expected some of {expected}"
_E_BAD_VALUE = "option {key!r} in [{section}] must be {tp}, got {value!r}"


@bounded("data")
@dataclass(frozen=True)
class DataOptions(ReportMixin):
    """Options of data intake.

    Parameters
    ----------
    max_file_mb : largest file accepted, in megabytes.
    min_group_size : a sensitive group with fewer rows gets a warning and is
        excluded from fairness verdicts.
    exclude : columns the user excludes from the features.
    immutable : numeric features that attacks must not change.
    column_types : overrides of the inferred kind, column -> "numeric" | "categorical".
    sensitive_as_features : whether models see the sensitive columns (the usual
        audit of a model as deployed); the fairness audit also retrains without them.
    max_rows : rows kept for the audit (a seeded sample when the file is larger; 0 = all).
    max_classes : most classes a categorical target may have (3 or more is multiclass).
    max_uncompressed_mb : largest table after decompression (gzip, or the parts of an
        .xlsx zip), in megabytes; a file past it is refused before it is expanded.
    max_input_rows, max_columns, max_cells : the largest table read (rows, columns,
        rows x columns); a file past any is refused before its frame is built.
    max_excel_cells : the largest .xlsx sheet, in cells; openpyxl parses in pure Python
        (about 30,000-100,000 cells a second), so this bounds the time one upload costs.

    Ranges of every numeric option: :data:`audit.bounds.RANGES`.
    """

    max_file_mb: float = 500.0
    min_group_size: int = 30
    exclude: tuple[str, ...] = ()
    immutable: tuple[str, ...] = ()
    column_types: Mapping[str, str] = field(default_factory=dict)
    sensitive_as_features: bool = True
    max_rows: int = 0
    # Defaults that fit a 24 GB machine: 100M cells is ~0.8 GB as float64 and a few GB as strings.
    max_uncompressed_mb: float = 1000.0
    max_input_rows: int = 10_000_000
    max_columns: int = 5_000
    max_cells: int = 100_000_000
    max_excel_cells: int = 500_000

    max_classes: int = 20

    def __post_init__(self) -> None:
        if not 3 <= self.max_classes <= 1000:
            raise ConfigError(f"data.max_classes must be an integer from 3 to 1000, got {self.max_classes!r}")


@bounded("models")
@dataclass(frozen=True)
class ModelOptions(ReportMixin):
    """Options of baseline training.

    Parameters
    ----------
    test_size, val_size : fractions of rows for the test and validation splits.
    cv_folds : folds of cross-validation on the training split (0 or 1 = skip).
    cv_max_rows : training rows the folds use (a seeded, stratified sample when the split is
        larger; default 50,000; 0 = all). The final fits use the whole training split; the CV
        only measures the baselines' stability, which 50,000 rows measure well (a 1M-row table's
        600,000 training rows made the five folds of each baseline most of the audit's time).
    models : baselines to fit, among "dummy", "logistic", "hist_gb".
    selection_metric : validation metric used to pick the audited model
        ("roc_auc", "accuracy", "balanced_accuracy", "f1" for classification;
        "r2", "neg_mae" for regression). "auto" = roc_auc / r2.
    """

    test_size: float = 0.2
    val_size: float = 0.2
    cv_folds: int = 5
    cv_max_rows: int = 50_000
    models: tuple[str, ...] = ("dummy", "logistic", "hist_gb")
    selection_metric: str = "auto"


@dataclass(frozen=True)
class UserModelOptions(ReportMixin):
    """The ``[model]`` table: audit the user's own model (a file) or its predictions (a column).

    Parameters
    ----------
    path : an ONNX (.onnx) or skops (.skops) file; pickle and joblib are refused.
    predictions : a data column holding the model's output (never a feature).
    threshold : the decision cut on the predictions' scale (a score at or above it is
        positive); needed when they are not probabilities or 0/1.
    features : feature order for an ONNX model with one tensor input.
    evaluate_on : rows judging the model: "all" (every row of the table) or "test".
    max_file_mb : largest model file accepted.
    """

    path: str = ""
    predictions: str = ""
    threshold: float | None = None
    features: tuple[str, ...] = ()
    evaluate_on: str = "all"
    max_file_mb: float = 200.0

    def __post_init__(self) -> None:
        if self.path and self.predictions:
            raise ConfigError("give either a model file ([model] path / --model) or a predictions column, not both")
        if self.evaluate_on not in ("all", "test"):
            raise ConfigError(f"model evaluate_on must be all or test; got {self.evaluate_on!r}")
        if not self.max_file_mb > 0:
            raise ConfigError(f"model max_file_mb must be a positive number of megabytes; got {self.max_file_mb!r}")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(f"model threshold must be a finite number; got {self.threshold!r}")
        if self.threshold is not None and not self.predictions:
            raise ConfigError("model threshold applies to a predictions column; name one with --predictions")

    @property
    def active(self) -> bool:
        return bool(self.path or self.predictions)


@bounded("engine")
@dataclass(frozen=True)
class EngineOptions(ReportMixin):
    """The ``[engine]`` table: where the audit runs.

    Parameters
    ----------
    address : "local" (this process), "dask" (a LocalCluster started for the run) or a
        scheduler address such as "tcp://HOST:8786"; empty = the AUDIT_DASK_SCHEDULER
        environment variable, else local.
    workers : worker processes of the LocalCluster started by "dask".
    sample_rows : on a cluster, the rows of the stratified sample the models are fitted
        on and the sections examine (drawn on the cluster; the table itself never comes
        to this process).
    sections_on_cluster : on a cluster, run each sampled section as a task on the workers
        (default true); false keeps them in threads of the audit process.
    section_processes : on one machine, run each section in a forked process of its own
        (Linux; default true), so two sections never share one Python GIL; false runs them
        in threads of the audit process. Elsewhere, on a cluster and for tables of more than
        200,000 rows (their processes' working copies would add up), sections use threads.
    """

    address: str = ""
    workers: int = 2
    sample_rows: int = 200_000
    sections_on_cluster: bool = True
    section_processes: bool = True


@dataclass(frozen=True)
class GateOptions(ReportMixin):
    """When the CLI exits with status 1.

    ``fail_on`` is "none" (never), "fail" (any area failed) or "warn" (any
    area warned or failed); ``areas`` limits the gate to some areas (empty = all).
    """

    fail_on: str = "none"
    areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditConfig(ReportMixin):
    """Everything that decides what an audit computes.

    Parameters
    ----------
    target : the label column.
    sensitive : the sensitive attribute columns.
    sections : audit sections to run (models always run).
    seed : the one seed every random step derives from.
    data, models, gate, model, engine : typed options.
    section_options : raw per-section options, section name -> mapping; read
        them with :meth:`options_for`.
    """

    target: str
    sensitive: tuple[str, ...] = ()
    sections: tuple[str, ...] = field(default_factory=lambda: registry.active().names)
    seed: int = 0
    data: DataOptions = field(default_factory=DataOptions)
    models: ModelOptions = field(default_factory=ModelOptions)
    gate: GateOptions = field(default_factory=GateOptions)
    model: UserModelOptions = field(default_factory=UserModelOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    section_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = registry.active().names
        for name in self.sections:
            if name not in known:
                raise ConfigError(_E_UNKNOWN_SECTION.format(name=name, expected=", ".join(known)))
        if self.gate.fail_on not in ("none", "fail", "warn"):
            raise ConfigError(
                f"gate fail_on must be one of none, fail, warn; got {self.gate.fail_on!r}"
            )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be a whole number from 0 to {2**32 - 1}; got {self.seed!r}")

    def options_for(self, section: str, cls: type[T]) -> T:
        """Build the typed options of ``section`` from the raw mapping, checking every key."""
        return build_options(cls, self.section_options.get(section, {}), section=section)

    def replace(self, **changes: Any) -> "AuditConfig":
        return dataclasses.replace(self, **changes)


def build_options(cls: type[T], raw: Mapping[str, Any], *, section: str) -> T:
    """Create option dataclass ``cls`` from ``raw``, with clear errors on bad keys or values."""
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise ConfigError(
                _E_UNKNOWN_KEY.format(key=key, section=section, expected=", ".join(sorted(names)))
            )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        tp = hints[key]
        try:
            if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                kwargs[key] = float(value)
            elif tp is int and (not isinstance(value, int) or isinstance(value, bool)):
                raise TypeError
            elif tp is bool and not isinstance(value, bool):
                raise TypeError
            elif tp is str and not isinstance(value, str):
                raise TypeError
            else:
                kwargs[key] = from_jsonable(tp, list(value) if isinstance(value, tuple) else value)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(
                _E_BAD_VALUE.format(key=key, section=section, tp=_type_name(tp), value=value)
            ) from exc
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid options in [{section}]: {exc}") from exc


def _type_name(tp: Any) -> str:
    return {float: "a number", int: "a whole number", bool: "true or false", str: "a string"}.get(
        tp, str(tp).replace("typing.", "")
    )


def config_from_mapping(raw: Mapping[str, Any]) -> AuditConfig:
    """Build an :class:`AuditConfig` from a parsed TOML document (or any mapping)."""
    raw = dict(raw)
    top = {}
    for key in ("target", "sensitive", "sections", "seed"):
        if key in raw:
            top[key] = raw.pop(key)
    if "target" not in top:
        raise ConfigError("the config names no target column: add target = \"COLUMN\"")
    for key in ("sensitive", "sections"):
        if isinstance(top.get(key), str):
            top[key] = [s.strip() for s in top[key].split(",") if s.strip()]
        if key in top and (not isinstance(top[key], (list, tuple)) or not all(isinstance(s, str) for s in top[key])):
            raise ConfigError(f"{key} must be a list of names, got {top[key]!r}")
    # A column named twice would be audited twice, and as its own intersection ("sex x sex").
    top["sensitive"] = list(dict.fromkeys(top.get("sensitive", ())))
    typed = {
        "data": build_options(DataOptions, raw.pop("data", {}), section="data"),
        "models": build_options(ModelOptions, raw.pop("models", {}), section="models"),
        "gate": build_options(GateOptions, raw.pop("gate", {}), section="gate"),
        "model": build_options(UserModelOptions, raw.pop("model", {}), section="model"),
        "engine": build_options(EngineOptions, raw.pop("engine", {}), section="engine"),
    }
    extra = {}
    known = registry.active().names
    for key, value in raw.items():
        if key not in known and key not in ("modelcard", "datasheet"):
            raise ConfigError(
                f"unknown table [{key}] in the config: expected data, models, model, engine, gate, modelcard, "
                f"datasheet or a section ({', '.join(known)})"
            )
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{key}] in the config must be a table of options, got {value!r}")
        extra[key] = dict(value)
    if not isinstance(top["target"], str):
        raise ConfigError(f"target must be a column name, got {top['target']!r}")
    return AuditConfig(
        target=top["target"],
        sensitive=tuple(top.get("sensitive", ())),
        sections=tuple(top.get("sections", known)),
        seed=top.get("seed", 0),
        section_options=extra,
        **typed,
    )


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML config file into a mapping (errors as :class:`ConfigError`)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {p}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
