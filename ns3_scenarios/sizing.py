"""The twin's traffic sizing: demand flows that carry enough packets to measure, probes on every link.

One rule for every way a run is made (``ani run``, campaigns, the loop, the
evaluation), applied by :func:`ani.ns3_scenarios.render.render`:

**Demand flows.** The gravity model gives a demand for every ordered pair of
routers: on a 150-PoP network 22,000 pairs, most too small to send a packet in
a few seconds. The twin keeps the heaviest pairs, as many as can each send at
least ``min_flow_pps`` packets per second once the kept set is scaled so that
its busiest link direction runs at ``load_factor`` (and at most
``max_flows``); the lighter pairs are folded in, i.e. their share of the volume
goes to the kept pairs by that same scaling. :class:`TrafficSizing` says how
many pairs were kept and which share of the gravity volume they carry.

**Probe flows.** Small packets every ``probe_interval_s`` (like BFD or TWAMP
probes) between router pairs chosen so that their paths, as the twin routes
them before any failure, cross every link that carries traffic. Reroute time,
outage and recovery are measured on them at that resolution. A probe's rate is
capped at ``probe_load_share`` of the smallest capacity on its path, so probes
never load a thin link; such a probe's resolution is coarser, and
:class:`TrafficSizing` reports the coarsest.

**Drain.** :func:`drain_needed_s` bounds the time the network needs to empty
after the traffic stops (every queue full on the longest path); the run goes on
at least that long, so no packet is in flight at the end.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping
from typing import Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict

from ani.kg.demands import Demand
from ani.kg.graph_queries import graph_digest
from ani.ns3_scenarios.route_matrix import LARGE_GRAPH_ROUTERS, RouteMatrix, routers_count
from ani.ns3_scenarios.twin_paths import link_order, neighbours_in_order, next_hops_from, twin_path

#: UDP + IPv4 + PPP header bytes on the wire, on top of the payload.
WIRE_OVERHEAD_BYTES = 30
#: ns-3's default IPv4 TTL: the 64th router that forwards a packet drops it, so a route of more
#: than this many links delivers nothing.
IP_TTL_HOPS = 64


class TrafficSizing(BaseModel):
    """How a run's traffic was sized (printed with each run, kept in its spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["gravity", "given"] = "gravity"
    gravity_pairs: int
    demand_flows: int
    volume_share: float
    min_flow_pps: float
    probe_flows: int = 0
    links_probed: int = 0
    links_used: int = 0
    probe_resolution_s: float | None = None
    longest_route_hops: int = 0
    warning: str | None = None

    def line(self) -> str:
        """One line for the console."""
        origin = ("as given" if self.source == "given" else
                  f"heaviest of {self.gravity_pairs} PoP pairs, {self.volume_share:.1%} of the gravity volume")
        text = f"traffic: {self.demand_flows} demand flows ({origin}), each >= {self.min_flow_pps:.0f} packets/s"
        if self.probe_flows:
            text += (f"; {self.probe_flows} probes on {self.links_probed}/{self.links_used} used links, "
                     f"resolution <= {1e3 * (self.probe_resolution_s or 0):.1f} ms")
        return text + (f"  WARNING: {self.warning}" if self.warning else "")


# ------------------------------------------------------------------ demand flows


def _gravity_pairs(g: nx.Graph, limit: int | None = None) -> tuple[list[tuple[str, str]], np.ndarray, int]:
    """Ordered router pairs in one component and their unit gravity weights, heaviest first.

    Only the ``limit`` heaviest pairs are returned (all without a limit), with the
    number of pairs there are; weights are normalised by the sum over all pairs.
    Vectorised: 5,000 routers have 25 M pairs, too many for Python tuples; the
    pairs, their order (heaviest first, ties in (source, destination) order) and
    the normalising sum are those of the pair-by-pair definition.
    """
    routers = [n for n, kind in g.nodes(data="kind") if kind == "router" and g.degree(n) > 0]
    masses = np.array([sum(d["capacity_bps"] for _, _, d in g.edges(n, data=True)) for n in routers], dtype=float)
    comp_of = {n: i for i, c in enumerate(nx.connected_components(g)) for n in c}
    comp = np.array([comp_of[n] for n in routers], dtype=np.int64)
    n = len(routers)
    keep = (comp[:, None] == comp[None, :]) & ~np.eye(n, dtype=bool)  # row-major: (source, destination) order
    flat = np.flatnonzero(keep)
    del keep
    w = masses[flat // n] * masses[flat % n] if n else np.zeros(0)
    total = len(flat)
    k = total if limit is None else min(limit, total)
    if k < total:  # the first k of a stable sort by -w, without sorting all
        cut = np.partition(-w, k - 1)[k - 1]
        heavier = np.flatnonzero(-w < cut)
        top = np.concatenate([heavier, np.flatnonzero(-w == cut)[: k - len(heavier)]])
    else:
        top = np.arange(total)
    top = top[np.lexsort((top, -w[top]))]
    norm = w[top] / w.sum() if total else w
    pairs = [(routers[int(i) // n], routers[int(i) % n]) for i in flat[top]]
    return pairs, norm, total


class _Trees:
    """Shortest-path trees per source (OSPF cost), for link loads of any subset of pairs."""

    def __init__(self, g: nx.Graph) -> None:
        self.g = g
        self._cache: dict[str, tuple[dict[str, int], dict[str, str]]] = {}

    def tree(self, src: str) -> tuple[dict[str, int], dict[str, str]]:
        """Rank of every node reached from ``src`` (farthest first) and its parent on the tree."""
        if src not in self._cache:
            pred, dist = nx.dijkstra_predecessor_and_distance(self.g, src, weight="ospf_cost")
            order = sorted(dist, key=dist.__getitem__, reverse=True)
            self._cache[src] = ({v: i for i, v in enumerate(order)}, {v: p[0] for v, p in pred.items() if p})
        return self._cache[src]

    def max_utilisation(self, pairs: list[tuple[str, str]], w: np.ndarray, capacity_scale: float) -> float:
        """Busiest link direction's load / capacity for demands ``w`` on ``pairs``.

        Per source, the demands flow up its tree, farthest node first; only the
        nodes on the way from a destination to the source carry any (the others
        would add nothing), so only they are visited, in the same order.
        """
        by_src: dict[str, dict[str, float]] = defaultdict(dict)
        for (s, d), x in zip(pairs, w):
            by_src[s][d] = by_src[s].get(d, 0.0) + float(x)
        loads: dict[tuple[str, str], float] = defaultdict(float)
        for s, dests in by_src.items():
            rank, parent = self.tree(s)
            on_way: set[str] = set()
            for d in dests:
                while d in rank and d not in on_way and d != s:
                    on_way.add(d)
                    d = parent[d]
            acc = defaultdict(float, dests)
            for v in sorted(on_way, key=rank.__getitem__):
                x = acc.get(v, 0.0)
                if v == s or x <= 0:
                    continue
                acc[parent[v]] += x
                loads[(parent[v], v)] += x
        return max((x / (self.g.edges[e]["capacity_bps"] * capacity_scale) for e, x in loads.items()),
                   default=0.0)


_PREPARED: dict[tuple[str, int], tuple[list[tuple[str, str]], np.ndarray, int, _Trees]] = {}


def _prepared(g: nx.Graph, limit: int) -> tuple[list[tuple[str, str]], np.ndarray, int, _Trees]:
    """The ``limit`` heaviest gravity pairs, their weights, the number of pairs and the shortest-path
    trees of ``g``, computed once per graph (:func:`auto_sized` tries 12 sizings on the same graph;
    750 PoPs have 561,750 pairs, 5,000 have 25 M)."""
    key = (graph_digest(g), limit)
    if key not in _PREPARED:
        if len(_PREPARED) >= 4:
            _PREPARED.clear()
        _PREPARED[key] = (*_gravity_pairs(g, limit), _Trees(g))
    return _PREPARED[key]


def measurable_demands(g: nx.Graph, load_factor: float, capacity_scale: float, packet_bytes: int,
                       min_flow_pps: float, max_flows: int) -> tuple[list[Demand], TrafficSizing]:
    """The heaviest gravity pairs that each send ``min_flow_pps``, scaled to ``load_factor``.

    Returns the demands (bit/s of UDP payload) and how they were chosen. The
    number kept is the largest ``k <= max_flows`` for which the ``k``-th pair,
    with the first ``k`` scaled so the busiest link direction carries
    ``load_factor`` of its capacity, still sends ``min_flow_pps`` (binary
    search: fewer pairs load the links less, so each may send more).
    """
    pairs, w, n_pairs, trees = _prepared(g, max(1, max_flows))
    if not pairs:
        return [], TrafficSizing(gravity_pairs=0, demand_flows=0, volume_share=0.0, min_flow_pps=min_flow_pps)
    need_bps = min_flow_pps * 8 * packet_bytes

    def factor(k: int) -> float:
        return load_factor / trees.max_utilisation(pairs[:k], w[:k], capacity_scale)

    lo, hi = 1, min(max_flows, n_pairs)
    warning = None
    if w[0] * factor(1) < need_bps:
        warning = (f"even the heaviest PoP pair sends < {min_flow_pps:g} packets/s at this capacity_scale "
                   "and packet_bytes: flow KPIs are coarse (raise capacity_scale or lower packet_bytes)")
        lo = hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if w[mid - 1] * factor(mid) >= need_bps:
            lo = mid
        else:
            hi = mid - 1
    f = factor(lo)
    demands = [Demand(src=s, dst=d, rate_bps=float(x) * f) for (s, d), x in zip(pairs[:lo], w[:lo])]
    sizing = TrafficSizing(gravity_pairs=n_pairs, demand_flows=lo, volume_share=float(w[:lo].sum()),
                           min_flow_pps=float(w[lo - 1] * f / (8 * packet_bytes)), warning=warning)
    return demands, sizing


# ------------------------------------------------------------------ probe flows


def _probe_candidates(g: nx.Graph, order: dict[frozenset[str], int]) -> list[tuple[list[str], set[int]]]:
    """Paths leaf -> root of each destination's routing tree, longest first, with their link indices."""
    routers = [n for n, kind in g.nodes(data="kind") if kind == "router" and g.degree(n) > 0]
    out = []
    neighbours = neighbours_in_order(g, order)
    is_router = set(routers)
    hop_link = {(u, v): k for link, k in order.items() for u in link for v in link if u != v}
    for dst in sorted(routers, key=lambda n: (-g.degree(n), n)):
        nxt = next_hops_from(g, dst, neighbours)
        inner = set(nxt.values())
        for leaf in (n for n in nxt if n not in inner and n in is_router):
            path = twin_path(nxt, leaf, dst)
            out.append((path, {hop_link[h] for h in zip(path, path[1:])}))
    return out


def used_links(g: nx.Graph, order: dict[frozenset[str], int] | None = None) -> set[int]:
    """Links on the twin's route between some pair of routers (the only ones a failure can hurt)."""
    if routers_count(g) > LARGE_GRAPH_ROUTERS:
        return RouteMatrix(g).used_links()
    order = order or link_order(g)
    return set().union(*(links for _, links in _probe_candidates(g, order))) if len(g) > 1 else set()


def probe_paths(g: nx.Graph) -> tuple[list[list[str]], int, int, int]:
    """Router pairs (as twin paths) whose routes together cross every used link: greedy set cover.

    Each step takes the candidate that crosses most links not yet covered
    (then the shortest path, then the first candidate). Lazily: a candidate's
    count only falls as links get covered, so a candidate whose recounted
    number is still its last count is the step's choice (the same choice as
    recounting all of them, at 750 PoPs hundreds of times faster). Above
    :data:`LARGE_GRAPH_ROUTERS` routers the same cover is built from route
    matrices (:class:`RouteMatrix`).

    Returns the paths, the number of links they cross, the number of used links and the
    longest twin route between two routers, in hops.
    """
    if routers_count(g) > LARGE_GRAPH_ROUTERS:
        return RouteMatrix(g).probe_paths()
    order = link_order(g)
    candidates = _probe_candidates(g, order)
    used = set().union(*(links for _, links in candidates)) if candidates else set()
    left, chosen = set(used), []
    heap = [(-len(links), len(path), i) for i, (path, links) in enumerate(candidates)]
    heapq.heapify(heap)
    while left:
        count, length, i = heapq.heappop(heap)
        path, links = candidates[i]
        now = len(links & left)
        if now == -count:
            chosen.append(path)
            left -= links
        elif now > 0:
            heapq.heappush(heap, (-now, length, i))
    longest = max((len(path) - 1 for path, _ in candidates), default=0)  # a longest route ends at a leaf
    return chosen, len(used) - len(left), len(used), longest


def probe_rate_bps(g: nx.Graph, path: list[str], capacity_scale: float, probe_bytes: int,
                   interval_s: float, load_share: float) -> float:
    """A probe's payload rate: one packet per ``interval_s``, at most ``load_share`` of its thinnest link."""
    thinnest = min(g.edges[u, v]["capacity_bps"] for u, v in zip(path, path[1:])) * capacity_scale
    wire = (probe_bytes + WIRE_OVERHEAD_BYTES) / probe_bytes
    return min(probe_bytes * 8 / interval_s, load_share * thinnest / wire)


# ------------------------------------------------------------------ drain


def drain_needed_s(g: nx.Graph, capacity_scale: float, queue_packets: int, packet_bytes: int) -> float:
    """The time the network needs to empty once traffic stops, bounded.

    Hop diameter (bounded by twice one node's eccentricity) times the longest
    queue drain (``queue_packets`` full-size packets on the slowest link), plus
    the propagation diameter (bounded the same way). Disconnected graphs take
    the whole graph's node count and delays.
    """
    if g.number_of_edges() == 0:
        return 0.0
    slowest = min(d["capacity_bps"] for _, _, d in g.edges(data=True)) * capacity_scale
    per_hop = queue_packets * 8 * (packet_bytes + WIRE_OVERHEAD_BYTES) / slowest
    root = next(iter(g.nodes))
    if nx.is_connected(g):
        hops = 2 * max(nx.single_source_shortest_path_length(g, root).values())
        delay = 2 * max(nx.single_source_dijkstra_path_length(g, root, weight="delay_s").values())
    else:
        hops, delay = len(g), sum(d["delay_s"] for _, _, d in g.edges(data=True))
    return hops * per_hop + delay


# ------------------------------------------------------------------ the rule

#: Sizing parameters and the values a template that does not declare them gets.
SIZING_DEFAULTS: dict[str, float] = {"min_flow_pps": 20.0, "max_flows": 5000, "probe_interval_s": 0.001,
                                     "probe_bytes": 64, "probe_load_share": 0.02}
_CACHE: dict[tuple[object, ...], tuple[list[Demand], list[Demand], TrafficSizing]] = {}


def _param(params: Mapping[str, object], name: str) -> float:
    return float(params.get(name, SIZING_DEFAULTS[name]))  # type: ignore[arg-type]


def _probes(g: nx.Graph, params: Mapping[str, object]) -> tuple[list[Demand], int, int, float | None, int]:
    """Probe flows covering every used link: (flows, links probed, links used, coarsest gap in s,
    longest route in hops; 0 when there are no probes)."""
    interval = _param(params, "probe_interval_s")
    if interval <= 0:
        return [], 0, len(used_links(g)), None, 0
    paths, covered, used, longest = probe_paths(g)
    size = int(_param(params, "probe_bytes"))
    rates = [probe_rate_bps(g, p, float(params["capacity_scale"]), size, interval,  # type: ignore[arg-type]
                            _param(params, "probe_load_share")) for p in paths]
    flows = [Demand(src=p[0], dst=p[-1], rate_bps=r) for p, r in zip(paths, rates)]
    coarsest = max((size * 8 / r for r in rates), default=None)
    return flows, covered, used, coarsest, longest


def sized_traffic(g: nx.Graph, params: Mapping[str, object], demands: bool = True
                  ) -> tuple[list[Demand], list[Demand], TrafficSizing]:
    """The run's demand flows (:func:`measurable_demands`), probe flows and their :class:`TrafficSizing`.

    ``params`` are the template's validated values (``load_factor``,
    ``capacity_scale``, ``packet_bytes`` and :data:`SIZING_DEFAULTS`' names).
    With ``demands=False`` only the probes are made (the caller has its own
    demands). Cached per graph digest and parameters.
    """
    names = ("load_factor", "capacity_scale", "packet_bytes", *SIZING_DEFAULTS)
    key = (graph_digest(g), demands, *(params.get(n) for n in names))
    if key not in _CACHE:
        size = int(params["packet_bytes"])  # type: ignore[arg-type]
        if demands:
            flows, sizing = measurable_demands(g, float(params["load_factor"]),  # type: ignore[arg-type]
                                               float(params["capacity_scale"]), size,  # type: ignore[arg-type]
                                               _param(params, "min_flow_pps"), int(_param(params, "max_flows")))
        else:
            flows, sizing = [], TrafficSizing(gravity_pairs=0, demand_flows=0, volume_share=0.0,
                                              min_flow_pps=0.0)
        probes, covered, used, coarsest, longest = _probes(g, params)
        sizing = sizing.model_copy(update={"probe_flows": len(probes), "links_probed": covered,
                                           "links_used": used, "probe_resolution_s": coarsest,
                                           "longest_route_hops": longest})
        if longest > IP_TTL_HOPS:
            beyond = (f"the longest route crosses {longest} links: packets on routes longer than "
                      f"{IP_TTL_HOPS} links are dropped by IP (TTL {IP_TTL_HOPS}, drops.csv ip_ttl_expired) "
                      "and count as lost")
            sizing = sizing.model_copy(update={"warning": "; ".join(filter(None, [sizing.warning, beyond]))})
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = (flows, probes, sizing)
    return _CACHE[key]


#: ``auto_size``: the capacity scales and packet sizes tried, cheapest traffic first.
AUTO_SCALES = (0.01, 0.02, 0.05, 0.1)
AUTO_PACKET_BYTES = (1000, 500, 250)
_AUTO_CACHE: dict[tuple[object, ...], tuple[float, int]] = {}


def auto_sized(g: nx.Graph, params: Mapping[str, object]) -> dict[str, object]:
    """``params`` with ``capacity_scale`` and ``packet_bytes`` chosen for ``g`` when ``auto_size`` is on.

    Of the combinations of :data:`AUTO_SCALES` and :data:`AUTO_PACKET_BYTES`,
    the one that offers the fewest packets per second while its demand flows
    (:func:`measurable_demands`) cover ``traffic_coverage`` of the gravity
    volume; if none does, the one that covers most. Without ``auto_size`` (or
    when it is false) ``params`` are returned as they are.
    """
    if not params.get("auto_size", False) or not params.get("gravity_traffic", True):
        return dict(params)
    target = float(params.get("traffic_coverage", 0.8))  # type: ignore[arg-type]
    key = (graph_digest(g), target, params["load_factor"], params.get("min_flow_pps"), params.get("max_flows"))
    if key not in _AUTO_CACHE:
        best: tuple[bool, float, float, float, int] | None = None
        for scale in AUTO_SCALES:
            for size in AUTO_PACKET_BYTES:
                flows, sizing = measurable_demands(g, float(params["load_factor"]), scale,  # type: ignore[arg-type]
                                                   size, _param(params, "min_flow_pps"),
                                                   int(_param(params, "max_flows")))
                pps = sum(d.rate_bps for d in flows) / (8 * size)
                rank = (sizing.volume_share >= target, -pps if sizing.volume_share >= target else sizing.volume_share,
                        -pps, scale, size)
                if best is None or rank[:3] > best[:3]:
                    best = rank
        assert best is not None
        _AUTO_CACHE[key] = (best[3], best[4])
    scale, size = _AUTO_CACHE[key]
    return {**params, "capacity_scale": scale, "packet_bytes": size}


def given_sizing(demands: list[Demand], params: Mapping[str, object], probes: TrafficSizing) -> TrafficSizing:
    """The :class:`TrafficSizing` of demands given as they are (a demand matrix, a campaign's), with a
    warning when some would send fewer than ``min_flow_pps``."""
    size = int(params["packet_bytes"])  # type: ignore[arg-type]
    pps = [d.rate_bps / (8 * size) for d in demands]
    floor = _param(params, "min_flow_pps")
    thin = sum(x < floor for x in pps)
    warning = (f"{thin} of {len(demands)} given demands send fewer than {floor:g} packets/s: their KPIs are coarse"
               if thin else None)
    return probes.model_copy(update={"source": "given", "gravity_pairs": 0, "demand_flows": len(demands),
                                     "volume_share": 1.0 if demands else 0.0, "min_flow_pps": min(pps, default=0.0),
                                     "warning": warning})
