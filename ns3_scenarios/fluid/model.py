"""The fluid (flow-level) twin: the packet tier's network, traffic, routing and events as rates.

You must provide a graph, the template's validated parameters (as
:meth:`~ani.ns3_scenarios.templates.Template.params` returns them) and a
scenario; you get :class:`FluidKpis` -- the packet tier's headline KPIs where a
fluid model can give them -- in about a millisecond, or a :class:`FluidRefusal`
saying why the scenario cannot be modelled.

Traffic is the packet tier's (:func:`~ani.ns3_scenarios.sizing.sized_traffic`
after :func:`~ani.ns3_scenarios.sizing.auto_sized`: the same demand and probe
flows at the same rates, and a traffic_spike's attack flows from
:func:`~ani.ns3_scenarios.events.attack_demands`); routing and the event
timeline are in :mod:`.network` and :mod:`.timeline`. In each segment of
constant state:

* a flow whose route crosses a failed link or router, or that has no route,
  or whose source or destination is down, delivers nothing;
* **sharing**: a link direction (or a router CPU, in packets/s) offered more
  than its capacity forwards its capacity. ``sharing="proportional"`` (default)
  drops the same share of every flow, as the twin's DropTail FIFO queues do
  with constant-rate flows (a fixed point along each path: a flow's rate at a
  hop is what the hops before let through); ``sharing="maxmin"`` gives a
  max-min fair allocation (progressive filling) instead;
* a degraded link drops ``magnitude`` of what it carries and adds ``magnitude2`` s of delay;
* **delay** = propagation + serialisation on every hop + a queueing estimate:
  a full queue (``queue_packets`` packets; ``cpu_queue_packets`` at a CPU) where
  the offered load exceeds capacity, else the M/D/1 wait ``rho / (2 (1 - rho))``
  service times, at most the full queue.

KPIs (over demand flows; a flow's offered traffic is its rate over its active
span, as send attempts are in the packet tier, refused sends included) follow
:mod:`ani.orchestrator.measure.kpis`: loss ratios are totals, a flow is
measurable with >= 20 attempted packets and impacted when its loss ratio grows
by > 0.01, its mean delay by > 10 % and > 1 ms, or it delivers nothing.
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx
import numpy as np
from ani.kg.demands import Demand
from ani.kg.errors import ScenarioError, UnknownComponentError
from ani.kg.event_types import LINK_EVENTS
from ani.kg.scenario import EventType, Scenario
from ani.kg.graph_queries import graph_digest
from ani.kg.model import paused_gc
from ani.ns3_scenarios.events import (
    DEFAULT_SPIKE_S,
    SAFE_LABEL,
    EventRow,
    attack_demands,
    event_rows,
    magnitudes,
)
from ani.ns3_scenarios.fluid.batch import BLOCK, Plan, plans, results
from ani.ns3_scenarios.fluid.cuts import Cuts
from ani.ns3_scenarios.fluid.incremental import Base, applicable, fast_segment, moved_paths, with_moved
from ani.ns3_scenarios.fluid.network import CACHE_BYTES, NO_ARC, Bounded, FluidNetwork, Recent, RoutingState, Tiered
from ani.ns3_scenarios.fluid.sharing import (
    SegmentResult,
    _Flows,
    _maxmin,
    _proportional,
)
from ani.ns3_scenarios.fluid.summary import (  # noqa: F401 (the thresholds, re-exported: a test checks them)
    CONGESTED_UTILISATION,
    IMPACT_DELAY_DELTA_S,
    IMPACT_DELAY_RATIO,
    IMPACT_LOSS_DELTA,
    MIN_MEASURABLE_PACKETS,
    FluidKpis,
    _Accumulator,
    _Baseline,
    _Window,
)
from ani.ns3_scenarios.fluid.timeline import Physical, flood_matrix, segments
from ani.ns3_scenarios.render import cpu_capacities, timeline
from ani.ns3_scenarios.sizing import auto_sized, sized_traffic

SUPPORTED = [t.value for t in EventType]
#: segments of two changes or more kept (the ones used last): most belong to one scenario only
RECENT_SEGMENTS = 256
#: path-element layouts of the full path kept (the ones used last; ~3 MB each on a 145-PoP network)
RECENT_LAYOUTS = 8


def _single_segment(key: tuple[Any, ...]) -> bool:
    """Whether a segment's key (physical state, routing state, CPU model) has one change at most in each state:
    a single failure's segments, shared by every scenario that starts with it."""
    return key[0].changes <= 1 and key[1].changes <= 1


Sharing = Literal["proportional", "maxmin"]


class FluidRefusal(ScenarioError):
    """A scenario or a set-up the fluid tier cannot model; the message says why."""


_TWINS: dict[tuple[Any, ...], FluidTwin] = {}


class FluidTwin:
    """The fluid model of one graph under one parameter set (build with :func:`fluid_twin`, cached)."""

    def __init__(self, g: nx.Graph, params: dict[str, Any], sharing: Sharing = "proportional",
                 demands: list[Demand] | None = None) -> None:
        refuse_setup(params)
        refuse_graph(g)
        self.g, self.params, self.sharing = g, auto_sized(g, params), sharing
        p = self.params
        self.scale = float(p["capacity_scale"])
        self.net = FluidNetwork(g, self.scale, ecmp=bool(p["ecmp"]))
        if demands is None:
            demands, probes, self.sizing = sized_traffic(g, p)
        else:  # the caller's demands, as render() takes them (probes still sized)
            _, probes, self.sizing = sized_traffic(g, p, demands=False)
        idx, size = self.net.index, int(p["packet_bytes"])
        both = [*demands, *probes]
        self.flows = _Flows(np.array([idx[d.src] for d in both], np.int64),
                            np.array([idx[d.dst] for d in both], np.int64),
                            np.array([d.rate_bps for d in both], float),
                            np.array([size] * len(demands) + [int(p["probe_bytes"])] * len(probes), float))
        self.n_demands = len(demands)
        self.flood = flood_matrix(self.net, float(p["lsa_hop_delay_s"]))
        self._paths: dict[RoutingState, tuple[np.ndarray, np.ndarray]] = Bounded(4096)
        self._segments = Tiered(_single_segment, 20000, RECENT_SEGMENTS, 2 * CACHE_BYTES)
        self._layouts = Recent(RECENT_LAYOUTS)   # (flows x path elements) matrices of the full path
        self._rows: dict[Any, Any] = {}
        self._cpus: dict[tuple[int, ...], np.ndarray] = {}
        self._lsa: dict[Any, float] = {}
        self._windows: dict[float, _Window] = {}
        self._fixed: _Baseline | None = None
        self.base_fast: Base | None = None
        self.base = self.segment(Physical(), RoutingState(), np.zeros(self.net.N), None)
        self.base_fast = Base(self, self.base)
        self.cuts = Cuts(self)

    # ------------------------------------------------------------------ one segment

    def _routes_of(self, rs: RoutingState, extra: _Flows | None) -> tuple[np.ndarray, np.ndarray]:
        """Paths of every flow (and of ``extra`` flows after them) in routing state ``rs``, and whether each
        reaches its destination. With the fast path's baseline (ECMP off), only the flows a change moves are
        routed again (:func:`~.incremental.moved_paths`: the same paths, without N x N tables per state)."""
        if rs not in self._paths:
            if self.base_fast is not None and not self.net.ecmp and not rs.is_baseline:
                self._paths[rs] = with_moved(self.base_fast.P, self.base_fast.reached, *moved_paths(self, rs))
            else:
                self._paths[rs] = self.net.paths(self.net.routes(rs), self.flows.src, self.flows.dst)
        P, ok = self._paths[rs]
        if extra is None or not len(extra.src):
            return P, ok
        routes = self.net.routes(rs) if self.net.ecmp else self.net.compact_routes(rs, np.unique(extra.dst))
        P2, ok2 = self.net.paths(routes, extra.src, extra.dst)
        H = max(P.shape[1], P2.shape[1])
        pad = lambda M: np.pad(M, ((0, 0), (0, H - M.shape[1])), constant_values=NO_ARC)
        return np.vstack([pad(P), pad(P2)]), np.r_[ok, ok2]

    def segment(self, phys: Physical, rs: RoutingState, cpu: np.ndarray, attacks: _Flows | None) -> SegmentResult:
        """Delivered share and delay of every flow, and link loads, in one state (cached by state)."""
        key = (phys, rs, cpu.tobytes())
        if key in self._segments:
            return self._segments[key]
        if applicable(self, phys, cpu, attacks):
            res = self.cuts.segment(phys, rs) if Cuts.covers(phys) else fast_segment(self, phys, rs)
            self._segments[key] = res
            return res
        f = self.flows if attacks is None else _Flows(*(np.r_[a, b] for a, b in zip(
            (self.flows.src, self.flows.dst, self.flows.rate, self.flows.pkt),
            (attacks.src, attacks.dst, attacks.rate, attacks.pkt))))
        if self.net.ecmp:
            res = self._segment_ecmp(phys, rs, cpu, f)
        else:
            P, reached = self._routes_of(rs, attacks)
            dead = self._dead(P, reached, f, phys)
            res = self._share(P, f, np.where(dead, 0.0, f.rate), phys, cpu, key=(rs, phys.attacks, cpu.tobytes()))
            res.dead = dead
        self._segments[key] = res
        return res

    def _dead(self, P: np.ndarray, reached: np.ndarray, f: _Flows, phys: Physical) -> np.ndarray:
        """Flows that deliver nothing: no route, an end down, or a failed link or emptied router on the path."""
        net = self.net
        arc_down = np.zeros(net.A + 1, bool)
        for k in phys.links_down:
            arc_down[2 * k:2 * k + 2] = True
        node_down = np.zeros(net.N, bool)
        node_down[list(phys.nodes_down)] = True
        arc_down[:net.A] |= node_down[net.tail] | node_down[net.head]
        dead = ~reached | node_down[f.src] | node_down[f.dst] | arc_down[P].any(axis=1)
        if phys.cleared:
            cleared = np.zeros(net.N + 1, bool)
            cleared[list(phys.cleared)] = True
            dead |= cleared[f.src] | cleared[np.where(P >= 0, net.tail[np.maximum(P, 0)], net.N)].any(axis=1)
        return dead

    def _segment_ecmp(self, phys: Physical, rs: RoutingState, cpu: np.ndarray, f: _Flows) -> SegmentResult:
        """ECMP: each flow split evenly over its equal-cost paths (the expectation of the twin's per-flow hash)."""
        P, reached, owner, w = self.net.ecmp_paths(self.net.routes(rs), f.src, f.dst)
        sub = _Flows(f.src[owner], f.dst[owner], f.rate[owner] * w, f.pkt[owner])
        dead = self._dead(P, reached, sub, phys)
        res = self._share(P, sub, np.where(dead, 0.0, sub.rate), phys, cpu)
        F = len(f.src)
        frac = np.bincount(owner, w * res.frac, F)
        delay = np.divide(np.bincount(owner, w * res.frac * res.delay, F), frac, out=np.zeros(F), where=frac > 0)
        alive = np.bincount(owner, w * ~dead, F)
        return SegmentResult(frac=frac, delay=delay, dead=alive <= 1e-12, util=res.util, drops=res.drops)

    def _elements(self, P: np.ndarray, f: _Flows, phys: Physical, cpu: np.ndarray, key: Any = None):
        """Path elements (arcs, and router CPUs when modelled) with each flow's weight on them (0 past its
        path; the same for every segment of a routing state, flows and CPU model: cached by ``key``), and
        the elements' capacity, loss and extra delay in ``phys``."""
        net = self.net
        cap = net.capacity_bps.copy()
        loss = np.zeros(net.A)
        extra = np.zeros(net.A)
        for k, p, d in phys.degraded:
            loss[2 * k:2 * k + 2], extra[2 * k:2 * k + 2] = p, d
        if key is None:
            E, coef, M, ser = self._layout(P, f, cpu)
        elif key in self._layouts:
            E, coef, M, ser = self._layouts[key]
        else:
            E, coef, M, ser = self._layouts[key] = self._layout(P, f, cpu)
        if not cpu.any():
            return E, coef, np.r_[cap, np.inf], np.r_[loss, 0.0], np.r_[extra, 0.0], M, ser
        pps = cpu.copy()
        for n, m in phys.cpu_factor:
            pps[n] *= m
        capE = np.r_[cap, np.where(pps > 0, pps, np.inf), np.inf]
        return E, coef, capE, np.r_[loss, np.zeros(net.N), 0.0], np.r_[extra, np.zeros(net.N), 0.0], M, ser

    def _layout(self, P: np.ndarray, f: _Flows, cpu: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """Each flow's path elements (``M``, the sink, past its end), its weight on each (0 on the sink), and
        its serialisation time along the path (s; the links' capacities do not change between segments)."""
        net = self.net
        wf = net.wire_factor(f.pkt)
        if not cpu.any():
            M = net.A
            E = np.where(P >= 0, P, M)
            coef = np.where(E < M, np.broadcast_to(wf[:, None], P.shape), 0.0)
        else:
            M = net.A + net.N
            E = np.full((P.shape[0], 2 * P.shape[1]), M, np.int64)
            E[:, 0::2] = np.where(P >= 0, P, M)
            E[:, 1::2] = np.where(P >= 0, net.A + net.head[np.maximum(P, 0)], M)
            coef = np.empty(E.shape)
            coef[:, 0::2], coef[:, 1::2] = wf[:, None], 1.0 / (8 * f.pkt[:, None])
            coef = np.where(E < M, coef, 0.0)
        inv_cap = np.r_[1.0 / net.capacity_bps, np.zeros(M - net.A + 1)]
        return E, coef, M, 8 * (f.pkt + 30) * inv_cap[E].sum(axis=1)

    def _share(self, P: np.ndarray, f: _Flows, r: np.ndarray, phys: Physical, cpu: np.ndarray,
               key: Any = None) -> SegmentResult:
        E, coef, capE, lossE, extraE, M, ser = self._elements(P, f, phys, cpu, key)
        passE = 1.0 - lossE
        offered = np.bincount(E.ravel(), weights=(r[:, None] * coef).ravel(), minlength=M + 1)
        if self.sharing == "maxmin" and (offered > capE * (1 + 1e-9)).any():
            alloc = _maxmin(E, coef, capE, r, M)
            x = alloc[:, None] * np.c_[np.ones(len(r)), np.cumprod(passE[E], axis=1)[:, :-1]] \
                if E.shape[1] else np.zeros((len(r), 0))
            frac = np.divide(alloc, r, out=np.zeros_like(r), where=r > 0) * np.prod(passE[E], axis=1)
        else:
            x, frac = _proportional(E, coef, capE, passE, r, M, offered)
        load = np.bincount(E.ravel(), weights=(x * coef).ravel(), minlength=M + 1)
        delay = self._delay(E, capE, extraE, load, M, ser)
        A = self.net.A
        util = np.minimum(load[:A], capE[:A]) / capE[:A]
        return SegmentResult(frac=frac, delay=delay, dead=np.zeros(len(r), bool), util=util,
                             drops=load[:A] > capE[:A] * (1 + 1e-9))

    def _delay(self, E: np.ndarray, capE: np.ndarray, extraE: np.ndarray, load: np.ndarray, M: int,
               ser: np.ndarray) -> np.ndarray:
        """Each flow's mean delay: its elements' propagation, queueing wait and CPU service, plus ``ser``."""
        A, p = self.net.A, self.params
        size = float(p["packet_bytes"])
        service = np.r_[8 * (size + 30) / capE[:A], 1.0 / capE[A:M], 0.0]
        full = np.r_[float(p["queue_packets"]) * service[:A],
                     float(p["cpu_queue_packets"]) * service[A:M], 0.0]
        rho = np.divide(load, capE, out=np.zeros(M + 1), where=np.isfinite(capE))
        wait = np.where(rho >= 1 - 1e-9, full, np.minimum(full, rho / (2 * np.maximum(1 - rho, 1e-9)) * service))
        prop = np.r_[self.net.delay_s, np.zeros(M - A), 0.0] + extraE
        per_elem = prop + wait + np.r_[np.zeros(A), service[A:M], 0.0]
        return per_elem[E].sum(axis=1) + ser

    # ------------------------------------------------------------------ a scenario

    def evaluate(self, scenario: Scenario) -> FluidKpis:
        """The scenario's KPIs against its no-failure baseline (same traffic window).

        Raises :class:`FluidRefusal` (a :class:`ScenarioError`) naming what cannot be modelled.
        """
        rows = [self._row(scenario, e) for e in scenario.events]
        start, stop, _ = timeline(self.params, scenario)
        cpu = self._cpu(rows)
        segs = segments(rows, self.net, self.params, self.flood, start, stop, self._lsa)
        base = self.base
        acc = _Accumulator(self.n_demands, self.net.A)
        for s in segs:
            acc.add(s, self.segment(s.physical, s.routing, cpu, self._attacks(s.physical)))
        return acc.kpis(self, base, stop - start)

    def evaluate_many(self, scenarios: list[Scenario], block: int = BLOCK) -> list[FluidKpis | ScenarioError]:
        """:meth:`evaluate` of each scenario, in blocks (:mod:`.batch`: the new segments of a block together).

        A scenario that cannot be modelled gives its :class:`FluidRefusal` (a
        :class:`ScenarioError`) in its place instead of raising.
        """
        out: list[FluidKpis | ScenarioError] = []
        with paused_gc():   # it walked the twin's caches: ~6 % of a cold double cut, measured
            for i in range(0, len(scenarios), block):
                laid = plans(self, scenarios[i:i + block])
                res = results(self, [p for p in laid if isinstance(p, Plan)])
                out += [p if isinstance(p, ScenarioError) else self._summed(p, res) for p in laid]
        return out

    def _summed(self, p: Plan, res: dict[tuple[Any, ...], SegmentResult]) -> FluidKpis:
        acc = _Accumulator(self.n_demands, self.net.A)
        for seg, key in zip(p.segs, p.keys):
            acc.add(seg, res[key])
        return acc.kpis(self, self.base, p.span)

    def _window(self, span: float) -> _Window:
        """The baseline's share of the KPIs for a window of ``span`` s (cached)."""
        if span not in self._windows:
            if len(self._windows) >= 64:  # windows differ when the last event's time does
                self._windows.clear()
            self._fixed = self._fixed or _Baseline(self)
            self._windows[span] = _Window(self, span, self._fixed)
        return self._windows[span]

    def _cpu(self, rows: list[Any]) -> np.ndarray:
        """Packets/s of each router's CPU model (0: none), as the packet tier gives them."""
        key = tuple(sorted({t for r in rows if r.event_type == EventType.router_overload.value for t in r.targets}))
        if key not in self._cpus:
            self._cpus[key] = np.array(cpu_capacities(self.g, self.params, rows))
        return self._cpus[key]

    def _row(self, scenario: Scenario, e: Any) -> Any:
        """The event's resolved row (cached: resolving a target by name is slow)."""
        if e not in self._rows:
            row = self._direct_row(e)
            try:
                self._rows[e] = row or event_rows(self.g, [e], SUPPORTED, self.net.index)[0]
            except (UnknownComponentError, ScenarioError) as exc:
                raise FluidRefusal(f"scenario {scenario.name!r}: {exc}") from exc
        return self._rows[e]

    def _direct_row(self, e: Any) -> EventRow | None:
        """:func:`event_rows`' row for a target named exactly by its id (None: let event_rows resolve it)."""
        if not SAFE_LABEL.match(e.target):
            return None
        if e.event_type in LINK_EVENTS and e.target in self.net.link_index:
            kind, target = "link", self.net.link_index[e.target]
        elif e.event_type not in LINK_EVENTS and e.event_type != EventType.srlg_cut and e.target in self.net.index:
            kind, target = "node", self.net.index[e.target]
        else:
            return None
        m1, m2 = magnitudes(e)
        duration = e.duration_s or (DEFAULT_SPIKE_S if e.event_type == EventType.traffic_spike else 0.0)
        return EventRow(time_s=e.timestamp, event_type=e.event_type.value, magnitude=m1, magnitude2=m2,
                        duration_s=duration, label=e.target,
                        target_kind=kind, targets=[target])

    def _attacks(self, phys: Physical) -> _Flows | None:
        """The attack flows of the spikes on in ``phys`` (:func:`attack_demands`: the packet tier's)."""
        if not phys.attacks:
            return None
        rows = [EventRow(time_s=0.0, event_type=EventType.traffic_spike.value, magnitude=m, duration_s=1.0,
                         label="spike", target_kind="node", targets=[v]) for v, m in phys.attacks]
        on = attack_demands(self.g, rows, self.net.nodes, self.scale)
        idx, size = self.net.index, float(self.params["packet_bytes"])
        return _Flows(np.array([idx[d.src] for d, _, _ in on]), np.array([idx[d.dst] for d, _, _ in on]),
                      np.array([d.rate_bps for d, _, _ in on]), np.full(len(on), size))


#: The fluid tier keeps dense N x N tables (distances, next hops, LSA flooding: 24 bytes per node pair) and
#: computes them with an SPF from every node; 5,000 nodes were measured (README "Two-tier twin").
MAX_NODES = 6000


def refuse_graph(g: nx.Graph) -> None:
    """Raise :class:`FluidRefusal` for a graph too large for the fluid tier's dense route tables."""
    if len(g) > MAX_NODES:
        raise FluidRefusal(f"graph of {len(g):,} nodes: the fluid tier keeps N x N route tables "
                           f"(~{24 * len(g) ** 2 / 1e9:.1f} GB here) built by an SPF from every node; "
                           f"its limit is {MAX_NODES:,} nodes")


def refuse_setup(params: dict[str, Any]) -> None:
    """Raise :class:`FluidRefusal` for parameter sets whose effects the fluid tier cannot model."""
    if params.get("cascades"):
        raise FluidRefusal("cascades=true: emergent failures (CPU or drop thresholds held over time) "
                           "depend on queue dynamics the fluid tier does not model")
    if float(params.get("spf_max_hold_s", 0)) > float(params.get("spf_hold_s", 0)):
        raise FluidRefusal("spf_max_hold_s > spf_hold_s: per-router SPF back-off is not modelled "
                           "(the fluid timeline is network-wide)")
    if not params.get("gravity_traffic", True):
        raise FluidRefusal("gravity_traffic=false: a replayed trace is not a constant-rate demand")


def fluid_twin(g: nx.Graph, params: dict[str, Any], sharing: Sharing = "proportional") -> FluidTwin:
    """A :class:`FluidTwin` of ``g`` under ``params`` (cached per graph digest and parameters)."""
    key = (graph_digest(g), tuple(sorted((k, str(v)) for k, v in params.items())), sharing,
           tuple(sorted(g.graph.get("srlgs", {}))))
    if key not in _TWINS:
        if len(_TWINS) > 8:
            _TWINS.clear()
        _TWINS[key] = FluidTwin(g, params, sharing)
    return _TWINS[key]
