"""Architecture rules that a test can hold.

- the audit core never imports streamlit;
- no file over 400 lines and no function over 80 lines in audit/ and dashboard/
  (the exceptions below, each with its reason; an exception no longer needed fails);
- no import cycle among audit modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ROOT / "audit"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80
# Repository path -> why it may be longer than MAX_FILE_LINES for now.
FILE_EXCEPTIONS: dict[str, str] = {}
# "path::function" -> why it may be longer than MAX_FUNCTION_LINES for now.
FUNCTION_EXCEPTIONS: dict[str, str] = {
    "audit/store/migrations/versions/0001_initial.py::upgrade": "an Alembic migration is a frozen record of a released schema",
}


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


def _sources() -> list[Path]:
    return sorted([*AUDIT.rglob("*.py"), *(ROOT / "dashboard").rglob("*.py")])


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def _long_files() -> dict[str, int]:
    return {_rel(p): n for p in _sources() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}


def _long_functions() -> dict[str, int]:
    out = {}
    for p in _sources():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                    out[f"{_rel(p)}::{node.name}"] = n
    return out


def test_no_file_over_400_lines():
    long = _long_files()
    assert {k: n for k, n in long.items() if k not in FILE_EXCEPTIONS} == {}
    assert sorted(set(FILE_EXCEPTIONS) - set(long)) == [], "no longer needed: remove from FILE_EXCEPTIONS"


def test_no_function_over_80_lines():
    long = _long_functions()
    assert {k: n for k, n in long.items() if k not in FUNCTION_EXCEPTIONS} == {}
    assert sorted(set(FUNCTION_EXCEPTIONS) - set(long)) == [], "no longer needed: remove from FUNCTION_EXCEPTIONS"


def _module_name(p: Path) -> str:
    parts = p.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """audit module -> the audit modules it imports when it is imported.

    Module-level imports count, ``if TYPE_CHECKING:`` blocks included (a cycle there is
    still two modules that need each other); imports inside functions do not (they run
    later, on call). ``from audit.a import b`` points at ``audit.a.b`` when that is a
    module, else at ``audit.a``. Importing a package's ``__init__`` on the way is not
    counted: it is the package's own business.
    """
    paths = [p for p in AUDIT.rglob("*.py") if "migrations" not in p.parts]
    modules = {_module_name(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for p in paths:
        name, deps = _module_name(p), set()
        tree = ast.parse(p.read_text(encoding="utf-8"))
        stack = list(tree.body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.If, ast.Try)):
                stack += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                          *(h for handler in getattr(node, "handlers", []) for h in handler.body)]
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    if sub in modules:
                        deps.add(sub)
                    elif node.module in modules:
                        deps.add(node.module)
        graph[name] = deps - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_audit_modules():
    graph = _import_graph()
    assert graph["audit.sections.robustness.section"] >= {"audit.sections.robustness.attacks"}  # the graph sees imports
    assert _cycles(graph) == []
