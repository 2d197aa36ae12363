"""Pure helpers behind the "New audit" form: no streamlit import.

Section options are read from each section's own options dataclass
(found through ``audit.sections.registry``), so the form follows the core when an option is
added or renamed, and only values that differ from the defaults reach the config.
The quick preset names options directly: a renamed one fails config validation
(``tests/test_charts.py``) instead of being dropped quietly.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.config import AuditConfig, config_from_mapping, load_config_file
from audit.data import ColumnSchema
from audit.sections import registry

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data" / "adult.csv.gz"
SAMPLE_CONFIG = ROOT / "sample_data" / "adult.toml"

# The "quick" preset: the real pipeline on a seeded sample with smaller resampling
# budgets, for demos and the browser test.
QUICK: dict[str, dict[str, Any]] = {
    "data": {"max_rows": 4000},
    "models": {"cv_folds": 3},
    "performance": {"bootstrap": 200, "learning_curve_sizes": [0.25, 0.5, 1.0]},
    "fairness": {"bootstrap": 100, "proxy_max_rows": 4000, "mitigation_max_rows": 2000, "expgrad_max_iter": 20},
    "explanations": {"sample_size": 500, "background_size": 50, "permutation_sample": 500, "permutation_repeats": 3,
                     "surrogate_sample": 3000, "agnostic_max_rows": 100},
    "robustness": {"max_rows": 800, "repeats": 2, "attack_rows": 30, "hsj_max_iter": 5, "hsj_max_eval": 100},
    "drift": {"domain_sample": 5000, "importance_rows": 2000, "importance_repeats": 2, "score_rows": 10000, "performance_bootstrap": 100},
    "privacy": {"target_epsilons": [0.5, 2.0, 8.0], "networks": ["logistic", "mlp"], "epochs": 4, "attack_rows": 500, "bootstrap": 100},
}

_TARGET_NAMES = ("target", "label", "y", "class", "outcome", "income", "default", "churn")
_SENSITIVE_NAMES = ("sex", "gender", "race", "ethnicity", "age", "age_group", "religion", "disability", "nationality", "marital_status")


@dataclass(frozen=True)
class OptionField:
    """One scalar option of a section, as a form shows it."""

    section: str
    name: str
    kind: str  # "float" | "int" | "bool" | "str"
    default: Any
    help: str


def section_options_class(section: str) -> type:
    """The options dataclass of ``section``."""
    return registry.active()[section].options_type()


def available_sections() -> tuple[str, ...]:
    """The sections a user can choose, in the registry's order."""
    return registry.active().names


def _param_help(doc: str | None) -> dict[str, str]:
    """Numpy-style ``name : text`` / ``a, b : text`` lines of a docstring's Parameters."""
    out: dict[str, str] = {}
    if not doc:
        return out
    current: list[str] = []
    for line in doc.splitlines():
        m = re.match(r"^\s*([A-Za-z_][\w, ]*?)\s+:\s+(.*)$", line)
        if m:
            current = [n.strip() for n in m.group(1).split(",") if n.strip()]
            for n in current:
                out[n] = m.group(2).strip()
        elif current and line.strip() and not line.strip().startswith("---"):
            for n in current:
                out[n] += " " + line.strip()
        else:
            current = []
    return out


_KINDS = {float: "float", int: "int", bool: "bool", str: "str"}


def option_fields(section: str) -> tuple[OptionField, ...]:
    """The scalar (number, flag, text) options of a section with their defaults and help."""
    cls = section_options_class(section)
    hints = typing.get_type_hints(cls)
    helps = _param_help(cls.__doc__)
    out = []
    for f in dataclasses.fields(cls):
        kind = _KINDS.get(hints.get(f.name))
        if kind is None or f.default is dataclasses.MISSING:
            continue
        out.append(OptionField(section, f.name, kind, f.default, helps.get(f.name, "")))
    return tuple(out)


def changed_options(fields: Iterable[OptionField], values: Mapping[str, Any]) -> dict[str, Any]:
    """The options whose value differs from the default (keeps configs and cache keys small)."""
    out = {}
    for f in fields:
        if f.name not in values:
            continue
        v = values[f.name]
        if f.kind == "int":
            v = int(v)
        elif f.kind == "float":
            v = float(v)
        if v != f.default:
            out[f.name] = v
    return out


def quick_overlay() -> dict[str, dict[str, Any]]:
    """The quick preset as config tables (a copy: callers may change it)."""
    return copy.deepcopy(QUICK)


def sample_config(*, quick: bool) -> AuditConfig:
    """The embedded Adult sample's config, optionally with the quick preset applied."""
    raw = load_config_file(SAMPLE_CONFIG)
    if quick:
        for section, values in quick_overlay().items():
            raw[section] = {**raw.get(section, {}), **values}
    return config_from_mapping(raw)


def guess_target(columns: list[str]) -> int:
    """Index of the likely label column: a conventional name, else the last column."""
    lower = [c.lower() for c in columns]
    for name in _TARGET_NAMES:
        if name in lower:
            return lower.index(name)
    return len(columns) - 1


def guess_sensitive(columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c.lower() in _SENSITIVE_NAMES]


def schema_rows(columns: Iterable[ColumnSchema]) -> list[dict[str, Any]]:
    """Rows of the editable schema table: inferred values plus the editable flags."""
    rows = []
    for c in columns:
        rows.append({
            "column": c.name,
            "role": c.role,
            "type": c.kind,
            "exclude": c.role == "excluded",
            "immutable": False,
            "missing": c.missing,
            "unique": c.unique,
            "note": c.reason or "",
        })
    return rows


def data_options_from_edits(columns: Iterable[ColumnSchema], edited: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Map the edited schema table to ``[data]`` options: column_types, exclude, immutable.

    Only differences from the inference become options; the target and sensitive
    columns keep their role; columns the core excludes by itself (ID-like,
    personal identifiers) stay excluded and need no option.
    """
    by_name = {c.name: c for c in columns}
    types: dict[str, str] = {}
    exclude: list[str] = []
    immutable: list[str] = []
    for row in edited:
        col = by_name.get(row["column"])
        if col is None or col.role in ("target", "sensitive"):
            continue
        if row.get("type") in ("numeric", "categorical") and row["type"] != col.kind:
            types[col.name] = row["type"]
        if row.get("exclude") and col.role == "feature":
            exclude.append(col.name)
        if row.get("immutable") and not row.get("exclude"):
            immutable.append(col.name)
    out: dict[str, Any] = {}
    if types:
        out["column_types"] = types
    if exclude:
        out["exclude"] = exclude
    if immutable:
        out["immutable"] = immutable
    return out


def build_config(
    *,
    target: str,
    sensitive: Iterable[str],
    sections: Iterable[str],
    seed: int,
    data: Mapping[str, Any] | None = None,
    models: Mapping[str, Any] | None = None,
    section_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> AuditConfig:
    """An :class:`AuditConfig` from the form's values (raises ``ConfigError`` on bad ones)."""
    raw: dict[str, Any] = {
        "target": target,
        "sensitive": list(sensitive),
        "sections": list(sections),
        "seed": int(seed),
        "data": dict(data or {}),
        "models": dict(models or {}),
    }
    for name, opts in (section_options or {}).items():
        if opts:
            raw[name] = dict(opts)
    return config_from_mapping(raw)
