"""Command line: ``python -m audit run DATA --target COL --sensitive COL[,COL...]``.

Exit codes: 0 done, 1 a configured gate failed, 2 bad input or arguments (one
line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audit.config import AuditConfig, config_from_mapping, load_config_file
from audit.errors import AuditError
from audit.sections import registry

EXIT_OK, EXIT_GATE, EXIT_BAD_INPUT = 0, 1, 2


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus the error; we want one line and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        raise _ArgumentError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m audit", description="Responsible-AI audit of baseline models on a tabular dataset.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="run an audit and write DIR/report.json")
    r.add_argument("data", help="training data: CSV (optionally gzipped), Parquet or Excel")
    r.add_argument("--target", help="the label column")
    r.add_argument("--sensitive", help="sensitive columns, comma separated")
    r.add_argument("--current", help="data met in use, compared with the training data by the drift audit")
    r.add_argument("--reference", help="drift reference data (default: the training split)")
    r.add_argument("--out", default="audit-output", help="output directory (default ./audit-output)")
    r.add_argument("--sections", help=f"comma separated subset of: {', '.join(registry.active().names)} (default: all)")
    r.add_argument("--seed", type=int, help="random seed (default 0)")
    r.add_argument("--config", help="a TOML config file; command-line options override it")
    r.add_argument("--fail-on", choices=("none", "fail", "warn"), help="exit 1 when any area's verdict is this bad")
    r.add_argument("--simulate-shift", help="drift scenario instead of --current, e.g. 'age:+1sd' (see README)")
    r.add_argument("--export", help="model card formats to write next to the report: md,html,pdf,json")
    r.add_argument("--model", help="audit your own model: an ONNX (.onnx) or skops (.skops) file (pickle/joblib are refused)")
    r.add_argument("--predictions", help="audit your model's predictions: a column of the data (never a feature)")
    r.add_argument("--engine", help="where to run: local (default), dask (a local Dask cluster) or tcp://HOST:8786; "
                   "default: $AUDIT_DASK_SCHEDULER, else local")
    r.add_argument("--workers", type=int, help="worker processes of --engine dask (default 2)")
    r.add_argument("--threshold", type=float, help="decision cut on the predictions' scale (a score at or above it is positive)")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    u = sub.add_parser("users", help="manage dashboard accounts", add_help=False)
    u.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _config(args: argparse.Namespace) -> AuditConfig:
    raw: dict = load_config_file(args.config) if args.config else {}
    if args.target:
        raw["target"] = args.target
    if args.sensitive is not None:
        raw["sensitive"] = [s.strip() for s in args.sensitive.split(",") if s.strip()]
    if args.sections:
        raw["sections"] = [s.strip() for s in args.sections.split(",") if s.strip()]
    if args.seed is not None:
        raw["seed"] = args.seed
    if args.fail_on:
        raw.setdefault("gate", {})["fail_on"] = args.fail_on
    if args.engine:
        raw.setdefault("engine", {})["address"] = args.engine
    if args.workers is not None:
        raw.setdefault("engine", {})["workers"] = args.workers
    for key in ("model", "predictions", "threshold"):
        value = getattr(args, key)
        if value is not None:
            raw.setdefault("model", {})["path" if key == "model" else key] = value
    if args.simulate_shift:
        raw.setdefault("drift", {})["simulate_shift"] = args.simulate_shift
    if "target" not in raw:
        raise AuditError("name the target column with --target COLUMN (or target = \"COLUMN\" in --config)")
    if not raw.get("sensitive"):
        raise AuditError("name at least one sensitive column with --sensitive COL[,COL...]")
    return config_from_mapping(raw)


def _progress_printer(*, terminal: bool):
    """Progress on stderr: every new message on a terminal; one line per finished section in a log."""
    last: dict[str, str] = {}
    finished: set[str] = set()

    def progress(section: str, fraction: float, message: str) -> None:
        if terminal:
            if last.get(section) != message:
                last[section] = message
                print(f"[{section:>12}] {fraction:4.0%} {message}", file=sys.stderr)
        elif fraction >= 1.0 and section not in finished:
            finished.add(section)
            print(f"[{section:>12}] done: {message}", file=sys.stderr, flush=True)

    return progress


def _run(args: argparse.Namespace) -> int:
    from audit.pipeline import gate_failed, run_audit

    config = _config(args)
    show = not args.quiet and sys.stderr.isatty()
    progress = None if args.quiet else _progress_printer(terminal=show)

    exports = [e.strip() for e in (args.export or "").split(",") if e.strip()]
    for e in exports:
        if e not in ("md", "html", "pdf", "json"):
            raise AuditError(f"--export takes md, html, pdf, json; got {e!r}")
    narrative = None
    if exports:  # the model card's modules only when a card is written (0.18 s of imports)
        from audit.cards.modelcard import export_files, load_narrative

        # Read the narrative before the audit, so a bad [modelcard] table fails in seconds, not after it.
        narrative = load_narrative(args.config) if args.config else None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise AuditError(f"--out {out} is a file, not a directory")
    report = run_audit(config, args.data, reference=args.reference, current=args.current, progress=progress)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(report.to_json(), encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"cannot write {out / 'report.json'}: {exc.strerror or exc}") from exc
    if exports:
        for path in export_files(report, out, formats=exports, narrative=narrative):
            print(f"wrote {path}", file=sys.stderr) if show else None
    summary = ", ".join([f"{k} {v.status}" for k, v in report.scorecard.items()]
                        + [f"{k} not run" for k, (status, _) in report.missing().items() if status == "not run"])
    print(f"wrote {out / 'report.json'} ({summary})")
    failed = gate_failed(report, config)
    if failed:
        print(f"gate failed ({config.gate.fail_on}): {', '.join(failed)}", file=sys.stderr)
        return EXIT_GATE
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["users"]:
        from audit.store.users_cli import main as users_main

        return users_main(argv[1:])
    if argv[:1] == ["worker"]:
        from audit.worker import main as worker_main

        return worker_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise _ArgumentError("expected a command: run (see python -m audit run --help)")
        return _run(args)
    except _ArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
