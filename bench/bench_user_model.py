"""Benchmark auditing the user's own model on Adult (issue 14) and record the figures in bench/README.md.

Stages, each in a fresh process (wall time of ``run_audit``, peak RSS of the process):
  baseline     the default audit of sample_data/adult.toml (baselines only)
  onnx         the same audit with [model] path = a gradient-boosting pipeline converted to ONNX
  predictions  the same audit with [model] predictions = a column holding that model's scores
  predictions_lean  predictions, with only the dummy reference and no cross-validation
Targets: onnx <= 1.3 x baseline; predictions-only < 5 s.

  onnx_test, predictions_lean_test  the same with [model] evaluate_on = "test"

Usage: python bench/bench_user_model.py [--only baseline,onnx,...] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
README = ROOT / "bench" / "README.md"
SAMPLE = ROOT / "sample_data" / "adult.csv.gz"
CONFIG = ROOT / "sample_data" / "adult.toml"

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from audit.config import config_from_mapping, load_config_file
from audit.pipeline import run_audit
raw = load_config_file({config!r})
for k, v in json.loads({extra!r}).items():
    raw[k] = {{**raw.get(k, {{}}), **v}} if isinstance(v, dict) else v
cfg = config_from_mapping(raw)
t = time.perf_counter()
rep = run_audit(cfg, {data!r})
wall = time.perf_counter() - t
print(json.dumps({{"wall": wall, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "timings": [[x.name, x.status, x.seconds] for x in rep.manifest.timings],
                  "model": rep.models.selected_label}}))
"""


def make_inputs(tmp: Path) -> tuple[Path, Path]:
    """The team's model (gradient boosting, fitted on a seeded half of Adult) as ONNX, and the data with its scores."""
    import numpy as np
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(SAMPLE)
    feats = [c for c in frame.columns if c not in ("income", "fnlwgt", "split")]
    num = [c for c in feats if pd.api.types.is_numeric_dtype(frame[c])]
    cat = [c for c in feats if c not in num]
    X = frame[feats].copy()
    X[cat] = X[cat].astype(object).where(X[cat].notna(), "missing").astype(str)
    X[num] = X[num].astype(np.float32)
    y = (frame["income"].astype(str).str.strip().str.startswith(">50K")).astype(int)
    half = X.sample(frac=0.5, random_state=0).index
    pipe = Pipeline([("pre", ColumnTransformer([("num", "passthrough", num), ("cat", OneHotEncoder(handle_unknown="ignore"), cat)])),
                     ("model", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0))]).fit(X.loc[half], y.loc[half])
    types = [(c, FloatTensorType([None, 1])) if c in num else (c, StringTensorType([None, 1])) for c in feats]
    onx = convert_sklearn(pipe, initial_types=types, options={id(pipe[-1]): {"zipmap": False}}, target_opset={"": 18, "ai.onnx.ml": 3})
    model = tmp / "adult_gb.onnx"
    model.write_bytes(onx.SerializeToString())
    scored = frame.copy()
    scored["team_score"] = pipe.predict_proba(X)[:, 1]
    data = tmp / "adult_scored.csv.gz"
    scored.to_csv(data, index=False, compression="gzip")
    return model, data


def run_stage(extra: dict, data: Path) -> dict:
    code = CHILD.format(root=str(ROOT), config=str(CONFIG), extra=json.dumps(extra), data=str(data))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="baseline,onnx,onnx_test,predictions_lean,predictions_lean_test,predictions")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    todo = args.only.split(",")
    with tempfile.TemporaryDirectory() as d:
        model, data = make_inputs(Path(d))
        stages = {
            "baseline": ({}, SAMPLE),
            "onnx": ({"model": {"path": str(model)}}, SAMPLE),
            "predictions": ({"model": {"predictions": "team_score"}}, data),
            "predictions_lean": ({"model": {"predictions": "team_score"}, "models": {"models": ["dummy"], "cv_folds": 0}}, data),
            "onnx_test": ({"model": {"path": str(model), "evaluate_on": "test"}}, SAMPLE),
            "predictions_lean_test": ({"model": {"predictions": "team_score", "evaluate_on": "test"},
                                       "models": {"models": ["dummy"], "cv_folds": 0}}, data),
        }
        results = {}
        for name in todo:
            extra, src = stages[name]
            results[name] = run_stage(extra, src)
            r = results[name]
            print(f"{name}: {r['wall']:.1f} s, {r['maxrss_mb']:.0f} MB, {r['model']}; "
                  + ", ".join(f"{n} {s} {sec:.1f}" for n, s, sec in r["timings"]), flush=True)
    if not args.no_write:
        write(results)


LABELS = {
    "baseline": ("baselines only (default)", None),
    "onnx": ("ONNX gradient boosting, every row judges it", "onnx"),
    "onnx_test": ("ONNX gradient boosting, `evaluate_on = \"test\"`", "onnx"),
    "predictions": ("predictions column, default baselines as references", "pred"),
    "predictions_lean": ("predictions column, dummy reference only, no CV", "pred"),
    "predictions_lean_test": ("predictions column, dummy reference only, no CV, `evaluate_on = \"test\"`", "pred"),
}


def write(results: dict) -> None:
    load = os.getloadavg()[0]
    base = results.get("baseline")

    def ran(r):
        return ", ".join(f"{n} {sec:.1f}" for n, s, sec in r["timings"] if s == "done" and n not in ("data", "models"))

    def not_run(r):
        return ", ".join(n for n, s, _ in r["timings"] if s == "not run") or "none"

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on 2 cores shared with other work (load average {load:.1f} at the end), "
        "Adult (48,842 rows), `sample_data/adult.toml`; the user's model is a scikit-learn gradient-boosting pipeline "
        "(100 trees) fitted on a seeded half of Adult and converted with skl2onnx (string inputs for the categorical "
        "columns); the predictions column holds its scores. By default every row of the table judges the user's model.",
        "",
        "| audit | wall time (s) | peak RSS (MB) | target | met | sections run (s) | not run |",
        "|---|---:|---:|---|:---:|---|---|",
    ]
    for name, r in results.items():
        label, kind = LABELS[name]
        if kind == "onnx" and base:
            target, met = f"<= 1.3 x baseline ({1.3 * base['wall']:.1f} s)", "yes" if r["wall"] <= 1.3 * base["wall"] else "no"
        elif kind == "pred":
            target, met = "< 5 s", "yes" if r["wall"] < 5 else "no"
        else:
            target, met = "reference", ""
        lines.append(f"| {label} | {r['wall']:.1f} | {r['maxrss_mb']:.0f} | {target} | {met} | {ran(r)} | {not_run(r)} |")
    text = README.read_text()
    block = "<!-- byo:start (written by bench/bench_user_model.py; do not edit by hand) -->\n" + "\n".join(lines) + "\n<!-- byo:end -->"
    if "<!-- byo:start" in text:
        text = re.sub(r"<!-- byo:start.*?<!-- byo:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Auditing the user's own model (issue 14)\n\n" + block + "\n"
    README.write_text(text)


if __name__ == "__main__":
    main()
