"""Where a whole default audit spends its time: cProfile of every stage, run one after another.

    python bench/profile_audit.py [--top 25] [--out PROFILE] DATA [audit run options: --config, --target, ...]

The pipeline runs sections on two threads and cProfile sees one thread only, so this script runs
the same stages (data, models, then each requested section with its inputs) sequentially in the
main thread, under one profiler. Prints each stage's seconds and the top functions by cumulative
time; ``--out`` keeps the raw profile for ``python -m pstats``. cProfile inflates pure-Python loops,
so read the shares, not the absolute figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.cli import _config, build_parser  # noqa: E402
from audit.data import load_dataset  # noqa: E402
from audit.models.baselines import train_models  # noqa: E402
from audit.engine.local import preload as _preload  # noqa: E402
from audit.pipeline import resolve_options  # noqa: E402
from audit.sections import registry  # noqa: E402
from audit.sections.registry import SectionInputs, SectionNotRun  # noqa: E402


def _ordered(names: list[str]) -> list[str]:
    """Requested sections with every section after the ones it reads (registry ``after``)."""
    reg, out = registry.active(), []
    while len(out) < len(names):
        for n in names:
            if n not in out and all(d in out or d not in names for d in reg[n].after):
                out.append(n)
    return out


def profile(cfg, data: str) -> tuple[list[tuple[str, float]], cProfile.Profile]:
    options = resolve_options(cfg)
    names = _ordered([n for n in registry.active().names if n in cfg.sections])
    _preload(names)  # imports are not a stage's work (the pipeline preloads them too)
    prof, stages = cProfile.Profile(), []
    prof.enable()
    t = time.perf_counter()
    ds = load_dataset(data, target=cfg.target, sensitive=cfg.sensitive, options=cfg.data, seed=cfg.seed)
    stages.append(("data", time.perf_counter() - t))
    t = time.perf_counter()
    trained = train_models(ds, options=cfg.models, seed=cfg.seed)
    stages.append(("models", time.perf_counter() - t))
    results: dict = {}
    reg = registry.active()
    for name in names:
        spec, t = reg[name], time.perf_counter()
        extra = spec.inputs(SectionInputs(results))
        try:
            results[name] = spec.entry()(trained, options=options[name], seed=cfg.seed, **extra)
        except SectionNotRun:
            pass
        stages.append((name, time.perf_counter() - t))
    prof.disable()
    return stages, prof


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out")
    ours, rest = ap.parse_known_args(argv)
    args = build_parser().parse_args(["run", *rest])
    cfg = _config(args)
    stages, prof = profile(cfg, args.data)
    print("stage seconds (sequential, under cProfile):")
    for name, secs in stages:
        print(f"  {name:13s} {secs:7.1f}")
    print(f"  {'total':13s} {sum(s for _, s in stages):7.1f}")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(ours.top)
    print(buf.getvalue())
    if ours.out:
        prof.dump_stats(ours.out)


if __name__ == "__main__":
    main(sys.argv[1:])
