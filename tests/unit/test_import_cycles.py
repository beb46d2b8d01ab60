"""No import cycles inside the contract and the sinks (imports under TYPE_CHECKING count).

The import graph is read from the source with ``ast`` (no third-party tool needed): a
module imports ``a.b`` when it says ``import a.b`` or ``from a.b import c`` (and
``a.b.c`` too when that is a module). Lazy imports inside functions count as well: a
cycle only hidden by laziness is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Packages kept free of cycles. (streams/core is being split; add it once it is clean.)
PACKAGES = ("schemas", "sinks", "models")


def module_files(package: str) -> dict[str, Path]:
    """Module name -> file, for every module of ``package``."""
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that the module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {target for target in targets if target in modules and target != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {name: path for package in PACKAGES for name, path in module_files(package).items()}
    return {name: imported(name, path, set(files)) for name, path in files.items()}


def test_the_reader_sees_imports_of_every_kind() -> None:
    graph = import_graph()
    assert "sinks.messages" in graph["sinks.route"]  # from sinks.messages import ...
    assert "sinks.route" in graph["sinks.inputs"]
    assert {"sinks.inputs", "sinks.route"} <= graph["sinks.rows"]
    assert "sinks.migrate" in graph["sinks.reports.build"]


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package: str) -> None:
    found = [cycle for cycle in cycles(import_graph()) if cycle[0].split(".")[0] == package]
    assert not found, " ; ".join(" <-> ".join(cycle) for cycle in found)
