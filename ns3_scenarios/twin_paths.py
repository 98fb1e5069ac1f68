"""The twin's routes, computed as its program does: OSPF costs, among equal-cost next hops the
neighbour over the link listed first (``ecmp`` off). Used by the traffic sizing, the probes, the
independent checks and the fluid tier."""

from __future__ import annotations

import networkx as nx
import numpy as np

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


class Settled:
    """networkx's Dijkstra (``ospf_cost``) from many sources at once, as numpy matrices.

    Row ``r`` is source ``sources[r]``, column ``n`` node ``nodes[n]`` (``g``'s
    node order). ``dist[r, n]``: the distance (inf: unreachable); ``pos[r, n]``:
    the node's place in the order networkx settles nodes in (the order of the
    dicts it returns; ``n_nodes`` where unreachable); ``parent[r, n]``: its
    first predecessor (``dijkstra_predecessor_and_distance``'s ``pred[n][0]``,
    -1 at the source and where unreachable).

    networkx pops ``(distance, push counter)`` from a heap; a node's last push
    comes from its first settled neighbour on a shortest path, and counters
    grow in settle order and, per settled node, in its adjacency order. So a
    node settles after the nodes nearer the source, and among equally far ones
    by (its first parent's place, its place in that parent's adjacency). The
    places follow from the parents' places: computed by sorting until nothing
    moves (needs positive costs, which OSPF costs are).
    """

    def __init__(self, g: nx.Graph, sources: list[str]) -> None:
        from scipy.sparse import csr_matrix  # noqa: PLC0415 (numpy/scipy only where used)
        from scipy.sparse.csgraph import dijkstra  # noqa: PLC0415

        self.nodes = list(g.nodes)
        index = {v: i for i, v in enumerate(self.nodes)}
        n = len(self.nodes)
        arcs = np.array([(index[v], index[u], d.get("ospf_cost", 1), i) for v in self.nodes
                         for i, (u, d) in enumerate(g._adj[v].items()) if u != v], dtype=np.int64).reshape(-1, 4)
        tail, head, cost, slot = arcs.T
        if (cost <= 0).any():
            raise ValueError("Settled needs positive ospf_cost on every link")
        by_head = np.argsort(head, kind="stable")
        tail, head, cost, slot = tail[by_head], head[by_head], cost[by_head], slot[by_head]
        rows = np.array([index[s] for s in sources], dtype=np.int64)
        self.dist = dijkstra(csr_matrix((cost.astype(float), (tail, head)), shape=(n, n)), directed=True,
                             indices=rows) if n else np.zeros((len(rows), 0))
        self.pos, self.parent = self._settle(rows, tail, head, cost, slot, n)
        self.sources = list(sources)

    def _settle(self, rows: np.ndarray, tail: np.ndarray, head: np.ndarray, cost: np.ndarray,
                slot: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Settle places and first parents: sort by (distance, first parent's place, adjacency slot)
        until the places are a fixed point."""
        r = len(rows)
        reach = np.isfinite(self.dist)
        far = np.where(reach, self.dist, np.nan)
        levels = np.nan_to_num(far, nan=np.nanmax(far, initial=0.0) + 1).astype(np.int64)
        ti, te = np.nonzero(reach[:, tail] & (self.dist[:, tail] + cost == self.dist[:, head]))  # tight arcs
        target = ti * n + head[te]  # row-major and arcs by head: grouped by target
        starts = np.flatnonzero(np.r_[True, target[1:] != target[:-1]]) if len(target) else target
        via, slot_t = ti * n + tail[te], slot[te]
        width = int(slot.max(initial=0)) + 1
        never = (n + 1) * width
        pos = np.empty((r, n), dtype=np.int64)
        order = np.argsort(levels, axis=1, kind="stable")
        np.put_along_axis(pos, order, np.arange(n)[None, :], axis=1)
        first = np.full(r * n, never, dtype=np.int64)
        while True:
            if len(target):
                first[target[starts]] = np.minimum.reduceat(pos.ravel()[via] * width + slot_t, starts)
            first[np.arange(r) * n + rows] = -1
            order = np.argsort(levels * (never + 2) + first.reshape(r, n), axis=1, kind="stable")
            new = np.empty_like(pos)
            np.put_along_axis(new, order, np.arange(n)[None, :], axis=1)
            if np.array_equal(new, pos):
                break
            pos = new
        first = first.reshape(r, n)
        pos[~reach] = n
        ok = reach & (first >= 0) & (first < never)
        parent = np.full((r, n), -1, dtype=np.int64)
        parent[ok] = np.take_along_axis(order, np.where(ok, first // width, 0), axis=1)[ok]
        return pos, parent
