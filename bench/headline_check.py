"""Does a faster audit give the same answers? Its headline metrics against an older report's intervals.

    .venv/bin/python bench/headline_check.py OLD/report.json[.gz] NEW/report.json

Issue 15, acceptance item 3: every headline metric of the new report (performance, fairness
disparities, the SHAP ranking's top 5, attack success, spent epsilon, membership AUC) must lie
within the old report's 95% interval for the same seed. Both files are read through
``AuditReport.from_json`` (an older format is upgraded first).

- performance metrics, disparities and membership AUCs: the old report's bootstrap interval;
- attack success rates (the report gives no interval): the Wilson 95% interval of the old
  rate on the old number of attacked rows, stated as such;
- spent epsilon: equal to 1e-9 (item 4: the same noise, sampling rate and steps give the same epsilon);
- SHAP: the same five features at the top, in any order (their order is printed).

A value equal to the old one (to 1e-9) agrees even where the old interval excludes it.

Prints one line per metric and exits 1 when any lies outside, 0 when all lie inside.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compare_reports import _read  # noqa: E402

from audit.report import AuditReport  # noqa: E402


def _estimate(x: Any) -> bool:
    return isinstance(x, dict) and {"value", "low", "high"} <= set(x)


def _wilson(rate: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    centre, half = rate + z * z / (2 * n), z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def _intervals(old: dict, new: dict) -> Iterator[tuple[str, float | None, float, float, str, float]]:
    """(metric, new value, low, high, kind of interval, old value) for every interval-checked headline metric."""
    for name, est in (old.get("performance", {}).get("metrics") or {}).items():
        if _estimate(est):
            got = ((new.get("performance") or {}).get("metrics") or {}).get(name) or {}
            yield f"performance {name}", got.get("value"), est["low"], est["high"], "bootstrap", est["value"]
    for attr, table in (old.get("fairness", {}).get("disparities") or {}).items():
        for name, est in table.items():
            if _estimate(est):
                got = (((new.get("fairness") or {}).get("disparities") or {}).get(attr) or {}).get(name) or {}
                yield f"fairness {attr} {name}", got.get("value"), est["low"], est["high"], "bootstrap", est["value"]
    new_models = {m["name"]: m for m in (new.get("privacy") or {}).get("models") or []}
    for m in (old.get("privacy") or {}).get("models") or []:
        attacks = {a["attack"]: a for a in (new_models.get(m["name"]) or {}).get("membership") or []}
        for a in m.get("membership") or []:
            if _estimate(a.get("auc")):
                got = (attacks.get(a["attack"]) or {}).get("auc") or {}
                yield (f"membership AUC {m['name']} {a['attack']}", got.get("value"), a["auc"]["low"], a["auc"]["high"],
                       "bootstrap", a["auc"]["value"])
    for kind in ("decision_based", "gradient"):
        was = ((old.get("robustness") or {}).get("attacks") or {}).get(kind)
        now = ((new.get("robustness") or {}).get("attacks") or {}).get(kind) or {}
        if was and was.get("n_rows"):
            low, high = _wilson(was["success_rate"], was["n_rows"])
            yield (f"attack success {was['name']}", now.get("success_rate"), low, high,
                   f"Wilson, n={was['n_rows']}", was["success_rate"])


def check(old: dict, new: dict) -> list[str]:
    """One line per headline metric; a line starting with 'OUTSIDE' or 'DIFFERENT' fails."""
    lines = []
    for name, value, low, high, kind, was in _intervals(old, new):
        # A percentile interval of a biased statistic (the calibration error) can exclude its own
        # point estimate: an unchanged value agrees.
        same = value is not None and was is not None and math.isclose(value, was, rel_tol=1e-9, abs_tol=1e-12)
        ok = same or (value is not None and low - 1e-12 <= value <= high + 1e-12)
        verdict = "equal  " if same else "inside " if ok else "OUTSIDE"
        lines.append(f"{verdict} {name}: {value} in [{low:.6g}, {high:.6g}] ({kind}; was {was})")
    new_models = {m["name"]: m for m in (new.get("privacy") or {}).get("models") or []}
    for m in (old.get("privacy") or {}).get("models") or []:
        if m.get("epsilon_spent") is not None:
            got = (new_models.get(m["name"]) or {}).get("epsilon_spent")
            ok = got is not None and math.isclose(got, m["epsilon_spent"], rel_tol=1e-9)
            lines.append(f"{'equal  ' if ok else 'DIFFERENT'} spent epsilon {m['name']}: {got} (was {m['epsilon_spent']})")
    top = [[f["feature"] for f in (r.get("explanations") or {}).get("importance") or []][:5] for r in (old, new)]
    if top[0]:
        ok = set(top[0]) == set(top[1])
        lines.append(f"{'same   ' if ok else 'DIFFERENT'} SHAP top 5: {', '.join(top[1])} (was {', '.join(top[0])})")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    args = ap.parse_args(argv)
    old = AuditReport.from_json(_read(args.old)).to_dict()
    new = AuditReport.from_json(_read(args.new)).to_dict()
    lines = check(old, new)
    print("\n".join(lines))
    bad = [x for x in lines if x.startswith(("OUTSIDE", "DIFFERENT"))]
    print(f"{len(lines) - len(bad)} of {len(lines)} headline metrics agree" + (f"; {len(bad)} do not" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
