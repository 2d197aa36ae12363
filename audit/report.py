"""The audit report: a manifest, the models, one entry per registered section, and a scorecard.

``AuditReport.to_json`` / ``AuditReport.from_json`` round-trip exactly. The
sections, their report classes and their order come from
:mod:`audit.sections.registry`; ``tests/test_report.py`` fails when a section does
not round-trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.config import DataOptions
from audit.data import ColumnSchema
from audit.errors import AuditError
from audit.models.baselines import ModelsReport
from audit.sections import registry
from audit.upgrade import upgrade
from audit.serial import ReportMixin, from_jsonable, to_jsonable
from audit.verdict import Verdict, worst

REPORT_FORMAT = "rai-audit-report/5"  # audit/upgrade.py reads the older ones

# Caps on a report read from JSON (someone else's file, via "Open a saved report"): a real
# report is a few MB and nests about 8 deep; past these it is refused, not parsed on.
MAX_REPORT_MB = 64
MAX_REPORT_DEPTH = 64
MAX_REPORT_VALUES = 5_000_000


@dataclass(frozen=True)
class SectionTiming(ReportMixin):
    """How a section ran: ``done``, ``skipped`` (not requested or not available), ``not run`` (the
    audited model lacks what it needs; ``message`` says what) or ``error``."""

    name: str
    status: str
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class DatasetInfo(ReportMixin):
    """A data file the audit read (the training data, or the current data for drift)."""

    name: str
    sha256: str
    rows: int
    columns: int


@dataclass(frozen=True)
class Manifest(ReportMixin):
    """What was audited, how, and with what."""

    format: str
    tool_version: str
    dataset: DatasetInfo
    rows_used: int
    sampled: bool
    target: str
    sensitive: tuple[str, ...]
    task: str
    positive_label: str | None
    features: tuple[str, ...]
    excluded: Mapping[str, str]
    schema: tuple[ColumnSchema, ...]
    warnings: tuple[str, ...]
    config: Mapping[str, Any]
    seed: int
    python: str
    libraries: Mapping[str, str]
    started_at: str
    duration_seconds: float
    timings: tuple[SectionTiming, ...]
    current_dataset: DatasetInfo | None = None
    # Composition of the audited rows, for the datasheet: sensitive column -> group -> rows; label -> rows.
    group_sizes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    label_counts: Mapping[str, int] = field(default_factory=dict)
    # Where the audit ran (audit.engine.cluster.EngineSpec.label); reports before the engine existed ran locally.
    engine: str = "local (one process)"

    @property
    def data_options(self) -> DataOptions:
        """The ``[data]`` options the audit ran with (the defaults where the report records none)."""
        return DataOptions.from_dict(self.config.get("data") or {})

    @property
    def section_options(self) -> Mapping[str, Any]:
        """The raw per-section tables of the audit's config (``fairness``, ``modelcard``, ...)."""
        opts = self.config.get("section_options")
        return opts if isinstance(opts, Mapping) else {}


@dataclass(frozen=True)
class AuditReport:
    """The whole audit.

    ``sections`` maps every registered section name to its report, or ``None`` when
    it did not run (``null`` in JSON). Each is also an attribute: ``report.fairness``.
    ``imported_from`` names the file a report was opened from (the dashboard's "Open a
    saved report"): its verdicts were not computed by this installation, and every view
    and card of it says so. ``None`` for a report computed here.
    """

    manifest: Manifest
    models: ModelsReport | None = None
    sections: Mapping[str, Any] = field(default_factory=dict)
    scorecard: Mapping[str, Verdict] = field(default_factory=dict)
    imported_from: str | None = None

    def __post_init__(self) -> None:
        reg = registry.active()
        unknown = [n for n in self.sections if n not in reg]
        if unknown:
            raise AuditError(f"not a valid audit report: unknown sections {unknown}")
        object.__setattr__(self, "sections", {n: self.sections.get(n) for n in reg.names})

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: section names read as attributes.
        # __dict__ is read directly because unpickling calls this before fields exist.
        if name.startswith("_") or name not in registry.active():
            raise AttributeError(name)
        return self.__dict__.get("sections", {}).get(name)

    def section(self, name: str) -> Any:
        """The report of section ``name``, or ``None`` when it did not run."""
        if name not in registry.active():
            raise KeyError(f"unknown section {name!r}")
        return self.sections.get(name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manifest": self.manifest.to_dict()}
        out["models"] = None if self.models is None else to_jsonable(self.models)
        for name, sec in self.sections.items():
            out[name] = None if sec is None else to_jsonable(sec)
        out["scorecard"] = {k: v.to_dict() for k, v in self.scorecard.items()}
        if self.imported_from is not None:  # absent for reports computed here: their JSON is unchanged
            out["imported_from"] = self.imported_from
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuditReport":
        try:
            data = upgrade(data, REPORT_FORMAT)
            manifest = Manifest.from_dict(data["manifest"])
            raw_models = data.get("models")
            models = None if raw_models is None else from_jsonable(ModelsReport, raw_models)
            sections = {}
            for spec in registry.active():
                raw = data.get(spec.name)
                sections[spec.name] = None if raw is None else from_jsonable(spec.report_type(), raw)
            scorecard = {k: Verdict.from_dict(v) for k, v in (data.get("scorecard") or {}).items()}
            imported = data.get("imported_from")
            if imported is not None and not isinstance(imported, str):
                raise TypeError(f"imported_from must be a file name, got {type(imported).__name__}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, AuditError):
                raise
            raise AuditError(f"not a valid audit report: {exc!r}") from exc
        return cls(manifest=manifest, models=models, sections=sections, scorecard=scorecard, imported_from=imported)

    @classmethod
    def from_json(cls, text: str | bytes, *, imported_from: str | None = None) -> "AuditReport":
        """Parse a report, refusing one over ``MAX_REPORT_MB``, ``MAX_REPORT_DEPTH`` or ``MAX_REPORT_VALUES``.

        ``imported_from``: the file name of a report someone supplied; it marks the report as imported
        (overriding whatever the file says).
        """
        if len(text) > MAX_REPORT_MB * 1024 * 1024:
            raise AuditError(f"not a valid audit report: {len(text) / 1048576:,.1f} MB, over the {MAX_REPORT_MB} MB cap")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AuditError(f"not a valid audit report: the JSON does not parse ({exc})") from exc
        except RecursionError as exc:  # the C decoder gives up near Python's recursion limit
            raise AuditError(_E_DEEP) from exc
        except UnicodeDecodeError as exc:
            raise AuditError(f"not a valid audit report: the file is not UTF-8 text ({exc.reason})") from exc
        _check_shape(data)
        if not isinstance(data, dict) or "manifest" not in data:
            raise AuditError("not a valid audit report: no manifest found")
        report = cls.from_dict(data)
        if imported_from is not None:
            object.__setattr__(report, "imported_from", imported_from)
        return report

    def missing(self) -> dict[str, tuple[str, str]]:
        """Scorecard area -> (status, reason) of each section with no report, from the manifest's timings
        ("not run" with what it needs, "skipped" with why), so every reader can say why an area is empty."""
        reg = registry.active()
        said = {t.name: (t.status, t.message) for t in self.manifest.timings}
        out: dict[str, tuple[str, str]] = {}
        for spec in reg:
            if self.sections.get(spec.name) is None and spec.scorecard_area not in self.scorecard:
                status, why = said.get(spec.name, ("not run", ""))
                out.setdefault(spec.scorecard_area, (status, why or "the section was not run"))
        return out

    def sections_present(self) -> tuple[str, ...]:
        return tuple(n for n, sec in self.sections.items() if sec is not None)

    @property
    def overall_status(self) -> str:
        return worst([v.status for v in self.scorecard.values()])


_E_DEEP = f"not a valid audit report: nested deeper than {MAX_REPORT_DEPTH} levels"


def _check_shape(data: Any) -> None:
    """Depth and value count of parsed JSON, walked without recursion (the walk must not overflow either)."""
    stack, values = [(data, 1)], 0
    while stack:
        obj, depth = stack.pop()
        values += 1
        if depth > MAX_REPORT_DEPTH:
            raise AuditError(_E_DEEP)
        if values > MAX_REPORT_VALUES:
            raise AuditError(f"not a valid audit report: more than {MAX_REPORT_VALUES:,} values")
        if isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)


__all__ = ["AuditReport", "Manifest", "SectionTiming", "DatasetInfo", "REPORT_FORMAT"]
