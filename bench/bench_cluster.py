"""Benchmark the Dask engine on a seeded Adult-like table of 10,000,000 rows (issue 16, item 3).

Generates the table as a directory of Parquet files (Adult resampled with a generator seeded
by (seed, file number), jitter on ``age`` and ``hours_per_week``; not committed), then runs
``python -m audit run DIR --config sample_data/adult.toml --engine dask --workers 2`` as a
process and polls its process tree: wall time, the audit process's peak RSS and the largest
peak RSS of any other process in the tree (the cluster's workers and nannies).

With ``--drift``, it also generates a second table of the same size (seed 1, ``age`` shifted up
by two years) and times :func:`audit.engine.drift.drift_on_cluster` of every row of it against
every row of the first, on a LocalCluster of 2 worker processes started for it.

Usage: python bench/bench_cluster.py [--rows 10000000] [--files 20] [--dir /tmp/adult10m] [--drift] [--no-audit] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
README = ROOT / "bench" / "README.md"
SAMPLE = ROOT / "sample_data" / "adult.csv.gz"
CONFIG = ROOT / "sample_data" / "adult.toml"


def generate(folder: Path, rows: int, files: int, seed: int = 0, age_shift: int = 0) -> float:
    """Write ``files`` Parquet files of about rows / files rows each; returns the seconds it took."""
    import numpy as np
    import pandas as pd

    t = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    adult = pd.read_csv(SAMPLE)
    per = -(-rows // files)
    for i in range(files):
        n = min(per, rows - i * per)
        if n <= 0:
            break
        rng = np.random.default_rng([seed, i])
        part = adult.iloc[rng.integers(0, len(adult), size=n)].reset_index(drop=True)
        part["age"] = np.clip(part["age"] + rng.integers(-2, 3, size=n) + age_shift, 17, 90)
        part["hours_per_week"] = np.clip(part["hours_per_week"] + rng.integers(-3, 4, size=n), 1, 99)
        part.to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return time.perf_counter() - t


def _watch(pid: int, peaks: dict[int, tuple[str, int]], done: threading.Event) -> None:
    import psutil

    root = psutil.Process(pid)
    while not done.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for p in procs:
            try:
                rss = p.memory_info().rss
                name = " ".join(p.cmdline()[:3])[:60]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if rss > peaks.get(p.pid, ("", 0))[1]:
                peaks[p.pid] = (name, rss)
        done.wait(0.5)


def run(folder: Path, out: Path, workers: int) -> dict:
    cmd = [sys.executable, "-m", "audit", "run", str(folder), "--config", str(CONFIG), "--engine", "dask",
           "--workers", str(workers), "--out", str(out), "--quiet"]
    peaks: dict[int, tuple[str, int]] = {}
    done = threading.Event()
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = threading.Thread(target=_watch, args=(proc.pid, peaks, done), daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    done.set()
    main = peaks.get(proc.pid, ("", 0))[1]
    others = sorted((rss for pid, (_, rss) in peaks.items() if pid != proc.pid), reverse=True)
    result = {"wall": wall, "rc": proc.returncode, "main_mb": main / 2**20, "worker_mb": (others[0] / 2**20) if others else 0.0,
              "stderr": stderr.strip().splitlines()[-3:]}
    report = out / "report.json"
    if report.exists():
        rep = json.loads(report.read_text())
        result["timings"] = [(t["name"], t["status"], round(t["seconds"], 1)) for t in rep["manifest"]["timings"]]
        result["engine"] = rep["manifest"].get("engine")
    return result


def drift_run(reference: Path, current: Path, workers: int) -> dict:
    """Wall time and peak RSS of the workers of drift over every row of both tables."""
    from audit.config import config_from_mapping, load_config_file
    from audit.data import load_dataset
    from audit.engine.cluster import connect, parse_engine
    from audit.engine.drift import drift_on_cluster

    cfg = config_from_mapping(load_config_file(str(CONFIG)))
    ds = load_dataset(SAMPLE, target=cfg.target, sensitive=cfg.sensitive, options=cfg.data)
    with connect(parse_engine("dask", workers=workers)) as client:
        t = time.perf_counter()
        res = drift_on_cluster(reference, current, client, numeric=ds.numeric, categorical=ds.categorical)
        wall = time.perf_counter() - t
        peaks = client.run(lambda: __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss)
    return {"wall": wall, "features": res.n_features, "drifted": list(res.drifted_features), "rows": [res.n_reference, res.n_current],
            "worker_mb": max(peaks.values()) / 1024}


def write(line_rows: int, gen_s: float, res: dict) -> None:
    text = README.read_text()
    secs = ", ".join(f"{n} {s}" for n, st, s in res.get("timings", []) if st == "done")
    block = (
        "<!-- cluster:start (written by bench/bench_cluster.py; do not edit by hand) -->\n"
        f"Measured {time.strftime('%Y-%m-%d')} on 2 cores, load average {os.getloadavg()[0]:.1f} at the end: "
        f"{line_rows:,} Adult-like rows in Parquet files (generated in {gen_s:.0f} s), `sample_data/adult.toml`, "
        f"`--engine dask --workers 2` ({res.get('engine', '?')}).\n\n"
        "| run | wall time (s) | peak RSS, audit process (MB) | largest peak RSS of a worker process (MB) | exit | sections (s) |\n"
        "|---|---:|---:|---:|---:|---|\n"
        f"| full default audit | {res['wall']:.1f} | {res['main_mb']:.0f} | {res['worker_mb']:.0f} | {res['rc']} | {secs} |\n"
        "<!-- cluster:end -->"
    )
    pattern = re.compile(r"<!-- cluster:start.*?<!-- cluster:end -->", re.S)
    text = pattern.sub(block, text) if pattern.search(text) else text.rstrip() + "\n\n## Dask engine at 10 million rows (issue 16)\n\n" + block + "\n"
    README.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "adult10m"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--drift", action="store_true")
    ap.add_argument("--no-audit", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    folder = Path(args.dir)
    gen_s = 0.0
    if not any(folder.glob("*.parquet")):
        gen_s = generate(folder, args.rows, args.files)
        print(f"generated {args.rows:,} rows in {gen_s:.0f} s", flush=True)
    if args.drift:
        shifted = folder.with_name(folder.name + "-current")
        if not any(shifted.glob("*.parquet")):
            generate(shifted, args.rows, args.files, seed=1, age_shift=2)
        print(json.dumps({"drift": drift_run(folder, shifted, args.workers)}), flush=True)
    if args.no_audit:
        return
    res = run(folder, Path(tempfile.mkdtemp()), args.workers)
    print(json.dumps(res, indent=1), flush=True)
    if not args.no_write and res["rc"] == 0:
        write(args.rows, gen_s, res)


if __name__ == "__main__":
    main()
