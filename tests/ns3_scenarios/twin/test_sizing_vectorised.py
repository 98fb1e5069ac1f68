"""The vectorised traffic sizing against the straightforward definition it replaced, on real networks.

``sizing`` computes the probe cover and the demand sizing on numpy matrices
(networkx's Dijkstra order reproduced by ``Settled``, link loads per tree level,
the greedy cover with exact counts). The reference below is the pair-by-pair,
path-by-path code it replaced (networkx Dijkstra per router, Python dicts, a
lazy heap): the chosen probes, their paths, the used links, the longest route,
the demands kept, their rates and every sizing factor must be the same,
float for float, on networks of 11 to 193 PoPs (one with 56 components, some
with hyperedge pseudo-nodes and parallel links).
"""

from __future__ import annotations

import heapq
from collections import defaultdict

import networkx as nx
import numpy as np
import pytest

from ani.kg.demands import Demand
from ani.kg.topology import load_graphml, load_topology
from ani.ns3_scenarios import sizing
from ani.ns3_scenarios.twin_paths import Settled, link_order, neighbours_in_order, next_hops_from, twin_path

NETWORKS = ("Geant2010", "Deltacom", "Ion", "TataNld", "DialtelecomCz")


# ---------------------------------------------------------------- the reference: the code before vectorising


def _ref_candidates(g: nx.Graph) -> list[tuple[list[str], set[int]]]:
    order = link_order(g)
    routers = [n for n, kind in g.nodes(data="kind") if kind == "router" and g.degree(n) > 0]
    neighbours, is_router, out = neighbours_in_order(g, order), set(routers), []
    hop_link = {(u, v): k for link, k in order.items() for u in link for v in link if u != v}
    for dst in sorted(routers, key=lambda n: (-g.degree(n), n)):
        nxt = next_hops_from(g, dst, neighbours)
        inner = {nxt[n] for n in nxt if n in is_router}   # only routers send
        for leaf in (n for n in nxt if n not in inner and n in is_router):
            path = twin_path(nxt, leaf, dst)
            out.append((path, {hop_link[h] for h in zip(path, path[1:])}))
    return out


def _ref_probe_paths(g: nx.Graph) -> tuple[list[list[str]], int, int, int, set[int]]:
    candidates = _ref_candidates(g)
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
    longest = max((len(path) - 1 for path, _ in candidates), default=0)
    return chosen, len(used) - len(left), len(used), longest, used


def _ref_max_utilisation(g: nx.Graph, pairs: list[tuple[str, str]], w: np.ndarray, scale: float) -> float:
    """Pair by pair, in order: each pair's weight added to every link direction of its twin route."""
    order = link_order(g)
    neighbours = neighbours_in_order(g, order)
    nxt: dict[str, dict[str, str]] = {}
    loads: dict[tuple[str, str], float] = defaultdict(float)
    for (s, d), x in zip(pairs, w):
        if d not in nxt:
            nxt[d] = next_hops_from(g, d, neighbours)
        path = twin_path(nxt[d], s, d)
        for hop in zip(path, path[1:]):
            loads[hop] += float(x)
    return max((x / (g.edges[e]["capacity_bps"] * scale) for e, x in loads.items()), default=0.0)


def _ref_measurable(g: nx.Graph, scale: float, size: int, min_pps: float, max_flows: int
                    ) -> tuple[list[Demand], int, float]:
    pairs, w, n_pairs = sizing._gravity_pairs(g, max_flows)
    need = min_pps * 8 * size

    def factor(k: int) -> float:
        return 0.5 / _ref_max_utilisation(g, pairs[:k], w[:k], scale)

    lo, hi = 1, min(max_flows, n_pairs)
    if w[0] * factor(1) < need:
        lo = hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if w[mid - 1] * factor(mid) >= need else (lo, mid - 1)
    f = factor(lo)
    return [Demand(src=s, dst=d, rate_bps=float(x) * f) for (s, d), x in zip(pairs[:lo], w[:lo])], lo, f


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def networks(shared_data) -> list[nx.Graph]:  # type: ignore[no-untyped-def]
    zoo = shared_data / "topologyzoo"
    return [load_topology("abilene"), *(load_graphml(zoo / f"{n}.graphml") for n in NETWORKS)]


def test_settle_order_and_parents_are_networkx_dijkstra(networks: list[nx.Graph]) -> None:
    for g in networks:
        routers = [n for n, kind in g.nodes(data="kind") if kind == "router" and g.degree(n) > 0]
        s = Settled(g, routers)
        for r, src in enumerate(routers):
            pred, dist = nx.dijkstra_predecessor_and_distance(g, src, weight="ospf_cost")
            reached = [s.nodes[i] for i in np.argsort(s.pos[r], kind="stable") if s.pos[r, i] < len(s.nodes)]
            assert reached == list(dist), (g.graph.get("name"), src)
            assert {s.nodes[i]: s.nodes[p] for i, p in enumerate(s.parent[r]) if p >= 0} == \
                {v: p[0] for v, p in pred.items() if p}


def test_probe_cover_is_the_path_by_path_greedy(networks: list[nx.Graph]) -> None:
    for g in networks:
        sizing._MATRICES.clear()
        chosen, covered, used, longest, links = _ref_probe_paths(g)
        assert sizing.probe_paths(g) == (chosen, covered, used, longest)
        assert sizing.used_links(g) == links and covered == used > 0


@pytest.mark.parametrize(("scale", "size"), [(0.01, 1000), (0.05, 500), (0.1, 250)])
def test_demands_and_factors_are_the_pair_by_pair_sizing(networks: list[nx.Graph], scale: float,
                                                        size: int) -> None:
    for g in networks:
        sizing._PREPARED.clear()
        demands, k, f = _ref_measurable(g, scale, size, 20.0, 600)
        mine, sized = sizing.measurable_demands(g, 0.5, scale, size, 20.0, 600)
        assert sized.demand_flows == k and sizing._measurable(g, 0.5, scale, size, 20.0, 600)[1] == f
        assert mine == demands  # the same pairs, in the same order, with the same float rates
        pairs, w, _, loads = sizing._prepared(g, 600)
        for j in (1, k // 2 + 1, k, 600):
            assert loads.max_utilisation(j, scale) == _ref_max_utilisation(g, pairs[:j], w[:j], scale)
