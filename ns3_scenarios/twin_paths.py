"""The twin's routes, computed as its program does: OSPF costs, among equal-cost next hops the
neighbour over the link listed first (``ecmp`` off). Used by the traffic sizing, the probes, the
independent checks and the fluid tier."""

from __future__ import annotations

import networkx as nx

def link_order(g: nx.Graph) -> dict[frozenset[str], int]:
    """Index of every link in the twin's input (the order of ``g.edges``)."""
    return {frozenset((u, v)): k for k, (u, v) in enumerate(g.edges)}


def twin_next_hops(g: nx.Graph, dst: str, order: dict[frozenset[str], int] | None = None) -> dict[str, str]:
    """Next hop of every router toward ``dst`` as the twin routes without ECMP.

    The twin's SPF keeps, per destination, the equal-cost next hops in the
    order of the router's links (link index), and forwards on the first.
    """
    return next_hops_from(g, dst, neighbours_in_order(g, order or link_order(g)))


def neighbours_in_order(g: nx.Graph, order: dict[frozenset[str], int]) -> dict[str, list[tuple[str, int]]]:
    """Every node's (neighbour, OSPF cost), in the order of the links to them."""
    return {n: sorted(((m, d["ospf_cost"]) for m, d in g[n].items()), key=lambda md: order[frozenset((n, md[0]))])
            for n in g}


def next_hops_from(g: nx.Graph, dst: str, neighbours: dict[str, list[tuple[str, int]]]) -> dict[str, str]:
    """:func:`twin_next_hops` with the neighbour lists given: the first equal-cost next hop."""
    dist = nx.single_source_dijkstra_path_length(g, dst, weight="ospf_cost")
    nxt: dict[str, str] = {}
    for n, here in dist.items():
        if n != dst:
            nxt[n] = next(m for m, cost in neighbours[n] if m in dist and cost + dist[m] == here)
    return nxt


def twin_path(next_hops: dict[str, str], src: str, dst: str) -> list[str]:
    """The node path ``src -> dst`` along ``next_hops`` (from :func:`twin_next_hops` of ``dst``)."""
    path = [src]
    while path[-1] != dst:
        path.append(next_hops[path[-1]])
    return path
