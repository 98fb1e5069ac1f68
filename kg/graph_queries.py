"""Queries on a topology graph of the project's schema (``ani.kg.topology``): its digest,
links and nodes by name (with close matches in the error), its routers."""

from __future__ import annotations

import difflib
import hashlib
import json

import networkx as nx

from .errors import UnknownComponentError


def graph_digest(g: nx.Graph) -> str:
    """A content hash of a graph, stable across runs and processes.

    Parameters
    ----------
    g : networkx.Graph
        A graph in this module's schema.

    Returns
    -------
    str
        The first 16 hex characters of the sha256 of a canonical JSON of the
        graph attributes (without ``source`` and ``notes``), the sorted nodes
        and the sorted edges with all their attributes.
    """
    meta = {k: v for k, v in g.graph.items() if k not in ("source", "notes")}
    nodes = [[str(n), g.nodes[n]] for n in sorted(g.nodes, key=str)]
    edges = sorted(([*sorted((str(u), str(v))), d] for u, v, d in g.edges(data=True)), key=lambda e: e[:2])
    blob = json.dumps(
        {"graph": meta, "nodes": nodes, "edges": edges},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _hint(target: str, names: dict[str, str], kind: str) -> str:
    """Up to 5 close matches among ``names`` (spelling -> canonical id)."""
    close = difflib.get_close_matches(target, list(names), n=10, cutoff=0.5)
    picks = list(dict.fromkeys(names[c] for c in close))[:5]
    if picks:
        return "close matches: " + ", ".join(picks)
    return f"no close match among {len(set(names.values()))} {kind}s"


def resolve_link(g: nx.Graph, target: str) -> tuple[str, str]:
    """Find the link named ``target`` (its ``link_id``, or the reversed "v-u").

    Parameters
    ----------
    g : networkx.Graph
        A graph in this module's schema.
    target : str
        A link id such as ``"Chicago-New_York"`` or ``"New_York-Chicago"``.

    Returns
    -------
    tuple of str
        The two ends ``(u, v)`` in ``link_id`` order.

    Raises
    ------
    UnknownComponentError
        If no link matches; the message lists up to 5 close matches.
    """
    spellings: dict[str, str] = {}
    ends: dict[str, tuple[str, str]] = {}
    for u, v, d in g.edges(data=True):
        lid = d.get("link_id", f"{u}-{v}")
        a, b = (u, v) if lid == f"{u}-{v}" else (v, u)
        ends[lid] = (a, b)
        spellings.setdefault(f"{b}-{a}", lid)
        spellings[lid] = lid
    if target in spellings:
        return ends[spellings[target]]
    raise UnknownComponentError(target, "link", _hint(str(target), spellings, "link"))


def resolve_node(g: nx.Graph, target: str) -> str:
    """Check that ``target`` is a node id of ``g`` and return it.

    Parameters
    ----------
    g : networkx.Graph
        A graph in this module's schema.
    target : str
        A node id such as ``"New_York"``.

    Returns
    -------
    str
        ``target`` itself.

    Raises
    ------
    UnknownComponentError
        If ``g`` has no such node; the message lists up to 5 close matches.
    """
    if isinstance(target, str) and target in g:
        return target
    names = {str(n): str(n) for n in g.nodes}
    raise UnknownComponentError(target, "node", _hint(str(target), names, "node"))


def routers(g: nx.Graph) -> list[str]:
    """Node ids of kind ``"router"``, in the graph's (file) order.

    Parameters
    ----------
    g : networkx.Graph
        A graph in this module's schema.

    Returns
    -------
    list of str
        The router ids; hyperedge pseudo-nodes and external peers are left out.
    """
    return [n for n, kind in g.nodes(data="kind") if kind == "router"]
