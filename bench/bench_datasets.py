"""The speed issue's table (issue 15): the whole default audit of four datasets, as `python -m audit run`.

Each run is a fresh process, imports included, every section, default options. Wall time is the
process's own; peak memory is the larger of its own peak RSS (``os.wait4``) and the peak PSS of the
process and its forked section processes, sampled every 0.5 s (``SAMPLE_SECONDS``); the section seconds come from the
report's manifest.
Each dataset runs ``--runs`` times (default 3): the table shows the median wall time, the largest
peak RSS and each section's median seconds. Adult resampled to 1,000,000 rows is generated (seeded,
jitter on ``age`` and ``hours_per_week``, as `bench_cluster.py` does) and not committed.

    python bench/bench_datasets.py [--datasets german,adult,bank,1m] [--runs 3] [--no-write]

`make bench` runs it through `bench/run_bench.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"
STORE = ROOT / "bench" / "baselines" / "speed_table.json"  # every dataset's latest figures, so one can be rerun alone
DATA = ROOT.parent / "shared" / "data"
ADULT_TOML = str(ROOT / "sample_data" / "adult.toml")
ONE_MILLION = Path(tempfile.gettempdir()) / "audit-bench-adult-1m"

# key: (label, data, options, rows, target seconds, the figure on main before the speed work)
DATASETS = {
    "german": ("German credit", str(DATA / "german_credit.csv"), ["--target", "credit_risk", "--sensitive", "sex,age"],
               1_000, 5, "41 s"),
    "adult": ("Adult", str(ROOT / "sample_data" / "adult.csv.gz"), ["--config", ADULT_TOML], 48_842, 20, "49-52 s"),
    "bank": ("Bank marketing", str(DATA / "bank.csv.gz"), ["--target", "y", "--sensitive", "age,marital"], 45_211, 20, "85 s"),
    "1m": ("Adult resampled to 1M rows", str(ONE_MILLION / "part-000.parquet"), ["--config", ADULT_TOML], 1_000_000, 120,
           "21 min, 5.0 GB"),
}
SECTIONS = ("data", "models", "performance", "fairness", "explanations", "robustness", "drift", "privacy", "population")


def one_million() -> None:
    """Generate the 1M-row table once (seeded, so every machine gets the same rows)."""
    if (ONE_MILLION / "part-000.parquet").exists():
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_cluster import generate

    generate(ONE_MILLION, 1_000_000, 1)


def _children(pid: int) -> list[int]:
    """Every thread's children: a section is forked from a scheduler thread, and
    ``/proc/PID/task/TID/children`` lists only the children of thread TID."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
        except OSError:
            pass  # the thread ended
    return out


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` and its descendants (the forked sections), MB.

    PSS, not RSS: a forked child shares its parent's pages until it writes them, and RSS would
    count those pages once per process."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += _children(p)
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass  # ended between the two reads
    return total / 1024


# Each sample walks every process's page tables (smaps_rollup): ~10 ms of CPU, 18 ms of wall on
# German credit's three processes. Every 0.1 s that took 0.48 CPU seconds of a 6 s audit on the
# 2-core machine and slowed it by 0.3-0.5 s; every 0.5 s costs a fifth of that. The tree's peak
# lasts seconds (two sections' working copies), and the audit's own peak RSS comes from wait4.
SAMPLE_SECONDS = 0.5


def _watch(pid: int, peak: list[float], done) -> None:
    while not done.is_set():
        peak[0] = max(peak[0], tree_pss_mb(pid))
        done.wait(SAMPLE_SECONDS)


def run_once(data: str, options: list[str]) -> dict:
    """One `python -m audit run` process: wall seconds, its peak RSS (MB) and the manifest's section seconds."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "audit", "run", data, *options, "--out", out, "--quiet"]
        t = time.perf_counter()
        log = Path(out) / "stderr.txt"  # a file, not a pipe: a full pipe would stall the audit before wait4 reads it
        with log.open("wb") as err_file:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err_file)
            peak, done = [0.0], threading.Event()
            watcher = threading.Thread(target=_watch, args=(proc.pid, peak, done), daemon=True)
            watcher.start()
            _, status, usage = os.wait4(proc.pid, 0)
            done.set()
            watcher.join()
        wall = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # 1 = a verdict gate, still a finished audit
            err = log.read_text(errors="replace")
            raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err.strip().splitlines()[-1:]}")
        manifest = json.loads((Path(out) / "report.json").read_text())["manifest"]
    # The sections run in forked children: the audit's memory is the tree's (sampled every 0.5 s),
    # or the parent's own peak where that is higher (a spike between two samples).
    return {"wall": wall, "rss_mb": max(usage.ru_maxrss / 1024, peak[0]),
            "sections": {t["name"]: t["seconds"] for t in manifest["timings"] if t["status"] == "done"}}


def measure(keys: list[str], runs: int) -> list[dict]:
    rows = []
    for key in keys:
        label, data, options, n, target, before = DATASETS[key]
        if key == "1m":
            one_million()
        got = []
        for k in range(runs):
            got.append(run_once(data, options))
            print(f"{label} run {k + 1}/{runs}: {got[-1]['wall']:.1f} s, {got[-1]['rss_mb']:.0f} MB", flush=True)
        secs = {s: statistics.median(g["sections"].get(s, 0.0) for g in got) for s in SECTIONS}
        rows.append(dict(key=key, label=label, rows=n, target=target, before=before, runs=runs,
                         wall=statistics.median(g["wall"] for g in got), walls=[g["wall"] for g in got],
                         rss=max(g["rss_mb"] for g in got), sections=secs))
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "<!-- speed:start (written by bench/bench_datasets.py; do not edit by hand) -->",
        f"On {os.cpu_count()} cores, Python {platform.python_version()}; `python -m audit run` as a whole process "
        "(imports included), every section, default options; the median of the runs; nothing else ran on the machine.",
        "",
        "| data | rows | measured | runs | wall time (s), median | each run (s) | peak memory (MB) | target (s) | met "
        "| before (issue) |",
        "|---|---:|---|---:|---:|---|---:|---:|:---:|---|",
    ]
    for r in rows:
        each = ", ".join(f"{w:.1f}" for w in r["walls"])
        met = "yes" if r["wall"] <= r["target"] and (r["key"] != "1m" or r["rss"] <= 4096) else "NO"
        when = r.get("measured", time.strftime("%Y-%m-%d %H:%M"))
        lines.append(f"| {r['label']} | {r['rows']:,} | {when} | {r['runs']} | {r['wall']:.1f} | {each} | {r['rss']:.0f} | "
                     f"{r['target']} | {met} | {r['before']} |")
    lines += ["", "Section seconds inside each audit (median; sections run two at a time, so they add up to more than "
              "the wall time):", "", "| data | " + " | ".join(SECTIONS) + " |", "|---|" + "---:|" * len(SECTIONS)]
    lines += [f"| {r['label']} | " + " | ".join(f"{r['sections'][s]:.1f}" for s in SECTIONS) + " |" for r in rows]
    lines.append("<!-- speed:end -->")
    return "\n".join(lines)


def write(block: str) -> None:
    text = README.read_text()
    if "<!-- speed:start" in text:
        text = re.sub(r"<!-- speed:start.*?<!-- speed:end -->", lambda m: block, text, flags=re.S)
    else:
        text = text.replace("## Speed (issue 15)\n", f"## Speed (issue 15)\n\n{block}\n", 1)
    README.write_text(text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    keys = [k for k in args.datasets.split(",") if k]
    unknown = [k for k in keys if k not in DATASETS]
    if unknown:
        raise SystemExit(f"unknown dataset {unknown[0]!r}: expected some of {', '.join(DATASETS)}")
    rows = measure(keys, max(1, args.runs))
    if not args.no_write:
        stored = json.loads(STORE.read_text()) if STORE.exists() else {}
        stored.update({r["key"]: dict(r, measured=time.strftime("%Y-%m-%d %H:%M")) for r in rows})
        STORE.write_text(json.dumps(stored, indent=1) + "\n")
        rows = [stored[k] for k in DATASETS if k in stored]
    block = table(rows)
    print(block)
    if not args.no_write:
        write(block)


if __name__ == "__main__":
    main()
