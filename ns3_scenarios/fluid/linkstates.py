"""Routing states of links down only, kept as flat lists of hops (for :mod:`.cuts`).

The same flows and paths as :func:`~.incremental.moved_paths` (the flows whose
path differs from the baseline's, and their paths), by the same argument: a
flow whose path avoids every link down keeps it, tie-break included. One link
down moves the baseline's flows on it; a state with one more link ``k`` down
than a cached one moves again only the flows whose path there crosses ``k``;
of those, a flow whose path in the state without another link ``j`` avoids
``j`` takes that path, and only the flows whose paths cross ``k`` and ``j`` in
both states get a shortest-path computation. Paths are stored as one flat list
of hops per state (flows in order, each path in order), so a state costs a few
dozen numpy calls over the hops it moves, not (flows x longest path) matrices.

States needed together (a block of scenarios' cuts) are computed together
(:meth:`LinkStates.prepare`): single links first, then pairs, the next-hop
tables and walks of each round as one stack of rows (one Dijkstra call per
state remains). The same arrays as one state at a time (a test holds them to
it); measured in docs/measurements-2026-12.md ("Screening rate").
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

import numpy as np
from ani.ns3_scenarios.fluid.network import NO_ARC, RoutingState, Tiered

#: states of two links down or more kept (the ones used last: a block's, and the bases of larger sets)
RECENT = 512
#: table entries (rows x max(routers, arcs)) of one batch of walks (:meth:`LinkStates._walks`): ~0.5 MB of
#: float64 per table, which stays in the CPU's cache (TataNld, 1,000 double cuts: 2**16 screened faster than
#: 2**14, 2**18 and 2**22; 2**22, the size of one next-hop step, was slower than no batching for single links)
WALK_BATCH = 2**16


class Flat:
    """Flows (sorted), whether each reaches its destination, their paths (``arc[start[i]:start[i + 1]]``) and
    serialisation times (s; summed over the path as rows ``width`` wide, as :func:`~.incremental._padded` does;
    None: not computed)."""

    __slots__ = ("flows", "reached", "lens", "start", "arc", "ser", "width", "nbytes")

    def __init__(self, flows: np.ndarray, reached: np.ndarray, lengths: np.ndarray, arc: np.ndarray,
                 ser: np.ndarray | None = None, width: int = 0) -> None:
        self.flows, self.reached, self.arc, self.ser, self.width = flows, reached, arc, ser, width
        self.lens = lengths
        self.start = np.zeros(len(flows) + 1, np.int64)
        np.cumsum(lengths, out=self.start[1:])
        self.nbytes = sum(x.nbytes for x in (flows, reached, lengths, self.start, arc, ser) if x is not None)

    @property
    def lengths(self) -> np.ndarray:
        return self.lens

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lengths and flat hops of rows ``idx`` (in that order)."""
        lengths = self.lens[idx]
        first = np.cumsum(lengths) - lengths
        at = np.repeat(self.start[idx] - first, lengths) + np.arange(int(lengths.sum()))
        return lengths, self.arc[at]

    def padded(self, width: int, fill: int = NO_ARC) -> np.ndarray:
        """Paths as rows ``width`` wide, padded with ``fill``."""
        return _padded(self.start, self.arc, width, fill)


def _padded(start: np.ndarray, arc: np.ndarray, width: int, fill: Any) -> np.ndarray:
    row = np.repeat(np.arange(len(start) - 1), np.diff(start))
    P = np.full((len(start) - 1, width), fill, arc.dtype)
    P[row, np.arange(len(arc)) - start[row]] = arc
    return P


def assembled(sources: list[tuple[Flat, np.ndarray]], ser_of: Any, base_width: int) -> Flat:
    """Rows ``idx`` of each source ``(flat, idx)`` (their flows disjoint) as one :class:`Flat` in flow order,
    as wide as ``base_width`` or the longest path; serialisation times reused where summed as wide, else
    computed (``ser_of``)."""
    parts = [(f, i) for f, i in sources if len(i)] or sources[:1]
    lengths = np.concatenate([f.lens[i] for f, i in parts])
    width = max(base_width, int(lengths.max(initial=0)))
    sers = [_ser_of(f, i, width, ser_of) for f, i in parts]
    if len(parts) == 1 and len(parts[0][1]) == len(parts[0][0].flows):   # one whole source: as it is
        f = parts[0][0]
        return Flat(f.flows, f.reached, f.lens, f.arc, sers[0], width)
    flows = np.concatenate([f.flows[i] for f, i in parts])
    offsets = np.cumsum([0] + [len(f.arc) for f, _ in parts[:-1]])
    begin = np.concatenate([f.start[i] + o for (f, i), o in zip(parts, offsets)])
    reached = np.concatenate([f.reached[i] for f, i in parts])
    ser = np.concatenate(sers)
    pool = parts[0][0].arc if len(parts) == 1 else np.concatenate([f.arc for f, _ in parts])
    if len(parts) > 1:
        order = np.argsort(flows, kind="stable")
        flows, lengths, begin, reached, ser = flows[order], lengths[order], begin[order], reached[order], ser[order]
    out = Flat(flows, reached, lengths, pool[:0], ser, width)
    out.arc = pool[np.repeat(begin - out.start[:-1], lengths) + np.arange(int(out.start[-1]))]
    out.nbytes += out.arc.nbytes
    return out


def _ser_of(f: Flat, idx: np.ndarray, width: int, ser_of: Any) -> np.ndarray:
    """Serialisation times of rows ``idx`` of ``f`` summed as rows ``width`` wide (reused if they were)."""
    if f.ser is not None and f.width == width:
        return f.ser[idx]
    if len(idx) == len(f.flows):   # every row, in order
        return ser_of(f.flows, f.start, f.arc, width)
    n, hops = f.rows(idx)
    start = np.zeros(len(idx) + 1, np.int64)
    np.cumsum(n, out=start[1:])
    return ser_of(f.flows[idx], start, hops, width)


class LinkStates:
    """The routing states of one twin with links down only (cached per state)."""

    def __init__(self, twin: Any) -> None:
        b, net = twin.base_fast, twin.net
        self.net, self.f = net, twin.flows
        self.F = len(self.f.src)
        self.inv_cap, self.pkt, self.base_width = b.inv_cap, self.f.pkt, b.P.shape[1]
        self._b = b
        self.on_arc = b.on_arc
        self._on_link: dict[int, np.ndarray] = {}
        self.cache = Tiered(lambda links: len(links) <= 1, 20000, RECENT)

    @cached_property
    def base(self) -> Flat:
        """The baseline's paths of every flow (rows: flows; serialisation times computed where taken)."""
        on = self._b.P >= 0
        return Flat(np.arange(self.F), self._b.reached, on.sum(axis=1), self._b.P[on])

    def on_link(self, k: int) -> np.ndarray:
        """The flows whose baseline path crosses link ``k`` (sorted; cached)."""
        if k not in self._on_link:
            self._on_link[k] = np.union1d(self.on_arc[2 * k], self.on_arc[2 * k + 1])
        return self._on_link[k]

    @staticmethod
    def covers(rs: RoutingState) -> bool:
        return bool(rs.links_down) and not (rs.nodes_down or rs.costs)

    def state(self, links: frozenset[int]) -> Flat:
        """The moved flows of the state with ``links`` down (and nothing else changed)."""
        if links not in self.cache:
            self.cache[links] = self._one(links) if len(links) == 1 else self._more(links)
        return self.cache[links]

    def _walk(self, links: frozenset[int], flows: np.ndarray) -> tuple[Flat, np.ndarray]:
        """Paths of ``flows`` (sorted) in the state, from a shortest-path computation toward their destinations."""
        return self._walks([(links, flows)])[0]

    def _ser(self, flows: np.ndarray, start: np.ndarray, hops: np.ndarray, width: int) -> np.ndarray:
        """Serialisation time of each path, its hops' 1 / capacity summed as a row ``width`` wide."""
        inv = _padded(start, self.inv_cap[hops], width, 0.0)
        return 8 * (self.pkt[flows] + 30) * inv.sum(axis=1)

    def _one(self, links: frozenset[int]) -> Flat:
        (k,) = links
        return assembled([self._walk(links, self.on_link(k))], self._ser, self.base_width)

    def prepare(self, sets: Iterable[frozenset[int]]) -> None:
        """Compute the states of one or two links down among ``sets`` not yet cached, and the single-link
        states they build on, with the shortest-path walks of each round batched (:meth:`_walks`): the same
        states as one at a time (:meth:`state`), for fewer numpy calls. Larger sets are left to :meth:`state`."""
        todo = sorted({s for s in sets if 1 <= len(s) <= 2 and s not in self.cache}, key=sorted)
        singles = sorted({k for s in todo for k in s if frozenset({k}) not in self.cache})
        walked = self._walks([(frozenset({k}), self.on_link(k)) for k in singles])
        for k, w in zip(singles, walked):
            self.cache[frozenset({k})] = assembled([w], self._ser, self.base_width)
        doubles = [s for s in todo if len(s) == 2 and s not in self.cache]
        plans = [self._more_parts(s) for s in doubles]
        walked = iter(self._walks([(s, redo) for s, (_, redo) in zip(doubles, plans) if len(redo)]))
        for s, (parts, redo) in zip(doubles, plans):
            self.cache[s] = assembled(parts + ([next(walked)] if len(redo) else []), self._ser, self.base_width)

    def _walks(self, requests: list[tuple[frozenset[int], np.ndarray]]) -> list[tuple[Flat, np.ndarray]]:
        """:meth:`_walk` of each ``(links, flows)``, the next hops and walks of several states at once (in
        groups of at most :data:`WALK_BATCH` table entries)."""
        f, net, out = self.f, self.net, []
        dests = [np.unique(f.dst[flows]) for _, flows in requests]
        i = 0
        while i < len(requests):
            j, size = i, 0
            while j < len(requests) and (j == i or size + len(dests[j]) * max(net.N, net.A) <= WALK_BATCH):
                size += len(dests[j]) * max(net.N, net.A)
                j += 1
            nh, dist, first = net.compact_routes_many([ls for ls, _ in requests[i:j]], dests[i:j])
            flows = [fl for _, fl in requests[i:j]]
            row = np.concatenate([first[m] + np.searchsorted(dests[i + m], f.dst[fl]) for m, fl in enumerate(flows)])
            every = np.concatenate(flows)
            P, R = net.walk(nh.ravel(), dist.ravel(), row * net.N, f.src[every], f.dst[every])
            lo = 0
            for fl in flows:
                p, on = P[lo:lo + len(fl)], P[lo:lo + len(fl)] >= 0
                out.append((Flat(fl, R[lo:lo + len(fl)], on.sum(axis=1), p[on]), np.arange(len(fl))))
                lo += len(fl)
            i = j
        return out

    def _more(self, links: frozenset[int]) -> Flat:
        parts, redo = self._more_parts(links)
        if len(redo):
            parts.append(self._walk(links, redo))
        return assembled(parts, self._ser, self.base_width)

    def _more_parts(self, links: frozenset[int]) -> tuple[list[tuple[Flat, np.ndarray]], np.ndarray]:
        """The state's rows taken from cached states, and the flows that need a walk of their own."""
        ordered = sorted(links)
        k = next((x for x in ordered if links - {x} in self.cache), ordered[-1])
        parent = self.state(links - {k})
        j = min(links - {k})
        other = self.state(links - {j})              # k down, j up
        # flows whose path with k up crosses k: moved in the parent and crossing it, or on it and not moved there
        cross = _rows_on(parent, k)
        in_parent = np.zeros(self.F, bool)
        in_parent[parent.flows] = True
        on_k = self.on_link(k)
        redo = np.sort(np.concatenate([on_k[~in_parent[on_k]], parent.flows[cross]]))
        # their path with j up (k down): from the other state if moved there, else the baseline's (crossing j
        # only if on j); those crossing j there are routed afresh
        pos = np.minimum(np.searchsorted(other.flows, redo), len(other.flows) - 1)
        hit = other.flows[pos] == redo if len(other.flows) else np.zeros(len(redo), bool)
        again = ~hit & _member(redo, self.on_link(j))
        ph = pos[hit]
        again[hit] = _rows_on(other, j)[ph]
        keep = np.flatnonzero(~cross)
        parts = [(parent, keep), (other, pos[hit & ~again])]
        rest = redo[~hit & ~again]
        if len(rest):   # (none when only links are down: their baseline path crosses j)
            parts.append((self.base, rest))
        return parts, redo[again]


def _member(x: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Whether each of ``x`` is in ``sorted_values``."""
    if not len(sorted_values):
        return np.zeros(len(x), bool)
    pos = np.minimum(np.searchsorted(sorted_values, x), len(sorted_values) - 1)
    return sorted_values[pos] == x


def _rows_on(flat: Flat, link: int) -> np.ndarray:
    """Whether each row of ``flat`` crosses ``link``."""
    out = np.zeros(len(flat.flows), bool)
    out[np.searchsorted(flat.start, np.flatnonzero((flat.arc >> 1) == link), side="right") - 1] = True
    return out
