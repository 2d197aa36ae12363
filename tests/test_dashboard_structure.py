"""Layout rules of dashboard/ that a test can hold (ARCHITECTURE.md, issue 13).

- no module over 400 lines, no function over 80 lines;
- only dashboard/state.py touches ``st.session_state`` and the ``st.cache_*`` decorators;
- the charts package is pure: one module per area, none of them imports streamlit.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

DASHBOARD = ROOT / "dashboard"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    return sorted(DASHBOARD.rglob("*.py"))


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def test_no_dashboard_module_over_400_lines():
    long = {_rel(p): n for p in _sources() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}
    assert long == {}


def test_no_dashboard_function_over_80_lines():
    long = {}
    for p in _sources():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{_rel(p)}::{node.name}"] = n
    assert long == {}


def _state_touches(tree: ast.AST) -> list[str]:
    """``st.session_state`` and ``st.cache_data`` / ``st.cache_resource`` attributes used in a module."""
    return [f"st.{n.attr}" for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "st"
            and (n.attr == "session_state" or n.attr.startswith("cache"))]


def test_only_state_touches_session_state_and_caches():
    found = {_rel(p): _state_touches(ast.parse(p.read_text(encoding="utf-8"))) for p in _sources()}
    assert found["dashboard/state.py"], "the rule below would hold vacuously if state.py stopped using them"
    assert {k: v for k, v in found.items() if v and k != "dashboard/state.py"} == {}


def test_charts_never_import_streamlit():
    for p in sorted((DASHBOARD / "charts").glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        assert "streamlit" not in names, _rel(p)
