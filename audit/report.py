"""The audit report: a manifest, one entry per section, and a scorecard.

``AuditReport.to_json`` / ``AuditReport.from_json`` round-trip exactly. Section
classes are looked up in ``SECTION_TYPES`` by dotted path, so adding a section
means adding one line here and its module; ``tests/test_report.py`` fails when a
section type is missing from the round-trip.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.serial import ReportMixin, from_jsonable, to_jsonable
from audit.config import DataOptions
from audit.data import ColumnSchema
from audit.errors import AuditError
from audit.verdict import Verdict

REPORT_FORMAT = "rai-audit-report/1"

# Section name -> "module:Class". Order is the order of the JSON keys.
SECTION_TYPES: dict[str, str] = {
    "models": "audit.models.baselines:ModelsReport",
    "performance": "audit.sections.performance:PerformanceReport",
    "fairness": "audit.sections.fairness.section:FairnessReport",
    "explanations": "audit.sections.explanations.section:ExplanationReport",
    "robustness": "audit.sections.robustness.section:RobustnessReport",
    "drift": "audit.sections.drift.section:DriftReport",
    "privacy": "audit.sections.privacy.section:PrivacyReport",
}
SCORECARD_AREAS = ("data", "performance", "fairness", "explanations", "robustness", "drift", "privacy")


def section_class(name: str) -> type:
    module, cls = SECTION_TYPES[name].split(":")
    return getattr(importlib.import_module(module), cls)


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
    """The whole audit. Sections not run are ``None`` (``null`` in JSON)."""

    manifest: Manifest
    models: Any = None
    performance: Any = None
    fairness: Any = None
    explanations: Any = None
    robustness: Any = None
    drift: Any = None
    privacy: Any = None
    scorecard: Mapping[str, Verdict] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manifest": self.manifest.to_dict()}
        for name in SECTION_TYPES:
            sec = getattr(self, name)
            out[name] = None if sec is None else to_jsonable(sec)
        out["scorecard"] = {k: v.to_dict() for k, v in self.scorecard.items()}
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuditReport":
        try:
            manifest = Manifest.from_dict(data["manifest"])
            kwargs: dict[str, Any] = {}
            for name in SECTION_TYPES:
                raw = data.get(name)
                kwargs[name] = None if raw is None else from_jsonable(section_class(name), raw)
            scorecard = {k: Verdict.from_dict(v) for k, v in (data.get("scorecard") or {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, AuditError):
                raise
            raise AuditError(f"not a valid audit report: {exc!r}") from exc
        return cls(manifest=manifest, scorecard=scorecard, **kwargs)

    @classmethod
    def from_json(cls, text: str | bytes) -> "AuditReport":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AuditError(f"not a valid audit report: the JSON does not parse ({exc})") from exc
        if not isinstance(data, dict) or "manifest" not in data:
            raise AuditError("not a valid audit report: no manifest found")
        return cls.from_dict(data)

    def sections_present(self) -> tuple[str, ...]:
        return tuple(n for n in SECTION_TYPES if getattr(self, n) is not None)

    @property
    def overall_status(self) -> str:
        from audit.verdict import worst

        return worst([v.status for v in self.scorecard.values()])


__all__ = ["AuditReport", "Manifest", "SectionTiming", "DatasetInfo", "SECTION_TYPES", "SCORECARD_AREAS", "section_class"]
