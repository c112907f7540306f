"""The layout's rules, checked: the product never loads a test double, and neither events/ nor
storage/ has an import cycle (counting imports inside functions, and a package's __init__
importing its own modules)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# In a fresh interpreter: what `infobip-events serve` loads (the CLI, the app factory, the
# Membrane client of the default settings) and then every module of events/ and storage/.
LOAD_THE_PRODUCT = """
import importlib, json, pkgutil, sys
import events, storage
from events.cli.main import main
from events.api.app import create_app
from events.config import Settings
from events.membrane.factory import build_client
settings = Settings(_env_file=None)
create_app(settings)
build_client(settings)
for package in (events, storage):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
EXTRA
print(json.dumps(sorted(sys.modules)))
"""


def loaded_test_doubles(extra: str = "") -> list[str]:
    """The test modules and fakes loaded by the product (plus `extra`, a line of Python)."""
    code = LOAD_THE_PRODUCT.replace("EXTRA", extra)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return [m for m in modules if m == "tests" or m.startswith("tests.") or "fake" in m.lower()]


def test_nothing_on_the_serve_path_imports_a_test_fake() -> None:
    assert loaded_test_doubles() == []


def test_the_test_double_check_sees_a_fake_when_one_is_loaded() -> None:
    found = loaded_test_doubles("import tests.fakes.membrane")
    assert {"tests", "tests.fakes", "tests.fakes.membrane"} <= set(found)


# ---- import cycles --------------------------------------------------------------------------


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of these top-level packages."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _with_parents(name: str) -> list[str]:
    """A module and every package above it: importing a.b.c runs a and a.b first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _named(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Every dotted name an import statement may load."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        anchor = here[: len(here) - node.level + 1]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    # `from a import b` loads a, and a.b when b is a module.
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules of these packages that loading it loads first: every import
    statement anywhere in the file (in functions too), with the packages above each imported
    module, and the packages above the module itself."""
    files = module_files(root, packages)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        edges = {p for p in _with_parents(module)[:-1] if p in files}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _named(node, module, is_package):
                    edges.update(n for n in _with_parents(name) if n in files)
        edges.discard(module)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that ends where it starts) for each strongly connected group of
    modules, found with Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_within(graph, group) for group in groups]


def _path_within(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the group's first module, staying inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def test_no_import_cycles_in_events_or_storage() -> None:
    found = cycles(import_graph(ROOT, ("events", "storage")))
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_storage_never_imports_events() -> None:
    graph = import_graph(ROOT, ("events", "storage"))
    wrong = {m: sorted(d for d in deps if d.startswith("events")) for m, deps in graph.items()}
    assert {m: d for m, d in wrong.items() if m.startswith("storage") and d} == {}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        pytest.param(
            {
                "pkg/__init__.py": "from pkg import parser\nPARSERS = [parser.parse]\n",
                "pkg/parser.py": "from pkg.common import x\ndef parse(): return x\n",
                "pkg/common.py": "x = 1\n",
            },
            ["pkg", "pkg.parser", "pkg"],
            id="a package importing its own modules",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from pkg.b import f\n",
                "pkg/b.py": "def f():\n    from pkg import a\n    return a\n",
            },
            ["pkg.a", "pkg.b", "pkg.a"],
            id="an import inside a function",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "",
                "pkg/sub/a.py": "from .. import b\n",
                "pkg/b.py": "from .sub.a import *\n",
            },
            ["pkg.b", "pkg.sub.a", "pkg.b"],
            id="relative imports",
        ),
    ],
)
def test_the_cycle_finder_names_the_cycle(
    tmp_path: Path, files: dict[str, str], cycle: list[str]
) -> None:
    _write(tmp_path, files)
    assert cycles(import_graph(tmp_path, ("pkg",))) == [cycle]


def test_the_cycle_finder_passes_a_registry_of_its_own(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": '"""A package that imports nothing."""\n',
            "pkg/registry.py": "from pkg import parser\nPARSERS = [parser.parse]\n",
            "pkg/parser.py": "from pkg.common import x\ndef parse(): return x\n",
            "pkg/common.py": "x = 1\n",
        },
    )
    assert cycles(import_graph(tmp_path, ("pkg",))) == []


# ---- functions fit on a screen ------------------------------------------------------------

LONGEST_FUNCTION = 80


def long_functions(root: Path, packages: tuple[str, ...], limit: int) -> list[str]:
    """Every function of the packages longer than `limit` lines, as path:line name (length)."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > limit:
                        where = path.relative_to(root)
                        found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_events_or_storage_is_longer_than_80_lines() -> None:
    assert long_functions(ROOT, ("events", "storage"), LONGEST_FUNCTION) == []


def test_the_length_check_finds_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(LONGEST_FUNCTION))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "long.py").write_text(f"def too_long():\n{body}\n")
    assert long_functions(tmp_path, ("pkg",), LONGEST_FUNCTION) == [
        f"pkg/long.py:1 too_long ({LONGEST_FUNCTION + 1} lines)"
    ]
