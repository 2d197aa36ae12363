"""Architecture rules that a test can hold: the audit core never imports streamlit."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

AUDIT = Path(__file__).resolve().parents[1] / "audit"


def test_no_streamlit_import_in_audit_sources():
    offenders = []
    for path in AUDIT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(str(path))
    assert offenders == []


def test_importing_every_audit_module_does_not_load_streamlit():
    mods = sorted(
        "audit." + ".".join(p.relative_to(AUDIT).with_suffix("").parts)
        for p in AUDIT.rglob("*.py")
        if p.name not in ("__main__.py",) and "migrations" not in p.parts
    )
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods) + "print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=AUDIT.parent, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
