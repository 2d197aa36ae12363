"""How much the DP networks' membership AUCs move from one seed to the next, per trainer.

    .venv/bin/python bench/privacy_seed_spread.py [--seeds 8] [--out bench/baselines/privacy_seed_spread.json]
        DATA [audit run options: --config, --target, ...]

Issue 15, item 3: two membership AUCs of today's Adult report (DP networks of the fused trainer)
lie outside the bootstrap intervals of the report from before the speed work, which came from the
Opacus trainer. Those intervals resample the attacked rows only; a DP network's membership AUC
also varies with the training draws (Poisson batches, noise), which the two trainers take from
different streams. This script trains the audited models once (the data's own seed), then runs the
privacy section with seeds 0..N-1 under each trainer (every seed draws other members, non-members,
attack seeds, initial weights, batches and noise) and prints, per network and attack, each
trainer's mean, standard deviation and range over the seeds, and where the seed-0 values fall.
If the fused values are other draws of the same DP-SGD, the two columns agree and the seed-0
values lie inside the Opacus trainer's seed-to-seed range.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.cli import _config, build_parser  # noqa: E402
from audit.data import load_dataset  # noqa: E402
from audit.models.baselines import train_models  # noqa: E402
from audit.pipeline import resolve_options  # noqa: E402
from audit.sections.privacy import audit_privacy  # noqa: E402

TRAINERS = ("opacus", "fused")


def spread(cfg, data: str, seeds: int) -> dict[str, dict[str, list[float]]]:
    """{trainer: {"<model> / <attack>": [AUC at seed 0, 1, ...]}} over the DP networks and the non-private runs."""
    ds = load_dataset(data, target=cfg.target, sensitive=cfg.sensitive, options=cfg.data, seed=cfg.seed)
    trained = train_models(ds, options=cfg.models, seed=cfg.seed)
    base = resolve_options(cfg)["privacy"]
    out: dict[str, dict[str, list[float]]] = {}
    for trainer in TRAINERS:
        opts, got = dataclasses.replace(base, trainer=trainer), {}
        for seed in range(seeds):
            t = time.perf_counter()
            report = audit_privacy(trained, options=opts, seed=seed)
            for m in report.models:
                if m.role == "audited":
                    continue
                for a in m.membership or ():
                    got.setdefault(f"{m.name} / {a.attack}", []).append(float(a.auc.value))
            print(f"{trainer} seed {seed}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        out[trainer] = got
    return out


def table(found: dict[str, dict[str, list[float]]]) -> list[str]:
    """Per network and attack: each trainer's mean (sd) [min, max] over the seeds, Welch's t of the
    difference of means, and whether the fused seed-0 value lies within the Opacus mean +- 2 sd."""
    rows = ["| network / attack | Opacus: mean (sd) [min, max] | fused: mean (sd) [min, max] | Welch t | fused seed 0 | "
            "within Opacus mean +- 2 sd |", "|---|---|---|---:|---:|:---:|"]
    for key, old in found["opacus"].items():
        new = found["fused"].get(key, [])
        if not new:
            continue
        o, f = np.asarray(old), np.asarray(new)
        so, sf = o.std(ddof=1), f.std(ddof=1)
        se = np.sqrt(so**2 / len(o) + sf**2 / len(f))
        t = (f.mean() - o.mean()) / se if se > 0 else 0.0
        inside = abs(f[0] - o.mean()) <= 2 * so
        rows.append(f"| {key} | {o.mean():.3f} ({so:.3f}) [{o.min():.3f}, {o.max():.3f}] | "
                    f"{f.mean():.3f} ({sf:.3f}) [{f.min():.3f}, {f.max():.3f}] | {t:+.2f} | {f[0]:.3f} | "
                    f"{'yes' if inside else 'NO'} |")
    return rows


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--out")
    ours, rest = ap.parse_known_args(argv)
    args = build_parser().parse_args(["run", *rest])
    found = spread(_config(args), args.data, ours.seeds)
    print("\n".join(table(found)))
    if ours.out:
        Path(ours.out).write_text(json.dumps(found, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
