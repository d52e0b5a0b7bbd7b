"""The packages' modules import one another without cycles, so every layer can be read,
tested and replaced on its own. Imports inside functions and under ``TYPE_CHECKING`` are
deferred on purpose and not counted."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = {
    "threadstore": REPOSITORY / "src" / "threadstore",
    "threadstore_fsspec": REPOSITORY / "backends/threadstore-fsspec/src/threadstore_fsspec",
    "threadstore_sql": REPOSITORY / "backends/threadstore-sql/src/threadstore_sql",
    "threadstore_example": REPOSITORY / "backends/threadstore-example/src/threadstore_example",
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported_at_load(tree: ast.Module, modules: dict[str, Path]) -> Iterator[str]:
    """The modules a module imports while it is itself being imported."""
    for statement in tree.body:
        if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
            continue
        nodes = ast.walk(statement) if isinstance(statement, ast.If | ast.Try) else [statement]
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    name = f"{node.module}.{alias.name}"
                    yield name if name in modules else node.module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_no_module_imports_itself_through_others() -> None:
    modules = _modules()
    if not all(root.is_dir() for root in PACKAGES.values()):
        pytest.fail("a package moved: update PACKAGES")
    graph = {
        name: set(_imported_at_load(ast.parse(path.read_text()), modules)) & modules.keys() - {name}
        for name, path in modules.items()
    }
    assert _cycles(graph) == []


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
