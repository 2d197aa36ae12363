"""Benchmark of a whole multiclass audit: 50,000 rows, four classes, every section, default options.

The data are seeded and synthetic (no download): six numeric and two categorical features,
two sensitive attributes (sex, race) that are also model inputs, and a four-class label
("approve", "refer", "review", "decline") drawn from a multinomial logit in which the
features matter and women's chance of "approve" is lowered. Building the frame is not
timed; the audit (data intake, baselines with 5-fold CV, every section, 2 workers) is.
Peak memory is the process's maximum resident set (``resource.getrusage``).

Usage: python bench/bench_multiclass.py [--rows 50000] [--classes 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.config import AuditConfig  # noqa: E402
from audit.pipeline import run_audit  # noqa: E402

LABELS = ("approve", "refer", "review", "decline", "appeal", "defer")


def build(rows: int, classes: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 6))
    region = rng.choice([f"r{i}" for i in range(10)], size=rows)
    channel = rng.choice(["web", "branch", "phone", "partner", "mail"], size=rows)
    sex = rng.choice(["F", "M"], size=rows)
    race = rng.choice(["a", "b", "c", "d"], size=rows, p=[0.6, 0.2, 0.15, 0.05])
    W = rng.normal(size=(6, classes))
    logits = X @ W + 0.3 * (channel == "web")[:, None] * np.arange(classes)
    logits[:, 0] -= 0.5 * (sex == "F")  # a known penalty on the top class for women
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random(rows)[:, None]).argmax(axis=1)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    frame["region"], frame["channel"], frame["sex"], frame["race"] = region, channel, sex, race
    frame["decision"] = np.array(LABELS[:classes])[y]
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--classes", type=int, default=4, choices=range(3, len(LABELS) + 1))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    frame = build(args.rows, args.classes, args.seed)
    cfg = AuditConfig(target="decision", sensitive=("sex", "race"), seed=args.seed)
    t0 = time.perf_counter()
    rep = run_audit(cfg, frame, workers=2)
    wall = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    rss, cpu = use.ru_maxrss / 1024, use.ru_utime + use.ru_stime
    # CPU seconds as well as wall time: on a shared machine the wall time mostly measures the load.
    print(f"{args.rows:,} rows, {args.classes} classes, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}: "
          f"whole audit {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.0f} MB")
    print("| stage | status | seconds |\n|---|---|---:|")
    for t in rep.manifest.timings:
        print(f"| {t.name} | {t.status} | {t.seconds:.1f} |")
    print("scorecard:", {k: v.status for k, v in rep.scorecard.items()}, "| worst class:", rep.fairness.worst_class)


if __name__ == "__main__":
    main()
