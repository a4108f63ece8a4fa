"""The packages import one way only (STYLE.md, "Layers") and no modules import each other in a circle.

The arrows are read from the source (every ``import``, at the top or inside a function), as
``python -c "import x"`` would follow them: an import names the most specific module that exists.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# what each package may import besides itself: the bottom nothing, the composition layer everything
ALLOWED = {
    "cityvitals": set(),
    "feeds": {"cityvitals"},
    "indicators": {"cityvitals"},
    "dashboard": {"indicators", "cityvitals"},
    "wiring": {"dashboard", "feeds", "indicators", "cityvitals"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ALLOWED:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(name: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    """The project modules one import statement names (the most specific that exists)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the importing module's package
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
        targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = []
    for target in targets:
        parts = target.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        if parts:
            found.append(".".join(parts))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name].update(t for t in _imported(name, path, node, modules) if t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_package_imports_only_the_layers_below_it():
    upward = sorted(f"{source} -> {target}" for source, targets in import_graph().items() for target in targets
                    if target.split(".")[0] not in ALLOWED[source.split(".")[0]] | {source.split(".")[0]})
    assert not upward, "imports against the layers (STYLE.md):\n" + "\n".join(upward)


def test_no_modules_import_each_other_in_a_circle():
    assert not _cycles(import_graph())


def test_nothing_but_app_tests_and_benchmarks_imports_the_composition_layer():
    importers = sorted(source for source, targets in import_graph().items()
                       if not source.startswith("wiring") and any(t.startswith("wiring") for t in targets))
    assert not importers


def test_the_checks_see_an_upward_arrow_and_a_circle():
    graph = import_graph()
    assert "cityvitals.store" in graph["feeds.ingest"]  # the walk finds real arrows
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
