"""Reading reports of older formats: each upgrade rewrites one format's JSON into the next.

``AuditReport.from_dict`` applies them in turn, so a report saved by an older
version loads as the current typed report with the same numbers.
``tests/test_report.py`` loads ``tests/data/report_v1.json`` (written by the
format-1 code) and checks it against the numbers the current code computes.

Format 1 -> 2: every "value with its interval" became one :class:`audit.stats.Estimate`
(``value, low, high, level, n, method``). Format 1 wrote ``value/ci_low/ci_high``
triples, ``auc/auc_ci_low/auc_ci_high`` fields and the like, with the level and
sample size stated once per section; they are copied into each estimate here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from audit.errors import AuditError
from audit.stats import bootstrap_method

FORMAT_1 = "rai-audit-report/1"
FORMAT_2 = "rai-audit-report/2"
FORMAT_3 = "rai-audit-report/3"  # ModelsReport.cv_rows (models.cv_max_rows)
FORMAT_4 = "rai-audit-report/4"  # population: multiclass fields (classes, per_class, confusion, worst_class)
FORMAT_5 = "rai-audit-report/5"  # explanations.errors.n_cluster_fit (explanations.cluster_max_rows)


def _est(value: Any, low: Any, high: Any, level: Any, n: Any, method: str) -> dict[str, Any]:
    return {"value": value, "low": low, "high": high, "level": level, "n": n, "method": method}


def _triple(d: Mapping[str, Any], level: Any, n: Any, method: str) -> dict[str, Any]:
    return _est(d["value"], d["ci_low"], d["ci_high"], level, n, method)


def _performance(sec: dict[str, Any]) -> None:
    level, n, how = sec["confidence"], sec["n_test"], bootstrap_method(sec["n_bootstrap"])
    old = sec["metrics"]
    sec["metrics"] = {k: _triple(m, level, n, how) for k, m in old.items()}
    sec["train_metrics"] = {k: m["train"] for k, m in old.items()}
    per_class = sec.get("per_class") or {}  # multiclass: class -> metric -> value with interval
    sec["per_class"] = {c: {k: _triple(m, level, n, how) for k, m in ms.items()} for c, ms in per_class.items()}
    sec["train_per_class"] = {c: {k: m["train"] for k, m in ms.items()} for c, ms in per_class.items()}


def _fairness(sec: dict[str, Any]) -> None:
    level, n, how = sec["confidence"], sec["n_test"], bootstrap_method(sec["n_bootstrap"])

    def keyed(disp: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        return {key: {m: _triple(iv, level, n, how) for m, iv in table.items()} for key, table in disp.items()}

    def rows(groups: Mapping[str, list[dict[str, Any]]]) -> None:
        for table in groups.values():
            for row in table:
                row["metrics"] = {m: _triple(iv, level, row["count"], how) for m, iv in row["metrics"].items()}

    # Multiclass reports repeat the groups and disparities per class, and add accuracy per group.
    for part in [sec, *(sec.get("per_class") or {}).values()]:
        rows(part["groups"])
        part["disparities"] = keyed(part["disparities"])
        part["disparities_adequate"] = keyed(part["disparities_adequate"])
    rows(sec.get("group_accuracy") or {})
    for variant in [sec["unawareness"], *sec["mitigations"]]:
        variant["metrics"] = {m: _triple(iv, level, n, how) for m, iv in variant["metrics"].items()}
        variant["disparities"] = keyed(variant["disparities"])


def _privacy(sec: dict[str, Any]) -> None:
    level, how = sec["confidence"], bootstrap_method(sec["n_bootstrap"])
    for model in sec["models"]:
        for attack in model.get("membership") or ():
            n = attack["n_members"] + attack["n_nonmembers"]
            attack["auc"] = _est(attack["auc"], attack.pop("auc_ci_low"), attack.pop("auc_ci_high"), level, n, how)


def _drift(sec: dict[str, Any]) -> None:
    dom = (sec.get("data") or {}).get("domain")
    if dom is not None:
        n = dom["n_reference"] + dom["n_current"]
        dom["auc"] = _est(dom["auc"], dom.pop("ci_low"), dom.pop("ci_high"), dom.pop("confidence"), n, dom.pop("ci_method"))
    level = sec["options"]["confidence"]
    for p in sec.get("performance") or ():
        # Format 1 kept the reference side's method only; the current side used the same rule.
        how = p.pop("ci_method")
        how = "percentile " + how if how.startswith("bootstrap") else how
        p["reference"] = _est(p["reference"], p.pop("reference_ci_low"), p.pop("reference_ci_high"), level, p.pop("n_reference"), how)
        p["current"] = _est(p["current"], p.pop("current_ci_low"), p.pop("current_ci_high"), level, p.pop("n_current"), how)


def _explanations(sec: dict[str, Any]) -> None:
    errors = sec.get("errors")
    if errors is None:
        return
    level = errors.pop("confidence")
    how = "Wilson" if errors["error_metric"] == "error_rate" else "Student t"
    errors["overall"] = _est(errors.pop("overall_error"), errors.pop("overall_ci_low"), errors.pop("overall_ci_high"),
                             level, errors["n_test"], how)
    for cohort in (*errors["tree_cohorts"], *errors["cluster_cohorts"]):
        cohort["error"] = _est(cohort["error"], cohort.pop("ci_low"), cohort.pop("ci_high"), level, cohort["size"], how)


_V1_SECTIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "performance": _performance, "fairness": _fairness, "privacy": _privacy, "drift": _drift, "explanations": _explanations,
}


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    for name, fix in _V1_SECTIONS.items():
        if data.get(name) is not None:
            fix(data[name])
    data["manifest"]["format"] = FORMAT_2
    return data


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    models = data.get("models")
    if isinstance(models, dict) and "cv_rows" not in models:
        # Before cv_max_rows, the folds used every training row.
        folds, n_train = models.get("cv_folds") or 0, models.get("n_train") or 0
        models["cv_rows"] = n_train if isinstance(folds, int) and folds >= 2 else 0
    data["manifest"]["format"] = FORMAT_3
    return data


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    population = data.get("population")
    if isinstance(population, dict):
        # Before format 4 the every-row statistics ran for binary targets only: no classes.
        population.setdefault("worst_class", None)
        population.setdefault("per_class_gaps", {})
        stats = population.get("stats")
        if isinstance(stats, dict):
            for name, empty in (("classes", []), ("per_class", {}), ("confusion", {})):
                stats.setdefault(name, empty)
    data["manifest"]["format"] = FORMAT_4
    return data


def _v4_to_v5(data: dict[str, Any]) -> dict[str, Any]:
    errors = (data.get("explanations") or {}).get("errors")
    if isinstance(errors, dict) and "n_cluster_fit" not in errors:
        # Before cluster_max_rows, k-means was fitted on every test row (when it ran at all).
        errors["n_cluster_fit"] = errors.get("n_test", 0) if (errors.get("n_clusters") or 0) >= 2 else 0
    data["manifest"]["format"] = FORMAT_5
    return data


_UPGRADES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    FORMAT_1: _v1_to_v2, FORMAT_2: _v2_to_v3, FORMAT_3: _v3_to_v4, FORMAT_4: _v4_to_v5}


def upgrade(data: Mapping[str, Any], current: str) -> Mapping[str, Any]:
    """``data`` rewritten to the ``current`` format (a copy; unchanged when it is already current)."""
    manifest = data.get("manifest")
    fmt = manifest.get("format") if isinstance(manifest, Mapping) else None
    if fmt == current or not isinstance(fmt, str):
        return data  # a missing format fails the report's own validation
    if fmt not in _UPGRADES:
        raise AuditError(f"not a readable audit report: format {fmt!r} (this version reads {FORMAT_1!r} to {current!r})")
    out = copy.deepcopy(dict(data))
    while out["manifest"]["format"] != current:
        step = _UPGRADES.get(out["manifest"]["format"])
        if step is None:
            raise AuditError(f"not a readable audit report: no upgrade from format {out['manifest']['format']!r}")
        out = step(out)
    return out


__all__ = ["upgrade", "FORMAT_1", "FORMAT_2", "FORMAT_3", "FORMAT_4", "FORMAT_5"]
