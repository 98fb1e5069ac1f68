"""A scenario as the fluid tier sees it: piecewise-constant segments of (physical state, routing state).

The packet tier's OSPF timeline (template README), reduced to network-wide instants:

* the **physical** change (a link or router goes down or up, a degradation, an
  overload, an attack starts or stops) happens at the event time ``t``;
* the routers **know** of a failure or restore at ``t + detect_delay_s + flood``
  and of a cost change (misconfiguration) at ``t + flood``, where ``flood`` is
  the median over routers of the LSA's travel time from the nearest witness
  (link propagation delays plus ``lsa_hop_delay_s`` per hop);
* **SPF** runs ``spf_delay_s`` after a change is known, at least ``spf_hold_s``
  after its previous run (changes known by then are included), and the new
  routes are **installed** ``fib_delay_s`` later. Between the physical change
  and the install, flows routed over a failed part lose everything: the outage
  loss is ``rate x outage``.

Events with ``duration_s`` revert by themselves (a failure is restored, a
degradation ends); a traffic_spike without one lasts ``DEFAULT_SPIKE_S``.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ani.kg.scenario import EventType
from ani.ns3_scenarios.events import EventRow
from ani.ns3_scenarios.fluid.network import FluidNetwork, RoutingState
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

T = EventType
FAILURES = {T.fiber_link_failure.value, T.router_failure.value, T.srlg_cut.value}
RESTORES = {T.link_restore.value, T.router_restore.value}
#: events the routers learn of (and recompute their routes for)
ROUTED = FAILURES | RESTORES | {T.misconfiguration.value}


@dataclass(frozen=True)
class Physical:
    """What the medium and the devices do in a segment (link, node and element indices)."""

    links_down: frozenset[int] = frozenset()
    nodes_down: frozenset[int] = frozenset()
    degraded: tuple[tuple[int, float, float], ...] = ()     # (link, loss probability, extra delay s)
    cpu_factor: tuple[tuple[int, float], ...] = ()          # (node, share of CPU capacity left)
    attacks: tuple[tuple[int, float], ...] = ()             # (victim, magnitude) of the spikes on
    cleared: frozenset[int] = frozenset()                   # routers with an empty table (failed, or
                                                            # restored but before their own SPF)

    @property
    def changes(self) -> int:
        """Components changed against the baseline (a router's cleared table goes with its failure)."""
        return (len(self.links_down) + len(self.nodes_down) + len(self.degraded) + len(self.cpu_factor)
                + len(self.attacks))

    def __hash__(self) -> int:   # the fields' (as the dataclass's), kept: a key of several caches, hashed often
        if "_hash" not in self.__dict__:
            self.__dict__["_hash"] = hash((self.links_down, self.nodes_down, self.degraded, self.cpu_factor,
                                           self.attacks, self.cleared))
        return self.__dict__["_hash"]  # type: ignore[no-any-return]


#: entries (links x routers) of the flooding times one step of :func:`_link_lsas` takes
LSA_ROWS = 2**18


@dataclass(frozen=True)
class Segment:
    t0: float
    t1: float
    physical: Physical
    routing: RoutingState


@dataclass
class _State:
    links_down: set[int] = field(default_factory=set)
    nodes_down: set[int] = field(default_factory=set)
    costs: dict[int, float] = field(default_factory=dict)
    degraded: dict[int, tuple[float, float]] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    attacks: set[tuple[int, float]] = field(default_factory=set)
    cleared: set[int] = field(default_factory=set)

    def physical(self) -> Physical:
        return Physical(frozenset(self.links_down), frozenset(self.nodes_down), tuple(sorted(
            (k, p, d) for k, (p, d) in self.degraded.items())), tuple(sorted(self.cpu.items())),
            tuple(sorted(self.attacks)), frozenset(self.cleared))

    def routing(self) -> RoutingState:
        return RoutingState(frozenset(self.links_down), frozenset(self.nodes_down), tuple(sorted(self.costs.items())))


def flood_matrix(net: FluidNetwork, lsa_hop_delay_s: float) -> np.ndarray:
    """LSA travel time between every pair of routers (propagation + per-hop processing)."""
    w = csr_matrix((net.delay_s + lsa_hop_delay_s, (net.tail, net.head)), shape=(net.N, net.N))
    return dijkstra(w, directed=True)


def _apply(state: _State, row: EventRow, idx: int, on: bool, net: FluidNetwork) -> bool:
    """Apply event ``row`` (``on``) or revert it to ``state``; True if the routers must learn of it."""
    kind, targets = row.event_type, row.targets
    if kind in FAILURES or kind in RESTORES:
        down = (kind in FAILURES) == on
        bucket = state.nodes_down if row.target_kind == "node" else state.links_down
        (bucket.update if down else bucket.difference_update)(targets)
        if down and row.target_kind == "node":
            state.cleared.update(targets)
        return True
    if kind == T.misconfiguration.value:
        for k in targets:
            if on:
                state.costs[k] = float(min(math.floor(net.cost[2 * k] * row.magnitude), 65535.0))
            else:
                state.costs.pop(k, None)
        return True
    if kind == T.link_degradation.value:
        for k in targets:
            state.degraded[k] = (row.magnitude, row.magnitude2)
            if not on:
                state.degraded.pop(k)
    elif kind == T.router_overload.value:
        for n in targets:
            state.cpu[n] = row.magnitude
            if not on:
                state.cpu.pop(n)
    elif kind == T.traffic_spike.value:
        (state.attacks.add if on else state.attacks.discard)((targets[0], row.magnitude))
    return False


def _witnesses(row: EventRow, net: FluidNetwork) -> np.ndarray:
    if row.target_kind == "node":
        n = np.array(row.targets)
        return np.unique(np.r_[n, net.head[np.isin(net.tail, n)]])
    k = np.array(row.targets)
    return np.unique(np.r_[net.tail[2 * k], net.head[2 * k]])


def _lsa(row: EventRow, net: FluidNetwork, flood: np.ndarray, cache: dict[Any, float]) -> float:
    """Median over routers of the LSA's travel time from the event's nearest witness (cached in ``cache``)."""
    key = (row.target_kind, tuple(row.targets))
    if key not in cache:
        if len(cache) > 100_000:
            cache.clear()
        if row.target_kind == "link" and len(row.targets) == 1:
            cache.update(_link_lsas(row.targets[0], net, flood))
        if key not in cache:
            reach = flood[_witnesses(row, net)].min(axis=0)
            cache[key] = float(np.median(reach[np.isfinite(reach)]))
    return cache[key]


def _link_lsas(k: int, net: FluidNetwork, flood: np.ndarray) -> dict[Any, float]:
    """:func:`_lsa` of the single links in link ``k``'s group of :data:`LSA_ROWS` // N links, in one step
    (the same values; none if some router cannot be reached, where each link's own finite times count)."""
    per = max(1, LSA_ROWS // max(net.N, 1))
    links = np.arange(k // per * per, min(net.L, (k // per + 1) * per))
    reach = np.minimum(flood[net.tail[2 * links]], flood[net.head[2 * links]])
    if not np.isfinite(reach).all():
        return {}
    return {("link", (int(j),)): float(m) for j, m in zip(links, np.median(reach, axis=1))}


def _changes(rows: list[EventRow], net: FluidNetwork, params: dict[str, Any], flood: np.ndarray,
             cache: dict[Any, float]) -> list[tuple[float, float | None, int, bool | None]]:
    """(physical time, time the routers know or None, row, on) of every event and revert.

    A restore carries traffic once the interfaces are up (``t + detect``); a
    restored router forwards once its own SPF has run (``on`` None: its table is filled).
    """
    out: list[tuple[float, float | None, int, bool | None]] = []
    detect = float(params["detect_delay_s"])
    own_spf = detect + float(params["spf_delay_s"]) + float(params["fib_delay_s"])
    for i, row in enumerate(rows):
        routed = row.event_type in ROUTED
        wait = detect if row.event_type != T.misconfiguration.value else 0.0
        lsa = _lsa(row, net, flood, cache) if routed else 0.0
        for t, on in ((row.time_s, True), (row.time_s + row.duration_s, False)):
            if not (on or row.duration_s > 0):
                continue
            up = routed and ((row.event_type in RESTORES) == on) and row.event_type != T.misconfiguration.value
            out.append((t + (detect if up else 0.0), t + wait + lsa if routed else None, i, on))
            if up and row.target_kind == "node":
                out.append((t + own_spf, None, i, None))
    return sorted(out, key=lambda c: (c[0], c[2], not c[3]))


def _installs(known: list[float], params: dict[str, Any]) -> list[tuple[float, float]]:
    """(SPF run time, install time) of every SPF run, with the hold between runs."""
    runs: list[tuple[float, float]] = []
    last = -math.inf
    for k in sorted(known):
        if runs and k <= runs[-1][0]:
            continue  # already included in a run that had not started yet
        run = max(k + float(params["spf_delay_s"]), last + float(params["spf_hold_s"]))
        runs.append((run, run + float(params["fib_delay_s"])))
        last = run
    return runs


def segments(rows: list[EventRow], net: FluidNetwork, params: dict[str, Any], flood: np.ndarray,
             start: float, stop: float, cache: dict[Any, float] | None = None) -> list[Segment]:
    """The scenario as segments of constant state within the traffic window ``[start, stop)``.

    ``flood`` is :func:`flood_matrix`; ``cache`` keeps each event's flooding time between calls.
    """
    changes = _changes(rows, net, params, flood, {} if cache is None else cache)
    phys, know = _State(), _State()
    timeline: list[tuple[float, Physical]] = [(-math.inf, phys.physical())]
    learned: list[tuple[float, int, bool]] = []
    for t, known, i, on in changes:
        if on is None:
            phys.cleared.difference_update(rows[i].targets)
        elif _apply(phys, rows[i], i, on, net) and known is not None:
            learned.append((known, i, on))
        timeline.append((t, phys.physical()))
    installs: list[tuple[float, RoutingState]] = [(-math.inf, RoutingState())]
    learned.sort()
    for run, install in _installs([k for k, _, _ in learned], params):
        for k, i, on in [x for x in learned if x[0] <= run]:
            _apply(know, rows[i], i, on, net)
        learned = [x for x in learned if x[0] > run]
        installs.append((install, know.routing()))
    cuts = sorted({start, stop, *(t for t, _ in timeline[1:]), *(t for t, _ in installs[1:])})
    cuts = [t for t in cuts if start <= t <= stop]
    # the state of each segment: the last one set at or before its start (both lists are in time order)
    p_times, p_states = [t for t, _ in timeline], [s for _, s in timeline]
    r_times = [t for t, _ in installs]
    out = []
    for t0, t1 in itertools.pairwise(cuts):
        if t1 - t0 <= 1e-12:
            continue
        out.append(Segment(t0, t1, p_states[bisect_right(p_times, t0) - 1], installs[bisect_right(r_times, t0) - 1][1]))
    return out
