"""Benchmark the audit of the embedded Adult sample and record the figures in bench/README.md.

Each stage runs in a fresh process so its peak memory (max RSS) is its own:
  core   = data intake + models + performance (target: < 15 s on 2 cores)
  full   = the whole default audit, every section, independent sections in parallel (target: < 60 s)
plus one process per section (models + that section) for per-section times, and (``datasets``)
the speed issue's table of four datasets, three runs each (``bench/bench_datasets.py``).

Usage: python bench/run_bench.py [--only core,full,sections,datasets] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # bench_datasets
README = ROOT / "bench" / "README.md"
SAMPLE = ROOT / "sample_data" / "adult.csv.gz"
CONFIG = ROOT / "sample_data" / "adult.toml"

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from audit.config import config_from_mapping, load_config_file
from audit.pipeline import run_audit
raw = load_config_file({config!r})
raw["sections"] = {sections!r}
cfg = config_from_mapping(raw)
t = time.perf_counter()
rep = run_audit(cfg, {sample!r})
wall = time.perf_counter() - t
print(json.dumps({{"wall": wall, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "timings": [[x.name, x.status, x.seconds] for x in rep.manifest.timings],
                  "scorecard": {{k: v.status for k, v in rep.scorecard.items()}}}}))
"""


def run_stage(sections: list[str]) -> dict:
    code = CHILD.format(root=str(ROOT), config=str(CONFIG), sections=sections, sample=str(SAMPLE))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="core,full,sections,datasets")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    todo = args.only.split(",")
    from audit.sections import registry

    ALL_SECTIONS = registry.active().names

    rows = []
    if "core" in todo:
        r = run_stage(["performance"])
        rows.append(("data + models + performance", r["wall"], r["maxrss_mb"], 15, r))
    if "full" in todo:
        r = run_stage(list(ALL_SECTIONS))
        rows.append(("whole default audit (all sections, 2 workers)", r["wall"], r["maxrss_mb"], 60, r))
    per_section = []
    if "sections" in todo:
        for s in ALL_SECTIONS:
            if s == "performance":
                continue
            r = run_stage([s])
            secs = next((t[2] for t in r["timings"] if t[0] == s), float("nan"))
            status = next((t[1] for t in r["timings"] if t[0] == s), "?")
            per_section.append((s, secs, r["maxrss_mb"], status))
    lines = [
        "<!-- core:start (written by bench/run_bench.py; do not edit by hand) -->",
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        "Adult (48,842 rows) with `sample_data/adult.toml`.",
        "",
        "| stage | wall time (s) | peak RSS (MB) | target (s) | met |",
        "|---|---:|---:|---:|:---:|",
    ]
    for name, wall, mem, target, _ in rows:
        lines.append(f"| {name} | {wall:.1f} | {mem:.0f} | {target} | {'yes' if wall < target else 'NO'} |")
    if rows:
        lines += ["", "Section times inside the whole audit (threads overlap, so they add up to more than the wall time):", ""]
        full = next((r for n, *_, r in rows if n.startswith("whole")), rows[-1][4])
        lines += ["| section | seconds |", "|---|---:|"]
        lines += [f"| {n} | {s:.1f} |" for n, st, s in full["timings"] if st == "done"]
    if per_section:
        lines += ["", "Each section alone (its own process: data + models + the section; seconds are the section's own):", "",
                  "| section | seconds | peak RSS (MB) | status |", "|---|---:|---:|---|"]
        lines += [f"| {s} | {secs:.1f} | {mem:.0f} | {st} |" for s, secs, mem, st in per_section]
    lines.append("<!-- core:end -->")
    block = "\n".join(lines)
    if {"core", "full", "sections"} & set(todo):
        print(block)
    if "datasets" in todo:
        from bench_datasets import main as datasets_table

        datasets_table(["--no-write"] if args.no_write else [])
    if args.no_write or not {"core", "full", "sections"} & set(todo):
        return
    text = README.read_text() if README.exists() else "# Benchmarks\n\n<!-- core:start -->\n<!-- core:end -->\n"
    text = re.sub(r"<!-- core:start.*?<!-- core:end -->", lambda m: block, text, flags=re.S)
    README.write_text(text)


if __name__ == "__main__":
    main()
