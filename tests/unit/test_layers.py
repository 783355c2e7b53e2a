"""The packages lean one way (docs/architecture.md, "Layers"): `worker/` never imports
`api/`, no package imports one above it, and no two modules import each other, even
through others. Read from the source's syntax trees: nothing is imported to find out."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "storage", "jobs", "worker", "api")
"""Lowest first: each package may import only those before it."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the five packages (the migrations' revisions are not imported)."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    }


def imported_names(tree: ast.AST) -> Iterator[str]:
    """Every absolute import anywhere in the module, at its top, under `if TYPE_CHECKING:`
    or inside a function: `from a.b import c` names `a.b.c` (a module, or a name in `a.b`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (a name in a module counts as its module)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported in imported_names(ast.parse(path.read_text(encoding="utf-8"))):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
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
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                found.append(sorted([node, *component]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "worker").glob("*.py")), ids=lambda path: path.name)
def test_no_module_of_the_worker_imports_the_api(path: Path) -> None:
    # given the module's imports, wherever they are
    imported = set(imported_names(ast.parse(path.read_text(encoding="utf-8"))))

    # then none of them is the API or part of it
    assert not {name for name in imported if name == "api" or name.startswith("api.")}


def test_no_package_imports_one_above_it() -> None:
    # given which package each module's imports reach
    graph = import_graph()
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if PACKAGES.index(target.split(".")[0]) > PACKAGES.index(module.split(".")[0])
    )

    # then every import goes to the same package or one below it
    assert upward == []


def test_no_modules_import_each_other_even_through_others() -> None:
    # given / when
    found = cycles(import_graph())

    # then
    assert found == []


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    # given a -> b -> c -> a, and d beside them
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}

    # when / then
    assert cycles(graph) == [["a", "b", "c"]]
