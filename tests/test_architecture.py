"""The package layout's rules, checked on the source: the import graph has no cycle (imports
inside functions count, since they run too), ``api/`` and ``shared/`` never reach into ``worker``
(the API must not load the model stack), no module outgrows a reader's attention, and an import
hidden inside a function says why it is deferred."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "worker", "shared")
MAX_LINES = 400
DEFERRED = "deferred:"


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: tuple[str, ...]


@cache
def modules() -> dict[str, Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            source = path.read_text(encoding="utf-8")
            found[name] = Module(name, path, ast.parse(source), tuple(source.splitlines()))
    return found


def imported(module: Module, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project modules an import statement loads: ``from pkg import sub`` names ``pkg.sub``
    when that is a module (the package's ``__init__`` is only a namespace then)."""
    known = modules()
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = module.name.split(".")
            keep = len(parts) - node.level + (1 if module.path.name == "__init__.py" else 0)
            base = ".".join(parts[:keep] + ([node.module] if node.module else []))
        subs = [f"{base}.{alias.name}" for alias in node.names]
        names = [sub for sub in subs if sub in known] or [base]
    targets = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module.name:
            targets.append(name)
    return targets


def imports_in_functions(module: Module) -> list[ast.Import | ast.ImportFrom]:
    return [node for function in ast.walk(module.tree)
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]


def graph() -> dict[str, set[str]]:
    return {name: {target for node in ast.walk(module.tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                   for target in imported(module, node)}
            for name, module in modules().items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start, targets in edges.items():
        if start in index:
            continue
        work = [(start, iter(sorted(targets)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(graph()) == []


def test_api_and_shared_never_import_the_worker() -> None:
    upward = [f"{name} imports {target}" for name, targets in graph().items()
              if name.split(".")[0] in ("api", "shared") for target in targets if target.startswith("worker")]
    assert upward == []


def test_no_module_is_over_the_line_limit() -> None:
    long = {module.name: len(module.lines) for module in modules().values() if len(module.lines) > MAX_LINES}
    assert long == {}


def test_an_import_inside_a_function_says_why_it_is_deferred() -> None:
    unexplained = [f"{module.path.relative_to(ROOT)}:{node.lineno}" for module in modules().values()
                   for node in imports_in_functions(module) if DEFERRED not in reason(module, node)]
    assert unexplained == []


def reason(module: Module, node: ast.Import | ast.ImportFrom) -> str:
    """The import's own lines and the comment block above it, through any imports that the
    same comment covers."""
    first = node.lineno - 1
    while first > 0 and module.lines[first - 1].strip().startswith(("#", "from ", "import ")):
        first -= 1
    return " ".join(module.lines[first:node.end_lineno or node.lineno])


@pytest.mark.parametrize("source, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle(source: dict[str, set[str]],
                                                         expected: list[list[str]]) -> None:
    assert cycles(source) == expected
