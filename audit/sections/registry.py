"""The one list of audit sections.

Every reader of "which sections exist" asks this module: config validation, the
pipeline's order and inputs, the report's fields and JSON round-trip, the
scorecard, the model card's section list and the dashboard's navigation. Adding a
section is one :class:`SectionSpec` here plus its module (see CONTRIBUTING.md).

Section modules are imported lazily (``SectionSpec.load``): importing the registry
costs nothing, so ``python -m audit --help`` and config validation stay fast.

Tests may swap the registry for a temporary one with :func:`use`; the swap is
process-wide (the pipeline's worker threads see it too), so it is for tests only.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SectionInputs:
    """What the pipeline offers a section beyond the trained models: earlier results, the drift
    data, and where every row of the table is (``rows``: an ``audit.engine.sample.ClusterRows``
    when the table was read on a cluster; ``None`` when the dataset's frame holds every row)."""

    results: Mapping[str, Any]
    current: Any = None
    reference: Any = None
    rows: Any = None
    current_source: Any = None  # the current table's path when its every row is compared on the cluster
    options: Mapping[str, Any] = field(default_factory=dict)  # every requested section's typed options


class SectionNotRun(Exception):
    """Raised by a section's entry function that cannot run on this audit; the message says why.

    The pipeline records it as the section's ``not run`` timing and leaves its report null,
    so a section never stands in a placeholder for a result it could not compute.
    """


def _no_inputs(ctx: SectionInputs) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class SectionSpec:
    """How a section is named, found, ordered and shown.

    name : key in the config, the report JSON and the scorecard.
    title, icon : how the dashboard and the model card name it (icon: a Material icon name).
    module : dotted module path exposing ``function``, ``options_class`` and ``report_class``.
    after : sections whose results it reads (run first when both are requested).
    preload : heavy modules it imports lazily; the pipeline imports them first in the
        caller's thread (two threads importing one package at once can deadlock).
    priority : submission order among sections of equal estimated cost, lower first.
    cost : measured (table rows, seconds inside the whole audit) points: sections start in the order
        of their cost at the audited table's size (:meth:`estimate`), longest first, so the two slots
        end close together (privacy is the longest on 1,000 rows, fairness on 50,000 and more).
    inputs : builds the section's extra keyword arguments from :class:`SectionInputs`.
    area : its scorecard area (default: its name).
    card_appendix : the model card gives it a section of its own after the ethical
        considerations (performance and fairness are woven into the card's body instead).
    on_cluster : its work runs on the cluster's workers when the audit has one; the pipeline
        then starts it first, beside (not in) the local sections' slots.
    """

    name: str
    title: str
    module: str
    function: str
    options_class: str
    report_class: str
    icon: str = "article"
    after: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    priority: int = 50
    cost: tuple[tuple[int, float], ...] = ()
    inputs: Callable[[SectionInputs], dict[str, Any]] = _no_inputs
    area: str = ""
    card_appendix: bool = True
    on_cluster: bool = False

    @property
    def scorecard_area(self) -> str:
        return self.area or self.name

    def estimate(self, rows: int) -> float:
        """Expected seconds on a table of ``rows`` rows: ``cost`` interpolated in log rows (0 without it)."""
        if not self.cost:
            return 0.0
        points = sorted((math.log10(max(r, 1)), s) for r, s in self.cost)
        x = math.log10(max(rows, 1))
        if x <= points[0][0]:
            return points[0][1]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if x <= x1:  # plain Python: this module is imported by --help, numpy is not
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return points[-1][1]

    def load(self):
        return importlib.import_module(self.module)

    def entry(self) -> Callable[..., Any]:
        return getattr(self.load(), self.function)

    def options_type(self) -> type:
        return getattr(self.load(), self.options_class)

    def report_type(self) -> type:
        return getattr(self.load(), self.report_class)


@dataclass(frozen=True)
class Registry:
    """An ordered set of section specs. Order is the order of report keys, pages and card sections."""

    specs: tuple[SectionSpec, ...]
    _by_name: Mapping[str, SectionSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {s.name: s for s in self.specs}
        if len(by_name) != len(self.specs):
            raise ValueError("section names must be unique")
        for s in self.specs:
            unknown = [d for d in s.after if d not in by_name]
            if unknown:
                raise ValueError(f"section {s.name!r} runs after unknown sections {unknown}")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    def __getitem__(self, name: str) -> SectionSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[SectionSpec]:
        return iter(self.specs)

    def with_section(self, spec: SectionSpec) -> "Registry":
        """A new registry with ``spec`` appended (for tests and plug-ins)."""
        return Registry((*self.specs, spec))

    @property
    def scorecard_areas(self) -> tuple[str, ...]:
        """Areas of the scorecard in display order: the data first, then one per section."""
        return ("data", *dict.fromkeys(s.scorecard_area for s in self.specs))


def _robustness_inputs(ctx: SectionInputs) -> dict[str, Any]:
    # Flip tests on the strongest proxy of each sensitive column, when fairness runs: found by
    # robustness itself as fairness finds them, so the two run side by side.
    fair = ctx.results.get("fairness")
    if fair is not None:
        return {"proxies": fair.strongest_proxies()}
    return {"fairness_options": ctx.options["fairness"]} if "fairness" in ctx.options else {}


def _drift_inputs(ctx: SectionInputs) -> dict[str, Any]:
    every_row = (ctx.rows, ctx.current_source) if ctx.rows is not None and ctx.current_source else None
    return {"current": ctx.current, "reference": ctx.reference, "every_row": every_row}


def _population_inputs(ctx: SectionInputs) -> dict[str, Any]:
    return {"rows": ctx.rows}


_ART_EVASION = (
    "art.attacks.evasion.hop_skip_jump",
    "art.attacks.evasion.projected_gradient_descent.projected_gradient_descent_numpy",
    "art.estimators.classification.blackbox",
    "art.estimators.classification.scikitlearn",
)

# Costs: each section's seconds inside the whole audit of German credit (1,000 rows), Adult (48,842)
# and Adult resampled to 1,000,000 rows (bench/README.md, "Speed", 2026-12-04); the scheduler starts
# the longest first at the audited table's size. Priorities break ties (a plug-in has no cost).
_ROWS = (1_000, 48_842, 1_000_000)


def _cost(*seconds: float) -> tuple[tuple[int, float], ...]:
    return tuple(zip(_ROWS, seconds))


BUILTIN = Registry((
    SectionSpec("performance", "Performance", "audit.sections.performance", "audit_performance",
                "PerformanceOptions", "PerformanceReport", icon="speed", priority=5, cost=_cost(0.2, 2.4, 18.3),
                card_appendix=False),
    SectionSpec("fairness", "Fairness", "audit.sections.fairness", "audit_fairness", "FairnessOptions",
                "FairnessReport", icon="balance", priority=1, cost=_cost(1.4, 6.5, 52.9), card_appendix=False,
                preload=("fairlearn.metrics", "fairlearn.reductions", "fairlearn.postprocessing")),
    SectionSpec("explanations", "Explanations", "audit.sections.explanations", "explain_model",
                "ExplanationOptions", "ExplanationReport", icon="lightbulb", priority=4, cost=_cost(0.6, 2.2, 11.7),
                preload=("shap",)),
    SectionSpec("robustness", "Robustness", "audit.sections.robustness", "audit_robustness",
                "RobustnessOptions", "RobustnessReport", icon="shield", priority=2, cost=_cost(1.8, 5.2, 9.2),
                preload=_ART_EVASION, inputs=_robustness_inputs),
    SectionSpec("drift", "Drift", "audit.sections.drift", "audit_drift", "DriftOptions", "DriftReport",
                icon="trending_up", priority=6, cost=_cost(0.5, 1.1, 4.2), inputs=_drift_inputs),
    SectionSpec("privacy", "Privacy", "audit.sections.privacy", "audit_privacy", "PrivacyOptions",
                "PrivacyReport", icon="lock", priority=3, cost=_cost(0.9, 2.9, 9.3),
                # No opacus: the default fused trainer and RDP accounting never import it (1.2 s).
                # No torch either (1.0 s): the fused trainer draws torch's initialisation in numpy
                # (privacy/torch_rng.py); the Opacus trainer imports it when chosen.
                preload=("art.attacks.inference.membership_inference", "art.estimators.classification.scikitlearn")),
    # Last in the report: it restates performance and fairness over every row of the table.
    SectionSpec("population", "Every row", "audit.sections.population", "audit_population", "PopulationOptions",
                "PopulationReport", icon="groups", priority=7, cost=_cost(0.1, 0.8, 11.4), inputs=_population_inputs,
                on_cluster=True),
))

_active: Registry = BUILTIN


def active() -> Registry:
    """The registry every reader uses."""
    return _active


@contextlib.contextmanager
def use(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the active one for the duration of the block (tests)."""
    global _active
    before, _active = _active, registry
    try:
        yield registry
    finally:
        _active = before


__all__ = ["BUILTIN", "Registry", "SectionInputs", "SectionNotRun", "SectionSpec", "active", "use"]
