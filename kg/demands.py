"""Traffic demands between PoPs: a gravity model, scaled to a target load.

Gravity model: each router's mass is the total capacity of its links; the
demand from ``i`` to ``j`` is proportional to ``mass_i * mass_j``. Demands are
made only between routers in the same connected component (``kind ==
"router"``; hyperedge and external nodes carry transit traffic only).

Scaling: demands are routed on one shortest path by OSPF cost (networkx
Dijkstra; ns-3 may break ties between equal-cost paths differently) and scaled
so that the busiest link direction carries ``load_factor`` of its capacity.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.errors import TopologyError


class Demand(BaseModel):
    """A constant traffic demand from one PoP to another."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    src: str
    dst: str
    rate_bps: float = Field(gt=0)


def _masses(g: nx.Graph) -> dict[str, float]:
    return {
        n: sum(d["capacity_bps"] for _, _, d in g.edges(n, data=True))
        for n, kind in g.nodes(data="kind")
        if kind == "router" and g.degree(n) > 0
    }


def gravity_demands(g: nx.Graph, total_bps: float = 1.0) -> list[Demand]:
    """Unscaled gravity demands summing to ``total_bps`` (ordered pairs, stable order)."""
    masses = _masses(g)
    component = {n: i for i, comp in enumerate(nx.connected_components(g)) for n in comp}
    pairs = [(s, d) for s in masses for d in masses if s != d and component[s] == component[d]]
    if not pairs:
        raise TopologyError(g.graph.get("name", "graph"), "no pair of connected routers to carry traffic")
    weight = {p: masses[p[0]] * masses[p[1]] for p in pairs}
    norm = sum(weight.values())
    return [Demand(src=s, dst=d, rate_bps=total_bps * weight[(s, d)] / norm) for s, d in pairs]


def link_loads(g: nx.Graph, demands: list[Demand]) -> dict[tuple[str, str], float]:
    """Offered bit/s per link direction, each demand on one shortest path by OSPF cost."""
    loads: dict[tuple[str, str], float] = defaultdict(float)
    by_src: dict[str, list[Demand]] = defaultdict(list)
    for d in demands:
        by_src[d.src].append(d)
    for src, ds in by_src.items():
        paths = nx.single_source_dijkstra_path(g, src, weight="ospf_cost")
        for d in ds:
            path = paths[d.dst]
            for hop in zip(path, path[1:]):
                loads[hop] += d.rate_bps
    return dict(loads)


def scaled_gravity_demands(g: nx.Graph, load_factor: float, capacity_scale: float = 1.0) -> list[Demand]:
    """Gravity demands scaled so the busiest link direction runs at ``load_factor``.

    ``capacity_scale`` multiplies every capacity (as the twin does), so the
    demands fit the scaled network.
    """
    unit = gravity_demands(g, total_bps=1.0)
    loads = link_loads(g, unit)
    worst = max(load / (g.edges[u, v]["capacity_bps"] * capacity_scale) for (u, v), load in loads.items())
    factor = load_factor / worst
    return [d.model_copy(update={"rate_bps": d.rate_bps * factor}) for d in unit]
