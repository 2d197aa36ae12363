"""Are two audit reports the same numbers? (timings, dates and the format version aside)

    .venv/bin/python bench/compare_reports.py OLD/report.json[.gz] NEW/report.json [--tol 1e-9]

bench/baselines/adult-seed0-9e782f6.report.json.gz is the default Adult audit (sample_data/adult.toml,
seed 0) of commit 9e782f6, the last one before the restructuring (issue 13).

Both files are loaded through ``AuditReport.from_json`` (so a report of an older
format is upgraded first) and compared field by field. Prints each difference and
exits 1 when there is any, 0 when the reports agree. Used to check that a
refactoring changed no number (issue 13: the Adult report of the same seed).
"""

from __future__ import annotations

import argparse
import gzip
import math
import sys
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.report import AuditReport  # noqa: E402

# Keys whose values differ between two runs of the same audit by nature.
IGNORED = {"timings", "duration_seconds", "started_at", "format", "python", "libraries", "tool_version", "seconds",
           "fit_seconds", "elapsed_seconds",
           # ratios of two timings (privacy: DP training time over non-private)
           "relative_train_time", "dp_overhead"}


def differences(a: Any, b: Any, path: str = "", tol: float = 1e-9) -> Iterator[str]:
    """Every place where ``a`` and ``b`` differ, as 'path: a != b'."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k in IGNORED or str(k).endswith("_seconds"):
                continue
            if k not in a or k not in b:
                if k in b and path.startswith("/manifest/config"):
                    continue  # an option added since, recorded at its default
                yield f"{path}/{k}: only in {'new' if k in b else 'old'}"
            else:
                yield from differences(a[k], b[k], f"{path}/{k}", tol)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}[{i}]", tol)
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol):
            yield f"{path}: {a!r} != {b!r}"
    elif a != b:
        yield f"{path}: {a!r} != {b!r}"


def _read(path: str) -> bytes:
    raw = Path(path).read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--tol", type=float, default=1e-9, help="relative and absolute tolerance for floats")
    args = ap.parse_args(argv)
    old = AuditReport.from_json(_read(args.old)).to_dict()
    new = AuditReport.from_json(_read(args.new)).to_dict()
    diffs = list(differences(old, new, tol=args.tol))
    for d in diffs[:200]:
        print(d)
    print(f"{len(diffs)} differences" if diffs else "the reports agree (timings, dates and format aside)")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
