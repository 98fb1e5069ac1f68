"""Every router's twin next hop toward every destination router as numpy matrices: the probe cover
of :mod:`ani.ns3_scenarios.sizing` on graphs too large for path lists (above ``LARGE_GRAPH_ROUTERS``)."""

from __future__ import annotations

import heapq

import networkx as nx
import numpy as np

from ani.ns3_scenarios.twin_paths import Settled, link_order, neighbours_in_order

#: Above this many routers, probe selection works on route matrices (numpy) instead of path lists:
#: 5,000 routers have ~10 M leaf-to-destination routes, too many to hold as Python lists.
LARGE_GRAPH_ROUTERS = 1000
#: :class:`RouteMatrix`: recounts between two exact recounts of every candidate.
REFRESH_POPS = 200_000
#: :meth:`RouteMatrix.cover`'s candidate key: uncovered links, then shorter route, then lower index.
_COUNT, _LENGTH = 1 << 40, 1 << 24


def destinations(g: nx.Graph) -> list[str]:
    """The routers (with a link), by degree (highest first), then name: the probe cover's destination order."""
    routers = [v for v, kind in g.nodes(data="kind") if kind == "router" and g.degree(v) > 0]
    return sorted(routers, key=lambda v: (-g.degree(v), v))


def routers_count(g: nx.Graph) -> int:
    return sum(1 for n, kind in g.nodes(data="kind") if kind == "router" and g.degree(n) > 0)


class RouteMatrix:
    """Every router's twin next hop toward every destination router, as matrices (large graphs).

    Row ``r`` is destination ``dests[r]`` (in :func:`_probe_candidates`' order);
    ``hop[r, n]`` is node ``n``'s next hop toward it (-1: none), ``link[r, n]`` the
    link index taken, ``depth[r, n]`` the hops to it: the same next hops as
    :func:`twin_next_hops` (the first neighbour, in link order, on a shortest path;
    integer OSPF costs, so the float distances are exact).

    With ``settled`` (a :class:`Settled` of ``g`` from :func:`destinations`), a
    destination's leaves (candidates) are numbered in the order networkx's
    Dijkstra settles them, as the path lists of :mod:`ani.ns3_scenarios.sizing`
    were; without, by node index.
    """

    def __init__(self, g: nx.Graph, settled: Settled | None = None) -> None:
        from scipy.sparse import csr_matrix  # noqa: PLC0415 (only large graphs need it)
        from scipy.sparse.csgraph import dijkstra  # noqa: PLC0415

        order = link_order(g)
        self.nodes = list(g.nodes)
        index = {v: i for i, v in enumerate(self.nodes)}
        n = len(self.nodes)
        routers = [v for v, kind in g.nodes(data="kind") if kind == "router" and g.degree(v) > 0]
        self.dests = destinations(g)
        self.is_router = np.zeros(n, dtype=bool)
        self.is_router[[index[v] for v in routers]] = True
        rows, cols, costs = [], [], []
        for u, v, d in g.edges(data=True):
            rows += [index[u], index[v]]
            cols += [index[v], index[u]]
            costs += [float(d["ospf_cost"])] * 2
        self.settled = settled
        dist = self.settled.dist if self.settled else dijkstra(
            csr_matrix((costs, (rows, cols)), shape=(n, n)), directed=True, indices=[index[v] for v in self.dests])
        neighbours = neighbours_in_order(g, order)
        width = max((len(x) for x in neighbours.values()), default=0)
        self.hop = np.full(dist.shape, -1, dtype=np.int32)
        self.link = np.full(dist.shape, -1, dtype=np.int32)
        dest_col = np.array([index[v] for v in self.dests])
        for j in range(width):  # the j-th neighbour of every node, in link order
            head = np.array([index[x[j][0]] if j < len(x) else -1 for x in (neighbours[v] for v in self.nodes)])
            cost = np.array([x[j][1] if j < len(x) else np.inf for x in (neighbours[v] for v in self.nodes)])
            via = np.array([order[frozenset((v, x[j][0]))] if j < len(x) else -1
                            for v, x in ((v, neighbours[v]) for v in self.nodes)], dtype=np.int32)
            ok = head >= 0
            tight = np.zeros(dist.shape, dtype=bool)
            tight[:, ok] = (cost[ok][None, :] + dist[:, head[ok]] == dist[:, ok]) & np.isfinite(dist[:, ok])
            tight &= self.hop < 0
            tight[np.arange(len(dest_col)), dest_col] = False
            self.hop[tight] = np.broadcast_to(head, dist.shape)[tight]
            self.link[tight] = np.broadcast_to(via, dist.shape)[tight]
        del dist
        self.width = n
        hop = self.hop.ravel()
        row_start = np.repeat(np.arange(self.hop.shape[0], dtype=np.int64) * n, n)
        # flat index of each entry's next entry on the way to the destination (-1: none)
        self.up = np.where(hop >= 0, row_start + hop, -1)
        del row_start
        self.depth = self._depths()
        by_depth = np.argsort(self.depth, kind="stable")
        bounds = np.searchsorted(self.depth[by_depth], np.arange(int(self.depth.max(initial=0)) + 2))
        self.levels = [by_depth[bounds[k]:bounds[k + 1]] for k in range(1, len(bounds) - 1)]  # depth 1, 2, ...

    def _depths(self) -> np.ndarray:
        """Hops from every entry to its destination (flat; 0 at the destination and where unreachable)."""
        depth = np.zeros(self.up.shape, dtype=np.int32)
        pending = np.flatnonzero(self.up >= 0)
        known = np.zeros(self.up.shape, dtype=bool)
        known[self.up < 0] = True
        while pending.size:
            ready = known[self.up[pending]]
            now = pending[ready]
            depth[now] = depth[self.up[now]] + 1
            known[now] = True
            pending = pending[~ready]
        return depth

    def _leaves(self) -> np.ndarray:
        """Flat indices of (destination, router) entries no other router routes through, row-major.

        (Until 2026-12-07 any node counted: a router whose only upstream nodes
        were external peers, as on Pacificwave, had no candidate route, and the
        links only such routes cross were neither "used" nor probed.)"""
        is_router = np.tile(self.is_router, self.hop.shape[0])
        inner = np.zeros(self.up.shape, dtype=bool)
        inner[self.up[(self.up >= 0) & is_router]] = True   # only routers send: an external child is no route
        leaves = np.flatnonzero((self.up >= 0) & ~inner & is_router)
        if self.settled is None:
            return leaves
        rank = (leaves // self.width) * (self.width + 1) + self.settled.pos.ravel()[leaves]
        return leaves[np.argsort(rank, kind="stable")]

    def used_links(self) -> set[int]:
        """Links on the route of a router leaf to its destination (those of every routed pair)."""
        on = np.zeros(self.up.shape, dtype=bool)
        on[self._leaves()] = True
        for idx in reversed(self.levels):  # deepest first: a node is on a route when a child is
            on[self.up[idx[on[idx]]]] = True
        return set(np.unique(self.link.ravel()[on & (self.up >= 0)]).tolist())

    def _uncovered_counts(self, leaves: np.ndarray, left: np.ndarray) -> np.ndarray:
        """Per candidate (flat leaf entry): links of its route not yet covered (``left``: mask over links)."""
        count = np.zeros(self.up.shape, dtype=np.int32)
        link = self.link.ravel()
        for idx in self.levels:  # shallowest first: a node's count builds on its next hop's
            count[idx] = count[self.up[idx]] + left[link[idx]]
        return count[leaves]

    def _route(self, flat: int) -> tuple[list[int], list[int]]:
        """Nodes and links from a flat (destination, node) entry to the destination."""
        nodes, links = [flat % self.width], []
        link = self.link.ravel()
        while self.up[flat] >= 0:
            links.append(int(link[flat]))
            flat = int(self.up[flat])
            nodes.append(flat % self.width)
        return nodes, links

    def probe_paths(self) -> tuple[list[list[str]], int, int, int]:
        """:func:`probe_paths`' lazy greedy cover on the matrices. Candidates are numbered row-major
        (destination, then leaf by node index), which only decides ties. Now and then every
        candidate's count is recounted at once, which drops the ones with nothing left to cover."""
        leaves = self._leaves()
        used = np.array(sorted(self.used_links()), dtype=np.int64)
        n_links = int(max(used.max(initial=-1), self.link.max(initial=-1))) + 1
        left = np.zeros(n_links, dtype=bool)
        left[used] = True
        lengths = self.depth[leaves] + 1
        chosen: list[list[str]] = []
        remaining = len(used)
        while remaining:
            counts = self._uncovered_counts(leaves, left)
            alive = np.flatnonzero(counts > 0)
            if not alive.size:
                break  # cannot happen: every used link is on some candidate's route
            ordered = alive[np.lexsort((alive, lengths[alive], -counts[alive]))]
            heap: list[tuple[int, int, int]] = []
            pos, pops = 0, 0
            while remaining and pops < REFRESH_POPS and (pos < len(ordered) or heap):
                static = (-int(counts[ordered[pos]]), int(lengths[ordered[pos]]), int(ordered[pos])) \
                    if pos < len(ordered) else None
                if heap and (static is None or heap[0] < static):
                    count, length, i = heapq.heappop(heap)
                else:
                    count, length, i = static  # type: ignore[misc]
                    pos += 1
                pops += 1
                nodes, links = self._route(int(leaves[i]))
                now = int(left[links].sum())
                if now == -count:
                    chosen.append([self.nodes[v] for v in nodes])
                    left[links] = False
                    remaining -= now
                elif now > 0:
                    heapq.heappush(heap, (-now, length, i))
        return chosen, len(used) - remaining, len(used), int(self.depth.max(initial=0))

    def _routes(self, leaves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(candidate, link) for every link on every candidate's route (candidate = index into ``leaves``)."""
        link, cur, ids = self.link.ravel(), leaves, np.arange(len(leaves))
        cands, links = [], []
        while cur.size:
            on = self.up[cur] >= 0
            cur, ids = cur[on], ids[on]
            cands.append(ids)
            links.append(link[cur])
            cur = self.up[cur]
        return (np.concatenate(cands), np.concatenate(links)) if cands else (np.zeros(0, np.int64),) * 2

    def cover(self) -> tuple[list[list[str]], int, int, int]:
        """:func:`probe_paths`' greedy cover, exactly: each step the candidate with most uncovered links,
        then the shortest route, then the lowest index, with every candidate's count kept exact (a link
        covered takes one from each candidate through it). Memory grows with the candidates' route
        lengths: for graphs up to ``LARGE_GRAPH_ROUTERS`` routers."""
        leaves = self._leaves()
        cands, links = self._routes(leaves)
        used = np.unique(links)
        by_link = np.argsort(links, kind="stable")
        through = cands[by_link]  # the candidates through each link, link by link
        start = np.searchsorted(links[by_link], np.arange(int(links.max(initial=-1)) + 2))
        assert len(leaves) < _LENGTH and self.depth.max(initial=0) < 0xFFFF, "too many candidates for cover()"
        key = (np.bincount(cands, minlength=len(leaves)).astype(np.int64) * _COUNT
               + (0xFFFF - self.depth[leaves].astype(np.int64)) * _LENGTH + (_LENGTH - 1 - np.arange(len(leaves))))
        left = np.zeros(len(start), dtype=bool)
        left[used] = True
        chosen: list[list[str]] = []
        while len(leaves) and key.max() >= _COUNT:
            i = int(np.argmax(key))
            nodes, route = self._route(int(leaves[i]))
            chosen.append([self.nodes[v] for v in nodes])
            new = [x for x in route if left[x]]
            left[new] = False
            np.subtract.at(key, np.concatenate([through[start[x]:start[x + 1]] for x in new]), _COUNT)
        longest = int(self.depth[leaves].max(initial=0))
        return chosen, len(used) - int(left.sum()), len(used), longest

    def routed_links(self) -> set[int]:
        """:meth:`used_links` from the candidates' routes (as :meth:`cover` sees them)."""
        return set(np.unique(self._routes(self._leaves())[1]).tolist())
