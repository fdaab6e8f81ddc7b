"""stagekit's modules import each other without cycles (imports for type checking aside)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "stagekit"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, here: str, is_package: bool) -> set[str]:
    """Every stagekit module imported anywhere in ``tree`` outside ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name == "stagekit" or name.startswith("stagekit.")}


def import_graph() -> nx.DiGraph:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        tree = ast.parse(path.read_text(), str(path))
        for target in imported(tree, name, path.name == "__init__.py"):
            if target in modules and target != name:
                graph.add_edge(name, target)
    return graph


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    # A module importing its own package's __init__ is Python's import order, not a layer
    # going back up; the package importing its modules stays an edge.
    for name in list(graph):
        for target in list(graph.successors(name)):
            if name.startswith(target + "."):
                graph.remove_edge(name, target)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {sorted(cycles, key=len)[:5]}"


def test_low_layers_never_import_the_notebook_or_the_cli() -> None:
    graph = import_graph()
    low = ("stagekit.models", "stagekit.pipeline", "stagekit.engine", "stagekit.remote",
           "stagekit.context", "stagekit.storage", "stagekit.download", "stagekit.stages")
    for name in graph:
        if name.startswith(low):
            reached = nx.descendants(graph, name)
            assert not {m for m in reached if m.startswith(("stagekit.notebook", "stagekit.cli"))}
