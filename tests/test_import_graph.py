"""The project's import graph: no cycles, and the layers ``orchestrator -> {ns3_scenarios, llm} -> kg``.

Every import statement anywhere in a module counts (inside functions and under
``TYPE_CHECKING`` too), read with :mod:`ast` from the source, so a lazy import
cannot hide a cycle. Break one with a narrow ``Protocol`` in the lower module
(as :mod:`ani.kg.causal`, :mod:`ani.kg.validate` and :mod:`ani.kg.context` do).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kg", "llm", "ns3_scenarios", "orchestrator")
LAYER = {"kg": 0, "llm": 1, "ns3_scenarios": 1, "orchestrator": 2}


def _modules() -> dict[str, Path]:
    """Dotted name (``ani.…``) -> source file, for every module of the four packages."""
    out = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(["ani", *parts])] = path
    return out


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The project module that ``name`` (a module, or a name inside one) lives in."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Dotted names one import statement reaches (``from a import b`` may name module ``a.b``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        anchor = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            anchor = anchor.rpartition(".")[0]
        base = f"{anchor}.{base}" if base else anchor
    return [f"{base}.{a.name}" for a in node.names]


def import_graph() -> nx.DiGraph:
    """Module -> module it imports, over every import statement of every project module."""
    modules = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name in _imported(node, module, path.name == "__init__.py"):
                    target = _owner(name, modules) if name.startswith("ani.") else None
                    if target and target != module:
                        g.add_edge(module, target)
    return g


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return import_graph()


def test_the_graph_sees_lazy_and_relative_imports(graph: nx.DiGraph) -> None:
    assert graph.number_of_nodes() > 75
    assert graph.has_edge("ani.kg.model", "ani.kg.validate")  # a relative import inside a method
    assert graph.has_edge("ani.orchestrator.cli.main", "ani.ns3_scenarios.render")  # inside a command


def test_no_import_cycles(graph: nx.DiGraph) -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == [], f"import cycles: {cycles}"


def test_layers_orchestrator_then_ns3_scenarios_and_llm_then_kg(graph: nx.DiGraph) -> None:
    def package(module: str) -> str:
        return module.split(".")[1]

    wrong = [f"{a} -> {b}" for a, b in graph.edges
             if LAYER[package(b)] > LAYER[package(a)]
             or (LAYER[package(a)] == LAYER[package(b)] and package(a) != package(b))]
    assert wrong == [], "imports against the layers:\n" + "\n".join(sorted(wrong))
