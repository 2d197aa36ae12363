"""Differences between two audit reports, for the history page and reviewers.

The comparison walks the JSON form of both reports recursively instead of knowing
each section's shape, so sections written later are compared without changes here;
the drifted features are read from the typed report (``AuditReport.drift``). A plain
dict (a report of another format version, which the typed report cannot load) is
compared as JSON only. Exported through :mod:`audit.store.core`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.errors import StoreError
from audit.report import AuditReport
from audit.serial import ReportMixin

# Keys that name an element of a list of objects, so that lists are matched by
# element (feature "age" with feature "age") rather than by position, which
# shifts when a feature is added or the order changes.
_ID_KEYS = ("name", "feature", "metric", "group", "attribute", "id")


@dataclass(frozen=True)
class MetricDelta(ReportMixin):
    """A number present in both reports at ``path`` with a different value."""

    path: str
    before: float
    after: float
    delta: float


@dataclass(frozen=True)
class ValueChange(ReportMixin):
    """A non-numeric value (text, flag, null, or a change of type) that differs at ``path``."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class SectionComparison(ReportMixin):
    """Everything that differs inside one top-level report section."""

    section: str
    deltas: tuple[MetricDelta, ...]
    changes: tuple[ValueChange, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]


@dataclass(frozen=True)
class ReportComparison(ReportMixin):
    """Differences between report A (before) and report B (after).

    ``sections`` lists only the top-level sections that differ; an absent section
    is identical in both. ``newly_drifted`` / ``no_longer_drifted`` are empty unless
    both reports list drifted features.
    """

    sections: tuple[SectionComparison, ...]
    newly_drifted: tuple[str, ...]
    no_longer_drifted: tuple[str, ...]

    def section(self, name: str) -> SectionComparison | None:
        """The comparison of one section, or None if it is the same in both reports."""
        return next((s for s in self.sections if s.section == name), None)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_container(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def _labelled(items: list | tuple) -> dict[str, Any]:
    for key in _ID_KEYS:
        labels = [item.get(key) if isinstance(item, Mapping) else None for item in items]
        if all(isinstance(v, str) for v in labels) and len(set(labels)) == len(labels):
            return {f"[{key}={label}]": item for label, item in zip(labels, items)}
    return {f"[{i}]": item for i, item in enumerate(items)}


class _Walk:
    def __init__(self) -> None:
        self.deltas: list[MetricDelta] = []
        self.changes: list[ValueChange] = []
        self.only_a: list[str] = []
        self.only_b: list[str] = []

    def compare(self, a: Any, b: Any, path: str) -> None:
        # A null section or value next to a filled one counts as missing, not as a change.
        if a is None and _is_container(b):
            self.only_b.append(path)
        elif b is None and _is_container(a):
            self.only_a.append(path)
        elif _is_number(a) and _is_number(b):
            if a != b and not (math.isnan(a) and math.isnan(b)):
                self.deltas.append(MetricDelta(path=path, before=float(a), after=float(b), delta=float(b) - float(a)))
        elif isinstance(a, Mapping) and isinstance(b, Mapping):
            self._children({str(k): v for k, v in a.items()}, {str(k): v for k, v in b.items()}, path, ".")
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            self._children(_labelled(a), _labelled(b), path, "")
        elif a != b or isinstance(a, bool) != isinstance(b, bool):  # True == 1 in Python, not in JSON
            self.changes.append(ValueChange(path=path, before=a, after=b))

    def _children(self, a: dict[str, Any], b: dict[str, Any], path: str, sep: str) -> None:
        for key in list(a) + [k for k in b if k not in a]:
            child = f"{path}{sep}{key}"
            if key not in b:
                self.only_a.append(child)
            elif key not in a:
                self.only_b.append(child)
            else:
                self.compare(a[key], b[key], child)


def _drifted(report: AuditReport | Mapping[str, Any]) -> set[str] | None:
    if isinstance(report, AuditReport):
        if report.drift is None:
            return None
        return {f.feature for f in report.drift.data.features if f.drifted}
    return _drifted_in_json(report)


def _drifted_in_json(report: Mapping[str, Any]) -> set[str] | None:
    """The drifted features of report JSON the typed report cannot load (another format version)."""
    drift = report.get("drift")
    if isinstance(drift, Mapping) and isinstance(drift.get("data"), Mapping):
        drift = drift["data"]  # the drift section nests its per-feature results under "data"
    features = drift.get("features") if isinstance(drift, Mapping) else None
    if isinstance(features, Mapping):
        pairs = [(str(name), item) for name, item in features.items()]
    elif isinstance(features, (list, tuple)):
        pairs = [(item.get("name", item.get("feature")), item) for item in features if isinstance(item, Mapping)]
    else:
        return None
    return {str(name) for name, item in pairs
            if name is not None and isinstance(item, Mapping) and item.get("drifted") is True}


def compare_reports(report_a: AuditReport | Mapping[str, Any], report_b: AuditReport | Mapping[str, Any]) -> ReportComparison:
    """Compare two reports (A before, B after), grouped by top-level section.

    Every numeric leaf present in both at the same JSON path with a different value
    gives a :class:`MetricDelta` (e.g. ``performance.metrics.accuracy.value``);
    differing text, flags or types give a :class:`ValueChange`; keys found in one
    report only are listed by path (a null or missing section counts as missing).
    Lists of objects are matched by a ``name``/``feature``/``metric``/... key when
    every element has a distinct one (path ``drift.features[name=age].p_value``),
    otherwise by position (``[0]``). Booleans are not numbers here.

    Parameters
    ----------
    report_a, report_b : AuditReport or Mapping
        Typed reports (``AuditReport.from_json(record.report_json)``), or parsed report JSON
        of a format the typed report cannot load.

    Returns
    -------
    ReportComparison

    Raises
    ------
    StoreError
        If either report is not a JSON object.
    """
    for name, report in (("report_a", report_a), ("report_b", report_b)):
        if not isinstance(report, (AuditReport, Mapping)):
            raise StoreError(f"{name} must be a report object (AuditReport or dict), got {type(report).__name__}")
    json_a, json_b = (r.to_dict() if isinstance(r, AuditReport) else r for r in (report_a, report_b))
    sections = []
    for key in list(json_a) + [k for k in json_b if k not in json_a]:
        walk = _Walk()
        walk._children({key: json_a[key]} if key in json_a else {}, {key: json_b[key]} if key in json_b else {},
                       "", "")
        if walk.deltas or walk.changes or walk.only_a or walk.only_b:
            sections.append(SectionComparison(
                section=str(key), deltas=tuple(walk.deltas), changes=tuple(walk.changes),
                only_in_a=tuple(walk.only_a), only_in_b=tuple(walk.only_b)))
    drifted_a, drifted_b = _drifted(report_a), _drifted(report_b)
    both = drifted_a is not None and drifted_b is not None
    return ReportComparison(
        sections=tuple(sections),
        newly_drifted=tuple(sorted(drifted_b - drifted_a)) if both else (),
        no_longer_drifted=tuple(sorted(drifted_a - drifted_b)) if both else (),
    )
