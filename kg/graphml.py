"""The project's GraphML: the network layer in the project schema, written and read back unchanged.

:func:`write_graphml` marks the file with the graph attribute ``ani_schema``;
:func:`ani.kg.topology.load_graphml` sees the mark and calls
:func:`from_native_graphml` instead of the Topology Zoo importer. This module
needs nothing but networkx, so the importer and the KG file format
(:mod:`ani.kg.yamlio`) can both use it without importing each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import networkx as nx

from .errors import TopologyError

SCHEMA_VERSION = 1  # of the project schema: KG files (ani.kg.yamlio) and project GraphML
DERIVED_ATTRS = ("load_bps", "utilization")  # recomputed by build_kg, never written


def write_graphml(g: nx.Graph, path: str | Path | IO[bytes]) -> None:
    """Write a topology as GraphML in the project schema.

    GraphML cannot hold None or lists: None values are left out (the keys
    that had them are listed in ``none_keys__json``), list-valued graph
    attributes are written as JSON under ``<name>__json``. The graph
    attribute ``ani_schema`` marks the file, and
    :func:`ani.kg.topology.load_graphml` reads it back to an equal graph.
    """
    out = nx.Graph()
    for k, v in g.graph.items():
        if isinstance(v, list | tuple | dict):
            out.graph[f"{k}__json"] = json.dumps(v)
        elif v is not None:
            out.graph[k] = v
    none_keys: dict[str, set[str]] = {"node": set(), "edge": set()}
    for n, d in g.nodes(data=True):
        none_keys["node"].update(k for k, v in d.items() if v is None)
        out.add_node(n, **{k: v for k, v in d.items() if v is not None and k not in DERIVED_ATTRS})
    for u, v, d in g.edges(data=True):
        none_keys["edge"].update(k for k, x in d.items() if x is None)
        out.add_edge(u, v, **{k: x for k, x in d.items() if x is not None and k not in DERIVED_ATTRS})
    out.graph["none_keys__json"] = json.dumps({k: sorted(v) for k, v in none_keys.items()})
    out.graph["ani_schema"] = SCHEMA_VERSION
    nx.write_graphml(out, str(path) if isinstance(path, str | Path) else path)


def from_native_graphml(raw: nx.Graph, source: str) -> nx.Graph:
    """A GraphML file written by :func:`write_graphml`: already in this schema."""
    try:
        none_keys = json.loads(raw.graph.get("none_keys__json", "{}"))
        g = nx.Graph()
        for k, v in raw.graph.items():
            if k.endswith("__json") and k != "none_keys__json":
                g.graph[k[: -len("__json")]] = json.loads(v)
            elif k not in ("ani_schema", "none_keys__json", "node_default", "edge_default"):
                g.graph[k] = v
    except (TypeError, ValueError) as exc:
        raise TopologyError(source, f"malformed project GraphML graph attribute: {exc}") from exc
    g.graph.setdefault("notes", [])
    g.graph["source"] = source
    for n, d in raw.nodes(data=True):
        g.add_node(str(n), **{**{k: None for k in none_keys.get("node", [])}, **d})
    for u, v, d in raw.edges(data=True):
        if "link_id" not in d:
            raise TopologyError(source, f"edge {u}-{v}: no link_id in a project GraphML file")
        g.add_edge(str(u), str(v), **{**{k: None for k in none_keys.get("edge", [])}, **d})
    return g
