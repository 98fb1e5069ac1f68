"""The fluid tier's view of a network: arrays of arcs, flows and routes (numpy / scipy.sparse).

A link ``k`` of ``g.edges`` (the twin's link order) gives two arcs (link
directions): ``2k`` from its first end to its second, ``2k + 1`` back. Routing
is the twin's: shortest paths by OSPF cost, and among equal-cost next hops the
one on the router's lowest link index (``ecmp`` off, as
:func:`ani.ns3_scenarios.twin_paths.twin_next_hops`), or an even split over them
(``ecmp`` on: the expectation of the twin's per-flow hash).

Routes are recomputed incrementally: a routing state is a set of changes
against the baseline (links down, routers down, link costs), and only the
destinations whose shortest-path tree touches a changed component are
recomputed (:meth:`FluidNetwork.routes`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
from ani.ns3_scenarios.sizing import WIRE_OVERHEAD_BYTES
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

NO_ARC = -1
#: bytes each cache of the fluid tier may hold before it is emptied (several caches: a few GB at most in all)
CACHE_BYTES = 512 * 2**20
#: elements of the (destinations x arcs) temporaries of one next-hop step (~32 MB of float64)
NEXT_HOP_CHUNK = 2**22


def nbytes(value: object) -> int:
    """Bytes of the numpy arrays in ``value`` (an array, a tuple of them, or an object holding them)."""
    if hasattr(value, "nbytes"):
        return int(value.nbytes)  # type: ignore[attr-defined]
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    return sum(nbytes(v) for v in vars(value).values()) if hasattr(value, "__dict__") else 0


class Bounded(dict):  # type: ignore[type-arg]
    """A cache emptied when what it holds would pass ``max_bytes`` of arrays or ``max_items`` entries."""

    def __init__(self, max_items: int, max_bytes: int = CACHE_BYTES) -> None:
        super().__init__()
        self.max_items, self.max_bytes, self.used = max_items, max_bytes, 0

    def __setitem__(self, key: object, value: object) -> None:
        size = nbytes(value)
        if key not in self and (len(self) >= self.max_items or self.used + size > self.max_bytes):
            self.clear()
        self.used += size
        super().__setitem__(key, value)

    def clear(self) -> None:
        super().clear()
        self.used = 0


class Recent(OrderedDict):  # type: ignore[type-arg]
    """A cache of the ``max_items`` entries used last: the oldest is dropped one at a time, so the memory it
    frees is used again by the next entries (new memory costs a page fault per 4 KB: ~3.5 us on this VM)."""

    def __init__(self, max_items: int) -> None:
        super().__init__()
        self.max_items = max_items

    def __getitem__(self, key: object) -> Any:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key: object, value: object) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.max_items:
            self.popitem(last=False)


class Tiered:
    """A cache in two parts: the entries ``shared(key)`` admits (needed by many scenarios: a single failure's
    states) in a :class:`Bounded`, the others (mostly one scenario's: two failures and more) in a small
    :class:`Recent`, whose memory is used again rather than grown."""

    def __init__(self, shared: Callable[[Any], bool], max_items: int, recent: int,
                 max_bytes: int = CACHE_BYTES) -> None:
        self.shared, self.many, self.few = shared, Bounded(max_items, max_bytes), Recent(recent)

    def __contains__(self, key: object) -> bool:
        return key in self.many or key in self.few

    def __getitem__(self, key: Any) -> Any:
        return self.many[key] if key in self.many else self.few[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        (self.many if self.shared(key) else self.few)[key] = value

    def __len__(self) -> int:
        return len(self.many) + len(self.few)

    def values(self) -> list[Any]:
        return [*self.many.values(), *self.few.values()]


@dataclass(frozen=True)
class RoutingState:
    """Changes against the baseline the routers know of: links and routers down, link cost overrides."""

    links_down: frozenset[int] = frozenset()
    nodes_down: frozenset[int] = frozenset()
    costs: tuple[tuple[int, float], ...] = ()

    @property
    def is_baseline(self) -> bool:
        return not (self.links_down or self.nodes_down or self.costs)

    @property
    def changes(self) -> int:
        """Components changed against the baseline (links, routers, costs)."""
        return len(self.links_down) + len(self.nodes_down) + len(self.costs)

    def __hash__(self) -> int:   # the fields' (as the dataclass's), kept: a key of several caches, hashed often
        if "_hash" not in self.__dict__:
            self.__dict__["_hash"] = hash((self.links_down, self.nodes_down, self.costs))
        return self.__dict__["_hash"]  # type: ignore[no-any-return]


@dataclass
class Routes:
    """Next-hop arcs toward every destination: ``nh[d, v]`` (``NO_ARC``: none, or ``v == d``)."""

    nh: np.ndarray                      # (N, N) int: destination x node -> arc
    dist: np.ndarray                    # (N, N) float: destination x node -> cost (inf: unreachable)
    split: dict[int, np.ndarray] = field(default_factory=dict)  # ECMP: d -> (N, A) share of v's traffic on arc
    changed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # destinations recomputed
    row: np.ndarray | None = None       # compact routes: destination -> row of nh / dist (-1: not computed)

    @property
    def nbytes(self) -> int:
        """Bytes of the tables (the ECMP splits of the recomputed destinations only: the rest are shared)."""
        return self.nh.nbytes + self.dist.nbytes + sum(self.split[int(d)].nbytes for d in self.changed
                                                        if int(d) in self.split)

    def flat(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``nh`` and ``dist`` raveled, and each destination's offset into them."""
        r = dst if self.row is None else self.row[dst]
        return self.nh.ravel(), self.dist.ravel(), r * self.nh.shape[1]


class FluidNetwork:
    """Arrays of one graph for the fluid tier.

    Parameters
    ----------
    g : nx.Graph
        The knowledge graph's network layer (``capacity_bps``, ``delay_s``, ``ospf_cost`` on links).
    capacity_scale : float
        Multiplies every capacity, as in the packet tier.
    ecmp : bool
        Split over equal-cost next hops instead of the twin's lowest-link tie-break.
    """

    def __init__(self, g: nx.Graph, capacity_scale: float, ecmp: bool = False) -> None:
        self.g, self.ecmp = g, ecmp
        self.nodes = [str(n) for n in g.nodes]
        self.index = {n: i for i, n in enumerate(self.nodes)}
        self.by_name = np.array(sorted(range(len(self.nodes)), key=self.nodes.__getitem__), np.int64)
        self.N = len(self.nodes)
        ends = np.array([(self.index[str(u)], self.index[str(v)]) for u, v in g.edges], dtype=np.int64)
        ends = ends.reshape(-1, 2)
        self.L = len(ends)
        self.A = 2 * self.L
        self.tail = np.empty(self.A, np.int64)
        self.head = np.empty(self.A, np.int64)
        self.tail[0::2], self.head[0::2] = ends[:, 0], ends[:, 1]
        self.tail[1::2], self.head[1::2] = ends[:, 1], ends[:, 0]
        data = [d for _, _, d in g.edges(data=True)]
        self.link_ids = [str(d["link_id"]) for d in data]
        self.link_index = {lid: k for k, lid in enumerate(self.link_ids)}
        self.cost = np.repeat(np.array([float(d["ospf_cost"]) for d in data]), 2)
        self.capacity_bps = np.repeat(np.array([float(d["capacity_bps"]) * capacity_scale for d in data]), 2)
        self.delay_s = np.repeat(np.array([float(d["delay_s"]) for d in data]), 2)
        self.link_of = np.arange(self.A) // 2
        # arcs sorted by (tail, link index): the first tight one per tail is the twin's next hop
        self._order = np.lexsort((self.link_of, self.tail))
        tails = self.tail[self._order]
        self._starts = np.flatnonzero(np.r_[True, tails[1:] != tails[:-1]]) if self.A else np.array([], int)
        self._group_node = tails[self._starts] if self.A else np.array([], int)
        self._head_o, self._tail_o = self.head[self._order], self.tail[self._order]
        self._rank = np.arange(self.A)
        self._order_none = np.r_[self._order, NO_ARC]   # position A: no tight arc
        self._cache: dict[object, Routes] = Bounded(4096)
        self._head_sink = np.r_[self.head, self.N]   # head of an arc; NO_ARC (-1) -> the sink N
        # the reversed graph as one CSR matrix whose data are swapped per state (dist from d = dist to d)
        self._csr_order = np.lexsort((self.tail, self.head))
        indptr = np.searchsorted(self.head[self._csr_order], np.arange(self.N + 1))
        self._csr = csr_matrix((self.cost[self._csr_order], self.tail[self._csr_order], indptr),
                               shape=(self.N, self.N))
        self._simple = self._csr.has_canonical_format  # no parallel links (else sum_duplicates would merge them)
        self.base = self._full(RoutingState())

    # ------------------------------------------------------------------ costs and routes

    def arc_costs(self, state: RoutingState) -> np.ndarray:
        """Cost of every arc in ``state`` (inf: down)."""
        c = self.cost.copy()
        for k, cost in state.costs:
            c[2 * k:2 * k + 2] = cost
        for k in state.links_down:
            c[2 * k:2 * k + 2] = np.inf
        if state.nodes_down:
            dead = np.isin(self.tail, list(state.nodes_down)) | np.isin(self.head, list(state.nodes_down))
            c[dead] = np.inf
        return c

    def _dist(self, c: np.ndarray, dests: np.ndarray) -> np.ndarray:
        if self._simple:  # explicit inf entries are arcs never relaxed: the same as leaving them out
            self._csr.data[:] = c[self._csr_order]
            return dijkstra(self._csr, directed=True, indices=dests)
        ok = np.isfinite(c)
        # dist from d over reversed arcs = dist to d (arc costs are symmetric per link anyway)
        w = csr_matrix((c[ok], (self.head[ok], self.tail[ok])), shape=(self.N, self.N))
        return dijkstra(w, directed=True, indices=dests)

    def _next_hops_down(self, dist: np.ndarray, dests: np.ndarray, down: np.ndarray) -> np.ndarray:
        """:meth:`_next_hops` (ECMP off) of rows from several states of links down: row ``i`` is toward
        ``dests[i]`` in a state whose down arcs are ``down[i]`` (a boolean row over arcs). The same next hops
        as each state's own call: a down arc is never tight there (its cost is inf), every other arc costs
        what it costs in the baseline."""
        nh = np.full((len(dests), self.N), NO_ARC, np.int64)
        co = self.cost[self._order]
        up = ~down[:, self._order] & np.isfinite(co)
        step = max(1, NEXT_HOP_CHUNK // max(self.A, 1))
        for i in range(0, len(dests) if self.A else 0, step):
            d = dist[i:i + step]
            with np.errstate(invalid="ignore"):
                ts = (d[:, self._head_o] + co == d[:, self._tail_o]) & up[i:i + step]
            first = np.minimum.reduceat(np.where(ts, self._rank, self.A), self._starts, axis=1)
            nh[i:i + step, self._group_node] = self._order_none[first]
        nh[np.arange(len(dests)), dests] = NO_ARC
        return nh

    def compact_routes_many(self, links: list[frozenset[int]], dests: list[np.ndarray]
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`compact_routes` of several states of links down (ECMP off) as one stack of rows: ``nh``,
        ``dist`` (rows: each state's ``dests`` in turn) and the first row of each state."""
        first = np.zeros(len(links) + 1, np.int64)
        np.cumsum([len(d) for d in dests], out=first[1:])
        dist = np.vstack([self._dist(self.arc_costs(RoutingState(links_down=ls)), d) if len(d) else
                          np.zeros((0, self.N)) for ls, d in zip(links, dests)])
        down = np.zeros((int(first[-1]), self.A), bool)
        for i, ls in enumerate(links):
            for k in ls:
                down[first[i]:first[i + 1], 2 * k:2 * k + 2] = True
        nh = self._next_hops_down(dist, np.concatenate(dests).astype(np.int64), down)
        return nh, dist, first[:-1]

    def _next_hops(self, c: np.ndarray, dist: np.ndarray, dests: np.ndarray) -> tuple[np.ndarray, dict]:
        """Next-hop arcs (rows: ``dests``) and, with ECMP, the split of each node's traffic over arcs."""
        nh = np.full((len(dests), self.N), NO_ARC, np.int64)
        co = c[self._order]
        step = max(1, NEXT_HOP_CHUNK // max(self.A, 1))  # destinations at a time: (step x arcs) temporaries
        for i in range(0, len(dests) if self.A else 0, step):  # arcs in (tail, link) order: the first tight
            d = dist[i:i + step]                                 # one of each tail is its next hop
            with np.errstate(invalid="ignore"):
                ts = (d[:, self._head_o] + co == d[:, self._tail_o]) & np.isfinite(co)
            first = np.minimum.reduceat(np.where(ts, self._rank, self.A), self._starts, axis=1)
            nh[i:i + step, self._group_node] = self._order_none[first]
        nh[np.arange(len(dests)), dests] = NO_ARC
        split = {}
        if self.ecmp:
            with np.errstate(invalid="ignore"):
                tight = (dist[:, self.head] + c[None, :] == dist[:, self.tail]) & np.isfinite(c)[None, :]
            for i, d in enumerate(dests):
                t = tight[i].astype(float)
                t[self.tail == d] = 0.0
                n = np.bincount(self.tail, weights=t, minlength=self.N)
                split[int(d)] = np.divide(t, n[self.tail], out=np.zeros_like(t), where=n[self.tail] > 0)
        return nh, split

    def _full(self, state: RoutingState) -> Routes:
        c = self.arc_costs(state)
        dests = np.arange(self.N)
        dist = self._dist(c, dests)
        nh, split = self._next_hops(c, dist, dests)
        return Routes(nh=nh, dist=dist, split=split)

    def affected_destinations(self, state: RoutingState) -> np.ndarray:
        """Destinations whose routes may differ from the baseline's in ``state``."""
        base, hit = self.base, np.zeros(self.N, bool)
        worse = set(state.links_down) | {k for k, c in state.costs if c > self.cost[2 * k]}
        for n in state.nodes_down:
            worse |= set(self.link_of[(self.tail == n)].tolist())
            hit[n] = True
        for k in worse:
            on_tree = (base.nh[:, self.tail[2 * k]] == 2 * k) | (base.nh[:, self.tail[2 * k + 1]] == 2 * k + 1)
            if self.ecmp:
                on_tree |= np.array([base.split[d][2 * k] > 0 or base.split[d][2 * k + 1] > 0
                                     for d in range(self.N)])
            hit |= on_tree
        for k, c in state.costs:
            if c < self.cost[2 * k]:
                u, v = self.tail[2 * k], self.head[2 * k]
                hit |= np.abs(base.dist[:, u] - base.dist[:, v]) >= c
        return np.flatnonzero(hit)

    def routes(self, state: RoutingState, dests: np.ndarray | None = None) -> Routes:
        """The routes of ``state``: the baseline's, recomputed for the affected destinations only (cached).

        ``dests``: recompute only these (the caller knows no other destination's
        routes matter to it); the result is then cached for this caller's use only.
        """
        if state.is_baseline:
            return self.base
        key = state if dests is None else (state, "partial")
        if key not in self._cache:
            if dests is None:
                dests = self.affected_destinations(state)
            r = Routes(nh=self.base.nh.copy(), dist=self.base.dist.copy(), split=dict(self.base.split),
                       changed=dests)
            if len(dests):
                c = self.arc_costs(state)
                dist = self._dist(c, dests)
                nh, split = self._next_hops(c, dist, dests)
                r.nh[dests], r.dist[dests] = nh, dist
                r.split.update(split)
            self._cache[key] = r
        return self._cache[key]

    def compact_routes(self, state: RoutingState, dests: np.ndarray) -> Routes:
        """The routes of ``state`` toward ``dests`` only (rows of ``nh`` / ``dist``, ``row`` maps to them).

        Not cached: the caller keeps what it needs. Equals the rows of :meth:`routes` (ECMP off).
        """
        dests = np.asarray(dests, np.int64)
        row = np.full(self.N, -1, np.int64)
        row[dests] = np.arange(len(dests))
        c = self.arc_costs(state)
        dist = self._dist(c, dests) if len(dests) else np.zeros((0, self.N))
        nh, _ = self._next_hops(c, dist, dests) if len(dests) else (np.zeros((0, self.N), np.int64), {})
        return Routes(nh=nh, dist=dist, changed=dests, row=row)

    # ------------------------------------------------------------------ paths

    def paths(self, routes: Routes, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Arc sequence of each flow (``F x H``, padded with ``NO_ARC``) and whether it reaches ``dst``.

        One numpy step per hop over all flows at once (no loop per flow).
        """
        return self.walk(*routes.flat(dst), src, dst)

    def walk(self, nh: np.ndarray, dist: np.ndarray, off: np.ndarray, src: np.ndarray, dst: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`paths` on raveled next-hop and distance tables, each flow reading the row at ``off`` (its
        offset into them): rows of one routing state, or of several (:meth:`compact_routes_many`)."""
        F = len(src)
        N = self.N
        # rows one wider: column N is a sink with no arc, where finished and routeless flows wait
        sink = np.full((len(nh) // N, N + 1), NO_ARC, np.int64)
        sink[:, :N] = nh.reshape(-1, N)
        nh, off = sink.ravel(), off // N * (N + 1)
        walking = (src != dst) & np.isfinite(dist[off // (N + 1) * N + src])
        pos = off + np.where(walking, src, N)
        hops: list[np.ndarray] = []
        for _ in range(N):
            arc = nh[pos]
            if not (arc >= 0).any():
                break
            hops.append(arc)
            pos = off + self._head_sink[arc]
        P = np.stack(hops, axis=1) if hops else np.full((F, 0), NO_ARC, np.int64)
        last = P[np.arange(F), np.maximum((P >= 0).sum(axis=1) - 1, 0)] if hops else np.full(F, NO_ARC)
        return P, (src == dst) | ((last >= 0) & (self._head_sink[last] == dst))

    def ecmp_paths(self, routes: Routes, src: np.ndarray, dst: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """ECMP: every equal-cost path of each flow, with the share of the flow an even split puts on it.

        Returns ``(P, reached, owner, weight)``: one row per path (``P`` padded with
        ``NO_ARC``), the flow it belongs to and its share (a flow's shares sum to 1).
        Enumerated one hop at a time for all partial paths at once.
        """
        if not hasattr(self, "_out"):
            deg = np.bincount(self.tail, minlength=self.N)
            self._out = np.full((self.N, max(int(deg.max(initial=0)), 1)), self.A, np.int64)
            order = np.argsort(self.tail, kind="stable")
            pos = np.arange(self.A) - np.searchsorted(self.tail[order], self.tail[order])
            self._out[self.tail[order], pos] = order
        S = np.zeros((self.N, self.A + 1))
        for d, share in routes.split.items():
            S[d, :self.A] = share
        owner = np.arange(len(src))
        weight = np.ones(len(src))
        cur = src.copy()
        done_rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]] = []
        hops: list[np.ndarray] = []
        alive = (cur != dst[owner]) & np.isfinite(routes.dist[dst, src])
        finished = ~alive
        done_rows.append((owner[finished], weight[finished], cur[finished] == dst[owner[finished]], []))
        owner, weight, cur = owner[alive], weight[alive], cur[alive]
        for step in range(self.N):
            if not len(owner):
                break
            cand = self._out[cur]                                     # (m, maxdeg)
            share = S[dst[owner][:, None], cand]
            i, j = np.nonzero(share > 0)
            arc = cand[i, j]
            hops = [h[i] for h in hops] + [arc]
            owner, weight, cur = owner[i], weight[i] * share[i, j], self.head[arc]
            end = cur == dst[owner]
            if end.any() or step == self.N - 1:
                done_rows.append((owner[end], weight[end], np.ones(end.sum(), bool), [h[end] for h in hops]))
                hops = [h[~end] for h in hops]
                owner, weight, cur = owner[~end], weight[~end], cur[~end]
        if len(owner):
            done_rows.append((owner, weight, np.zeros(len(owner), bool), hops))
        H = max((len(h) for *_, h in done_rows), default=0)
        P = np.vstack([np.column_stack(h + [np.full(len(o), NO_ARC)] * (H - len(h))) if H else
                       np.zeros((len(o), 0), np.int64) for o, _, _, h in done_rows]).astype(np.int64)
        return (P, np.concatenate([r for _, _, r, _ in done_rows]),
                np.concatenate([o for o, _, _, _ in done_rows]), np.concatenate([w for _, w, _, _ in done_rows]))

    def wire_factor(self, packet_bytes: np.ndarray) -> np.ndarray:
        """Bits on the wire per payload bit."""
        return (packet_bytes + WIRE_OVERHEAD_BYTES) / packet_bytes
