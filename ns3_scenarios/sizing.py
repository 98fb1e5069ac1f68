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

from collections.abc import Mapping
from typing import Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict

from ani.kg.demands import Demand
from ani.kg.graph_queries import graph_digest
from ani.ns3_scenarios.route_matrix import LARGE_GRAPH_ROUTERS, RouteMatrix, destinations, routers_count
from ani.ns3_scenarios.twin_paths import Settled, link_order, neighbours_in_order, next_hops_from

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


class _Loads:
    """Link loads of the heaviest gravity pairs on the twin's routes, for any prefix of them.

    A pair's route is the twin's (:func:`~ani.ns3_scenarios.twin_paths.twin_next_hops`:
    per destination, among equal-cost next hops the one over the link listed
    first), so ``load_factor`` is what the twin's busiest link carries. The
    routes of all pairs are walked at once on next-hop rows of their
    destinations (``matrix``'s, or computed for those destinations only); the
    loads of the first ``k`` pairs are one bincount of their hops, in pair
    order: the additions, in the same order, of the pair-by-pair definition
    (kept in the tests), so the same floats.

    (Before 2026-12-07 the routes were networkx's source trees, whose
    equal-cost tie-break differs from the twin's for some of the heaviest
    pairs on 132 of the 268 Topology Zoo networks: Janetlense's no-failure baseline overflowed two 1 Gb/s links the
    sizing thought idle.)
    """

    def __init__(self, g: nx.Graph, pairs: list[tuple[str, str]], w: np.ndarray,
                 matrix: RouteMatrix | None = None) -> None:
        self.w = w
        nodes = list(g.nodes)
        index = {v: i for i, v in enumerate(nodes)}
        ends = np.array([(index[u], index[v]) for u, v in g.edges], dtype=np.int64).reshape(-1, 2)
        caps = np.array([d["capacity_bps"] for _, _, d in g.edges(data=True)], dtype=float)
        self.capacity = np.concatenate([caps, caps])
        src = np.array([index[s] for s, _ in pairs], dtype=np.int64)
        dst = np.array([index[d] for _, d in pairs], dtype=np.int64)
        hop, link, row = _next_hop_rows(g, sorted({d for _, d in pairs}), index, matrix)
        r = row[dst]
        at, who, step = src.copy(), np.arange(len(pairs)), []
        while who.size:
            nxt, via = hop[r[who], at[who]], link[r[who], at[who]]
            if (nxt < 0).any():
                raise ValueError("a gravity pair without a route (pairs are within one component)")
            step.append((who, np.where(ends[via, 0] == at[who], via, via + len(ends))))
            at[who] = nxt
            who = who[nxt != dst[who]]
        pair_of = np.concatenate([x for x, _ in step]) if step else np.zeros(0, np.int64)
        dir_of = np.concatenate([y for _, y in step]) if step else np.zeros(0, np.int64)
        order = np.argsort(pair_of, kind="stable")
        self.pair_of, self.dir_of = pair_of[order], dir_of[order]
        self._memo: dict[int, np.ndarray] = {}

    def loads(self, k: int) -> np.ndarray:
        """Per link direction (``g.edges`` order, then reversed), the load of the first ``k`` pairs."""
        if k not in self._memo:
            cut = int(np.searchsorted(self.pair_of, k))
            self._memo[k] = np.bincount(self.dir_of[:cut], weights=self.w[self.pair_of[:cut]],
                                        minlength=len(self.capacity)).astype(float)
        return self._memo[k]

    def max_utilisation(self, k: int, capacity_scale: float) -> float:
        """Busiest link direction's load / capacity for the first ``k`` pairs."""
        return float((self.loads(k) / (self.capacity * capacity_scale)).max(initial=0.0))


def _next_hop_rows(g: nx.Graph, dests: list[str], index: dict[str, int], matrix: RouteMatrix | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(next hop, link index) of every node toward each destination (rows), and each node's row (-1: none):
    ``matrix``'s rows when given, else the twin's next hops for ``dests`` only."""
    row = np.full(len(index), -1, dtype=np.int64)
    if matrix is not None:
        row[[index[v] for v in matrix.dests]] = np.arange(len(matrix.dests))
        return matrix.hop, matrix.link, row
    order = link_order(g)
    neighbours = neighbours_in_order(g, order)
    hop = np.full((len(dests), len(index)), -1, dtype=np.int64)
    link = np.full((len(dests), len(index)), -1, dtype=np.int64)
    for r, d in enumerate(dests):
        row[index[d]] = r
        for v, m in next_hops_from(g, d, neighbours).items():
            hop[r, index[v]], link[r, index[v]] = index[m], order[frozenset((v, m))]
    return hop, link, row


_PREPARED: dict[tuple[str, int], tuple[list[tuple[str, str]], np.ndarray, int, _Loads]] = {}


def _prepared(g: nx.Graph, limit: int, digest: str | None = None
              ) -> tuple[list[tuple[str, str]], np.ndarray, int, _Loads]:
    """The ``limit`` heaviest gravity pairs, their weights, the number of pairs and their link loads
    on ``g`` (``digest``: its :func:`graph_digest`), computed once per graph (:func:`auto_sized` tries
    12 sizings on the same graph; 750 PoPs have 561,750 pairs, 5,000 have 25 M)."""
    digest = digest or graph_digest(g)
    key = (digest, limit)
    if key not in _PREPARED:
        if len(_PREPARED) >= 4:
            _PREPARED.clear()
        pairs, w, total = _gravity_pairs(g, limit)
        small = routers_count(g) <= LARGE_GRAPH_ROUTERS
        _PREPARED[key] = (pairs, w, total, _Loads(g, pairs, w, _matrix(g, digest) if small else None))
    return _PREPARED[key]


def measurable_demands(g: nx.Graph, load_factor: float, capacity_scale: float, packet_bytes: int,
                       min_flow_pps: float, max_flows: int, digest: str | None = None
                       ) -> tuple[list[Demand], TrafficSizing]:
    """The heaviest gravity pairs that each send ``min_flow_pps``, scaled to ``load_factor``.

    Returns the demands (bit/s of UDP payload) and how they were chosen. The
    number kept is the largest ``k <= max_flows`` for which the ``k``-th pair,
    with the first ``k`` scaled so the busiest link direction carries
    ``load_factor`` of its capacity, still sends ``min_flow_pps`` (binary
    search: fewer pairs load the links less, so each may send more). ``digest``: ``g``'s
    :func:`graph_digest` when the caller has it.
    """
    digest = digest or graph_digest(g)
    pairs, w, _, _ = _prepared(g, max(1, max_flows), digest)
    k, f, sizing = _measurable(g, load_factor, capacity_scale, packet_bytes, min_flow_pps, max_flows, digest)
    return [Demand(src=s, dst=d, rate_bps=float(x) * f) for (s, d), x in zip(pairs[:k], w[:k])], sizing


def _measurable(g: nx.Graph, load_factor: float, capacity_scale: float, packet_bytes: int,
                min_flow_pps: float, max_flows: int, digest: str | None = None) -> tuple[int, float, TrafficSizing]:
    """:func:`measurable_demands` as (pairs kept, scaling factor of their unit weights, sizing)."""
    pairs, w, n_pairs, loads = _prepared(g, max(1, max_flows), digest)
    if not pairs:
        return 0, 0.0, TrafficSizing(gravity_pairs=0, demand_flows=0, volume_share=0.0, min_flow_pps=min_flow_pps)
    need_bps = min_flow_pps * 8 * packet_bytes

    def factor(k: int) -> float:
        return load_factor / loads.max_utilisation(k, capacity_scale)

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
    sizing = TrafficSizing(gravity_pairs=n_pairs, demand_flows=lo, volume_share=float(w[:lo].sum()),
                           min_flow_pps=float(w[lo - 1] * f / (8 * packet_bytes)), warning=warning)
    return lo, f, sizing


# ------------------------------------------------------------------ probe flows


_MATRICES: dict[str, RouteMatrix] = {}
_SETTLED: dict[str, Settled] = {}


def _settled(g: nx.Graph, digest: str) -> Settled:
    """networkx's Dijkstra from every router of ``g`` (in :func:`destinations` order), once per graph."""
    if digest not in _SETTLED:
        _SETTLED.clear()
        _SETTLED[digest] = Settled(g, destinations(g))
    return _SETTLED[digest]


def _matrix(g: nx.Graph, digest: str | None = None) -> RouteMatrix:
    """The route matrix of ``g`` with candidates in settle order (:class:`RouteMatrix`), once per graph."""
    key = digest or graph_digest(g)
    if key not in _MATRICES:
        _MATRICES.clear()
        _MATRICES[key] = RouteMatrix(g, _settled(g, key))
    return _MATRICES[key]


def used_links(g: nx.Graph, digest: str | None = None) -> set[int]:
    """Links on the twin's route between some pair of routers (the only ones a failure can hurt)."""
    if routers_count(g) > LARGE_GRAPH_ROUTERS:
        return RouteMatrix(g).used_links()
    return _matrix(g, digest).routed_links() if len(g) > 1 else set()


def probe_paths(g: nx.Graph, digest: str | None = None) -> tuple[list[list[str]], int, int, int]:
    """Router pairs (as twin paths) whose routes together cross every used link: greedy set cover.

    The candidates are the routes from the leaves of each destination's
    routing tree (destinations by degree, then name; leaves in the order
    networkx's Dijkstra from the destination settles them). Each step takes
    the candidate that crosses most links not yet covered, then the shortest
    route, then the first candidate (:meth:`RouteMatrix.cover`, on route
    matrices; the path-by-path definition is kept in the tests). Above
    :data:`LARGE_GRAPH_ROUTERS` routers the candidates are numbered by node
    index instead and counted lazily (:meth:`RouteMatrix.probe_paths`).

    Returns the paths, the number of links they cross, the number of used links and the
    longest twin route between two routers, in hops.
    """
    if routers_count(g) > LARGE_GRAPH_ROUTERS:
        return RouteMatrix(g).probe_paths()
    if len(g) <= 1:
        return [], 0, 0, 0
    return _matrix(g, digest).cover()


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


def _probes(g: nx.Graph, params: Mapping[str, object], digest: str | None = None
            ) -> tuple[list[Demand], int, int, float | None, int]:
    """Probe flows covering every used link: (flows, links probed, links used, coarsest gap in s,
    longest route in hops; 0 when there are no probes)."""
    interval = _param(params, "probe_interval_s")
    if interval <= 0:
        return [], 0, len(used_links(g, digest)), None, 0
    paths, covered, used, longest = probe_paths(g, digest)
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
                                               _param(params, "min_flow_pps"), int(_param(params, "max_flows")),
                                               key[0])
        else:
            flows, sizing = [], TrafficSizing(gravity_pairs=0, demand_flows=0, volume_share=0.0,
                                              min_flow_pps=0.0)
        probes, covered, used, coarsest, longest = _probes(g, params, key[0])
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
#: tried only when none of :data:`AUTO_SCALES` reaches the coverage: networks of slow links (a few Mb/s, as
#: many early Topology Zoo networks), whose flows would otherwise send a packet or two per run
AUTO_SCALES_SLOW = (0.2, 0.5, 1.0)
_AUTO_CACHE: dict[tuple[object, ...], tuple[float, int]] = {}


def auto_sized(g: nx.Graph, params: Mapping[str, object]) -> dict[str, object]:
    """``params`` with ``capacity_scale`` and ``packet_bytes`` chosen for ``g`` when ``auto_size`` is on.

    Of the combinations of :data:`AUTO_SCALES` and :data:`AUTO_PACKET_BYTES`,
    the one that offers the fewest packets per second while its demand flows
    (:func:`measurable_demands`) cover ``traffic_coverage`` of the gravity
    volume; if none does, the one that covers most with the fewest packets.
    When not even the heaviest PoP pair can send ``min_flow_pps`` at any of
    them (slow links), :data:`AUTO_SCALES_SLOW` are tried too, and where still
    no flow can, the combination with the most packets (the finest KPIs) is
    taken, with the sizing's warning. Without ``auto_size`` (or when it is false) ``params``
    are returned as they are.
    """
    if not params.get("auto_size", False) or not params.get("gravity_traffic", True):
        return dict(params)
    target = float(params.get("traffic_coverage", 0.8))  # type: ignore[arg-type]
    key = (graph_digest(g), target, params["load_factor"], params.get("min_flow_pps"), params.get("max_flows"))
    if key not in _AUTO_CACHE:
        best = _best_sizing(g, params, AUTO_SCALES, target, key[0])
        if not best[1]:
            best = max(best, _best_sizing(g, params, AUTO_SCALES_SLOW, target, key[0]))
        _AUTO_CACHE[key] = (best[4], best[5])
    scale, size = _AUTO_CACHE[key]
    return {**params, "capacity_scale": scale, "packet_bytes": size}


def _best_sizing(g: nx.Graph, params: Mapping[str, object], scales: tuple[float, ...], target: float,
                 digest: str) -> tuple[bool, bool, float, float, float, int]:
    """The best (meets target, measurable, rank, tie-break, scale, packet bytes) among ``scales`` x
    :data:`AUTO_PACKET_BYTES`: meeting the target with the fewest packets; else, of those whose flows each
    send ``min_flow_pps``, the most coverage with the fewest packets; else the most packets."""
    best: tuple[bool, bool, float, float, float, int] | None = None
    w = _prepared(g, max(1, int(_param(params, "max_flows"))), digest)[1]
    for scale in scales:
        for size in AUTO_PACKET_BYTES:
            k, f, sizing = _measurable(g, float(params["load_factor"]), scale,  # type: ignore[arg-type]
                                       size, _param(params, "min_flow_pps"), int(_param(params, "max_flows")),
                                       digest)
            pps = sum((w[:k] * f).tolist()) / (8 * size)
            ok = sizing.warning is None           # even the heaviest pair sends min_flow_pps otherwise
            meets = ok and sizing.volume_share >= target
            rank = (meets, ok, -pps if meets else sizing.volume_share, -pps if ok else pps, scale, size)
            if best is None or rank[:4] > best[:4]:
                best = rank
    assert best is not None
    return best


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
