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
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ani.ns3_scenarios.fluid.network import NO_ARC, Bounded, RoutingState


class Flat:
    """Flows (sorted), whether each reaches its destination, and their paths: ``arc[start[i]:start[i + 1]]``."""

    __slots__ = ("flows", "reached", "start", "arc", "nbytes")

    def __init__(self, flows: np.ndarray, reached: np.ndarray, lengths: np.ndarray, arc: np.ndarray) -> None:
        self.flows, self.reached, self.arc = flows, reached, arc
        self.start = np.zeros(len(flows) + 1, np.int64)
        np.cumsum(lengths, out=self.start[1:])
        self.nbytes = flows.nbytes + reached.nbytes + self.start.nbytes + arc.nbytes

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.start)

    @classmethod
    def of_paths(cls, flows: np.ndarray, P: np.ndarray, reached: np.ndarray) -> Flat:
        """From padded paths (``NO_ARC`` after each path's end)."""
        on = P >= 0
        return cls(flows, reached, on.sum(axis=1), P[on])

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lengths and flat hops of rows ``idx`` (in that order)."""
        lengths = self.start[idx + 1] - self.start[idx]
        first = np.cumsum(lengths) - lengths
        at = np.repeat(self.start[idx] - first, lengths) + np.arange(int(lengths.sum()))
        return lengths, self.arc[at]

    def padded(self, width: int) -> np.ndarray:
        """Paths as rows ``width`` wide, padded with ``NO_ARC``."""
        lengths = self.lengths
        row = np.repeat(np.arange(len(self.flows)), lengths)
        P = np.full((len(self.flows), width), NO_ARC, np.int64)
        P[row, np.arange(len(self.arc)) - self.start[row]] = self.arc
        return P


def merged(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> Flat:
    """One :class:`Flat` of disjoint parts ``(flows, reached, lengths, hops)``, rows in flow order."""
    flows = np.concatenate([p[0] for p in parts])
    reached = np.concatenate([p[1] for p in parts])
    lengths = np.concatenate([p[2] for p in parts])
    hops = np.concatenate([p[3] for p in parts])
    order = np.argsort(flows, kind="stable")
    whole = Flat(flows, reached, lengths, hops)
    lengths, arc = whole.rows(order)
    return Flat(flows[order], reached[order], lengths, arc)


class LinkStates:
    """The routing states of one twin with links down only (cached per state)."""

    def __init__(self, twin: Any) -> None:
        b, net = twin.base_fast, twin.net
        self.net, self.f = net, twin.flows
        self.F = len(self.f.src)
        self.base = Flat.of_paths(np.arange(self.F), b.P, b.reached)
        on_link = [np.union1d(b.on_arc[2 * k], b.on_arc[2 * k + 1]) for k in range(net.L)]
        self.on_link = on_link
        self.cache: dict[frozenset[int], Flat] = Bounded(20000)

    @staticmethod
    def covers(rs: RoutingState) -> bool:
        return bool(rs.links_down) and not (rs.nodes_down or rs.costs)

    def state(self, links: frozenset[int]) -> Flat:
        """The moved flows of the state with ``links`` down (and nothing else changed)."""
        if links not in self.cache:
            self.cache[links] = self._one(links) if len(links) == 1 else self._more(links)
        return self.cache[links]

    def _walk(self, links: frozenset[int], flows: np.ndarray) -> Flat:
        """Paths of ``flows`` (sorted) in the state, from a shortest-path computation toward their destinations."""
        f, net = self.f, self.net
        rs = RoutingState(links_down=links)
        P, R = net.paths(net.compact_routes(rs, np.unique(f.dst[flows])), f.src[flows], f.dst[flows])
        return Flat.of_paths(flows, P, R)

    def _one(self, links: frozenset[int]) -> Flat:
        (k,) = links
        return self._walk(links, self.on_link[k])

    def _more(self, links: frozenset[int]) -> Flat:
        ordered = sorted(links)
        k = next((x for x in ordered if links - {x} in self.cache), ordered[-1])
        parent = self.state(links - {k})
        j = min(links - {k})
        other = self.state(links - {j})              # k down, j up
        # flows whose path with k up crosses k: moved in the parent and crossing it, or on it and not moved there
        hop_link = parent.arc >> 1
        cross = np.zeros(len(parent.flows), bool)
        cross[np.searchsorted(parent.start, np.flatnonzero(hop_link == k), side="right") - 1] = True
        in_parent = np.zeros(self.F, bool)
        in_parent[parent.flows] = True
        on_k = self.on_link[k]
        fresh_base = on_k[~in_parent[on_k]]
        redo = np.sort(np.r_[fresh_base, parent.flows[cross]])
        # their path with j up (k down): from the other state if moved there, else the baseline's
        pos = np.searchsorted(other.flows, redo)
        pos[pos >= len(other.flows)] = 0
        hit = other.flows[pos] == redo if len(other.flows) else np.zeros(len(redo), bool)
        lo, ao = other.rows(pos[hit])
        lb, ab = self.base.rows(redo[~hit])
        cand = merged([(redo[hit], other.reached[pos[hit]], lo, ao),
                       (redo[~hit], self.base.reached[redo[~hit]], lb, ab)])
        # those crossing j there are routed afresh
        again = np.zeros(len(cand.flows), bool)
        again[np.searchsorted(cand.start, np.flatnonzero((cand.arc >> 1) == j), side="right") - 1] = True
        keep = np.flatnonzero(~cross)
        stay = np.flatnonzero(~again)
        parts = [(parent.flows[keep], parent.reached[keep], *parent.rows(keep)),
                 (cand.flows[stay], cand.reached[stay], *cand.rows(stay))]
        if again.any():
            w = self._walk(links, cand.flows[again])
            parts.append((w.flows, w.reached, w.lengths, w.arc))
        return merged(parts)
