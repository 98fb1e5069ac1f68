"""Segments whose physical change is links down (fibre and SRLG cuts), with as little work as the change needs.

The same computation as :func:`~.incremental.fast_segments` (the fast path's
batched form), bit for bit, arranged so that one segment costs a few dozen
numpy calls over the flows the change touches, instead of matrices over a
block of segments:

* the flows dead on their baseline path are kept per physical state (two
  segments of a double cut share them);
* the moved flows' paths are kept per routing state as one flat list of hops
  (:class:`Hops`), with each hop's wire rate and link, so a segment's new loads
  and delays are one ``bincount`` each;
* the old contributions of the flows that leave their baseline path are
  gathered from the baseline's flow x arc matrix bin by bin in flow order, as
  its sparse product adds them; every other flow's delay moves by the change of
  the waits on its path (one sparse product, as before).

A test holds the screening results to the previous code (bit for bit on
single, double and triple cuts; ``tests/ns3_scenarios/test_fluid_cuts.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ani.ns3_scenarios.fluid import incremental
from ani.ns3_scenarios.fluid.incremental import Base, _padded, moved_paths
from ani.ns3_scenarios.fluid.linkstates import LinkStates
from ani.ns3_scenarios.fluid.network import Bounded, RoutingState, Tiered
from ani.ns3_scenarios.fluid.sharing import SegmentResult, _proportional
from ani.ns3_scenarios.fluid.timeline import Physical
from scipy.sparse import csr_matrix

try:  # the kernel behind csr_matrix @ vector
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - another scipy layout: the public operator
    _csr_matvec = None


#: routing states of two links down or more whose hops are kept (the ones used last)
RECENT = 256


class Hops:
    """The moved flows of one routing state: flows (sorted), reach, and their paths as a flat list of hops."""

    def __init__(self, twin: Any, rs: RoutingState, states: LinkStates) -> None:
        b, A = twin.base_fast, twin.net.A
        if LinkStates.covers(rs):
            flat = states.state(rs.links_down)
            self.moved, self.reached, self.arc = flat.flows, flat.reached, flat.arc
            self.row = np.repeat(np.arange(len(self.moved)), flat.lengths)
            self.ser, self.width, self._flat = flat.ser, flat.width, flat
            self.w = np.repeat(b.w[self.moved], flat.lengths)   # each hop's wire bit/s (its flow's)
        else:
            self.moved, newP, self.reached = moved_paths(twin, rs)
            Pm, self.ser = _padded(twin, rs, self.moved, newP)
            self.row, col = np.nonzero(Pm < A)
            self.arc = Pm[self.row, col]
            self.width, self._flat, self._newP = newP.shape[1], None, newP
            self.w = b.w[self.moved][self.row]

    @property
    def newP(self) -> np.ndarray:
        """The moved flows' paths as rows (padded with ``NO_ARC``), as :func:`moved_paths` gives them."""
        return self._flat.padded(self.width) if self._flat is not None else self._newP


class Cuts:
    """The lean path of one twin (its caches: per physical state, per routing state)."""

    def __init__(self, twin: Any) -> None:
        b: Base = twin.base_fast
        self.twin, self.b = twin, b
        self.F, self.A = len(twin.flows.src), twin.net.A
        self.cap = twin.net.capacity_bps
        self.cap_hi = self.cap * (1 + 1e-9)
        p = twin.params   # Base._wait's constants, computed once (the same values)
        self.service = 8 * (float(p["packet_bytes"]) + 30) / self.cap
        self.full = float(p["queue_packets"]) * self.service
        self.static: dict[frozenset[int], np.ndarray] = Bounded(4096)
        self.hops = Tiered(lambda rs: rs.changes <= 1, 20000, RECENT)
        self.states = LinkStates(twin)
        self.down: dict[frozenset[int], np.ndarray] = Bounded(4096)

    @staticmethod
    def covers(phys: Physical) -> bool:
        """Whether the physical state is links down only (the fast path's other conditions hold)."""
        return not (phys.nodes_down or phys.cleared or phys.degraded or phys.cpu_factor or phys.attacks)

    def _static_dead(self, links: frozenset[int]) -> np.ndarray:
        """Flows dead on their baseline path: a down link on it, or no route (cached per set of links)."""
        if links not in self.static:
            dead = np.zeros(self.F, bool)
            on = self.b.on_arc
            parts = [on[a] for k in links for a in (2 * k, 2 * k + 1)]
            if parts:
                dead[np.concatenate(parts)] = True
            dead[self.b.unreached] = True
            self.static[links] = dead
        return self.static[links]

    def prepare(self, states: list[RoutingState]) -> None:
        """Compute the link states of the routing states of ``states`` not yet cached together
        (:meth:`~.linkstates.LinkStates.prepare`)."""
        self.states.prepare({rs.links_down for rs in states if rs not in self.hops and LinkStates.covers(rs)})

    def _hops(self, rs: RoutingState) -> Hops:
        """The moved flows of ``rs`` as hops (cached)."""
        if rs not in self.hops:
            self.hops[rs] = Hops(self.twin, rs, self.states)
        return self.hops[rs]

    def segment(self, phys: Physical, rs: RoutingState) -> SegmentResult:
        """The segment's result (as :func:`~.incremental.fast_segments` computes it)."""
        b = self.b
        h = self._hops(rs)
        dead_m = ~h.reached
        if not phys.links_down <= rs.links_down:   # (the moved paths avoid the links the routers know are down)
            dead_m[h.row[self._down(phys.links_down - rs.links_down)[h.arc]]] = True
        dead = self._static_dead(phys.links_down).copy()
        dead[h.moved] = dead_m
        gone = dead.copy()
        gone[h.moved] = True
        if dead_m.any():   # the live moved flows' hops
            on = ~dead_m[h.row]
            row, arc, w = h.row[on], h.arc[on], h.w[on]
        else:
            row, arc, w = h.row, h.arc, h.w
        # the old loads of the flows that die or move (the baseline's product, bin by bin in flow order),
        # then their new loads
        load = (b.load - matvec(b.arc_flows, np.where(gone, b.w, 0.0))) + np.bincount(arc, w, self.A)
        frac = np.where(dead, 0.0, 1.0)
        hot = np.flatnonzero(load > self.cap_hi)
        if len(hot):
            frac, load = incremental._share_hot(self.twin, b, hot, load, frac, h.moved, h.newP, dead, _proportional)
        wait = self._wait(load)
        delay = b.delay + matvec(b.flows_arcs, wait - b.wait)
        sums = np.bincount(row, (self.twin.net.delay_s + wait)[arc], len(h.moved))
        live = ~dead_m
        delay[h.moved[live]] = sums[live] + h.ser[live]
        res = SegmentResult(frac=frac, delay=delay, dead=dead, util=np.minimum(load, self.cap) / self.cap,
                            drops=load > self.cap_hi)
        if not len(hot):   # every flow delivers all or is dead: the KPIs' lossy flows are the dead ones
            res.lossy = np.flatnonzero(dead[:self.twin.n_demands])
        return res

    def _wait(self, load: np.ndarray) -> np.ndarray:
        """:meth:`~.incremental.Base._wait` (a test holds them equal)."""
        rho = load / self.cap
        return np.where(rho >= 1 - 1e-9, self.full,
                        np.minimum(self.full, rho / (2 * np.maximum(1 - rho, 1e-9)) * self.service))

    def _down(self, links: frozenset[int]) -> np.ndarray:
        """Whether each arc is on a link of ``links`` (cached)."""
        if links not in self.down:
            down = np.zeros(self.A, bool)
            for k in links:
                down[2 * k:2 * k + 2] = True
            self.down[links] = down
        return self.down[links]


def matvec(m: csr_matrix, x: np.ndarray) -> np.ndarray:
    """``m @ x`` (scipy's own kernel, called without the dispatch around it: a few microseconds a call)."""
    if _csr_matvec is None:
        return m @ x
    out = np.zeros(m.shape[0])
    _csr_matvec(m.shape[0], m.shape[1], m.indptr, m.indices, m.data, x, out)
    return out
