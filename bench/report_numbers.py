"""Same seed, same numbers: build a small seeded report, or compare two reports' numbers.

    python bench/report_numbers.py make OUT.json        # small synthetic report, every section
    python bench/report_numbers.py make-multiclass OUT.json   # the sections a multiclass target runs
    python bench/report_numbers.py compare A.json B.json

``compare`` loads both files through ``AuditReport.from_json`` (so a report of an
older format is upgraded first) and compares every value except the ones that
differ from run to run or build to build: timings (any ``*seconds*`` key, relative
training times), start time, library and tool versions, the format string. Exit 1 and a list of paths when they differ.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

VOLATILE = {"timings", "started_at", "libraries", "tool_version", "format", "python", "relative_train_time", "dp_overhead"}


def _volatile(key: str) -> bool:
    return key in VOLATILE or "seconds" in key  # wall and CPU times


def make(out: str) -> None:
    import numpy as np

    from audit.config import AuditConfig, ModelOptions
    from audit.pipeline import run_audit
    from conftest import make_synthetic

    frame = make_synthetic(n=800, seed=1)
    current = make_synthetic(n=400, seed=3)
    current["x1"] = current["x1"] + np.float64(1.0)  # a known shift for the drift section
    config = AuditConfig(target="label", sensitive=("sex",), models=ModelOptions(cv_folds=2),
                         section_options={"performance": {"bootstrap": 100}})
    report = run_audit(config, frame, current=current, workers=1)
    Path(out).write_text(report.to_json(), encoding="utf-8")


def make_multiclass(out: str) -> None:
    from audit.config import AuditConfig, ModelOptions
    from audit.pipeline import run_audit
    from conftest import make_multiclass as frame

    config = AuditConfig(target="decision", sensitive=("group",), models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                         section_options={"performance": {"bootstrap": 50, "learning_curve_sizes": [1.0]},
                                          "fairness": {"bootstrap": 50}})
    report = run_audit(config, frame(600), workers=1)
    Path(out).write_text(report.to_json(), encoding="utf-8")


def _diff(a, b, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if _volatile(k):
                continue
            if (k not in a or k not in b) and (path + ".").startswith(".manifest.config."):
                continue  # an option added since (with its default) is not a number that changed
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'second' if k not in a else 'first'}")
                continue
            _diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
    elif isinstance(a, float) and isinstance(b, float):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            out.append(f"{path}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")


def compare(first: str, second: str) -> list[str]:
    from audit.report import AuditReport

    a = AuditReport.from_json(Path(first).read_text(encoding="utf-8")).to_dict()
    b = AuditReport.from_json(Path(second).read_text(encoding="utf-8")).to_dict()
    out: list[str] = []
    _diff(a, b, "", out)
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("make", "make-multiclass"):
        (make if sys.argv[1] == "make" else make_multiclass)(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        diffs = compare(sys.argv[2], sys.argv[3])
        print("\n".join(diffs[:50]) or "same numbers")
        sys.exit(1 if diffs else 0)
    else:
        sys.exit(__doc__)
