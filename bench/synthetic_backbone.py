"""A synthetic, reproducible continental backbone written as Topology Zoo-style GraphML.

Three tiers, as national backbones are built:

* **core** PoPs spread over a continent-sized box (lat 26-49, lon -123..-68),
  each linked to its ``core_degree`` nearest cores (100 Gbit/s), plus links
  that make the core connected;
* **aggregation** PoPs in a disc of ``agg_radius_km`` around a random core,
  dual-homed to the two nearest cores and linked to the nearest other
  aggregation PoP (10 Gbit/s);
* **access** PoPs in a disc of ``access_radius_km`` around their aggregation
  PoP, in rings of ``ring`` access PoPs closed at that aggregation PoP (a
  metro ring, 1 Gbit/s).

The file carries what a Topology Zoo file carries (``label``, ``Latitude``,
``Longitude``, ``LinkSpeedRaw``), so ``kg.topology.load_graphml`` imports it
like a real one: delays from great-circle distances, OSPF costs from delays.
The same seed always gives the same file.

    python bench/synthetic_backbone.py --pops 750 --seed 1 --output results/bench/Synthetic750.graphml
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import networkx as nx
import numpy as np

LAT, LON = (26.0, 49.0), (-123.0, -68.0)
KM_PER_DEG = 111.2
CORE_BPS, AGG_BPS, ACCESS_BPS = 100e9, 10e9, 1e9


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance in km (good enough to choose neighbours)."""
    dx = (a[1] - b[1]) * math.cos(math.radians((a[0] + b[0]) / 2)) * KM_PER_DEG
    return math.hypot(dx, (a[0] - b[0]) * KM_PER_DEG)


def _around(rng: np.random.Generator, centre: tuple[float, float], radius_km: float) -> tuple[float, float]:
    r, phi = radius_km * math.sqrt(rng.random()), 2 * math.pi * rng.random()
    lat = centre[0] + r * math.sin(phi) / KM_PER_DEG
    lon = centre[1] + r * math.cos(phi) / (KM_PER_DEG * math.cos(math.radians(centre[0])))
    return round(lat, 4), round(lon, 4)


def _nearest(pos: dict[str, tuple[float, float]], of: str, among: list[str], k: int) -> list[str]:
    return sorted((n for n in among if n != of), key=lambda n: (_km(pos[of], pos[n]), n))[:k]


def _core(g: nx.Graph, rng: np.random.Generator, n: int, degree: int, pos: dict) -> list[str]:
    cores = [f"core{i}" for i in range(n)]
    for c in cores:
        pos[c] = (round(float(rng.uniform(*LAT)), 4), round(float(rng.uniform(*LON)), 4))
    for c in cores:
        for m in _nearest(pos, c, cores, degree):
            g.add_edge(c, m, bps=CORE_BPS)
    comps = [sorted(c) for c in nx.connected_components(g.subgraph(cores))]
    while len(comps) > 1:  # join each stray component to the nearest other one
        a = comps[0]
        rest = [n for c in comps[1:] for n in c]
        u, v = min(((x, y) for x in a for y in rest), key=lambda e: _km(pos[e[0]], pos[e[1]]))
        g.add_edge(u, v, bps=CORE_BPS)
        comps = [sorted(c) for c in nx.connected_components(g.subgraph(cores))]
    return cores


def backbone(pops: int = 750, seed: int = 1, core_share: float = 0.04, agg_share: float = 0.16,
             core_degree: int = 3, ring: int = 5, agg_radius_km: float = 250.0,
             access_radius_km: float = 60.0) -> nx.Graph:
    """The backbone as a networkx graph in Topology Zoo attribute names."""
    rng = np.random.default_rng(seed)
    g, pos = nx.Graph(), {}
    n_core = max(3, round(pops * core_share))
    n_agg = max(1, round(pops * agg_share))
    n_access = pops - n_core - n_agg
    cores = _core(g, rng, n_core, core_degree, pos)
    aggs = [f"agg{i}" for i in range(n_agg)]
    for a in aggs:
        pos[a] = _around(rng, pos[cores[int(rng.integers(n_core))]], agg_radius_km)
        for c in _nearest(pos, a, cores, 2):
            g.add_edge(a, c, bps=AGG_BPS)
    for a in aggs:
        g.add_edge(a, _nearest(pos, a, aggs, 1)[0], bps=AGG_BPS)
    parent = [aggs[i % n_agg] for i in range(n_access)]
    for i, a in enumerate(aggs):
        mine = [f"acc{j}" for j in range(n_access) if parent[j] == a]
        for m in mine:
            pos[m] = _around(rng, pos[a], access_radius_km)
        for k in range(0, len(mine), ring):
            chain = [a, *mine[k:k + ring], a]
            for u, v in zip(chain, chain[1:]):
                if u != v:
                    g.add_edge(u, v, bps=ACCESS_BPS)
    for n in g:
        g.nodes[n].update(label=n, Latitude=pos[n][0], Longitude=pos[n][1], Internal=1)
    for u, v, d in g.edges(data=True):
        d["LinkSpeedRaw"] = d.pop("bps")
    g.graph["name"] = f"Synthetic{pops}"
    return g


def write(path: Path, pops: int = 750, seed: int = 1) -> nx.Graph:
    """Write the backbone of ``pops`` PoPs and ``seed`` to ``path`` (GraphML) and return it."""
    g = backbone(pops, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    nx.write_graphml(g, path)
    return g


def describe(g: nx.Graph) -> str:
    """Size, degree and path length: the figures that make a backbone realistic."""
    degrees = [d for _, d in g.degree()]
    sample = sorted(g)[:: max(1, len(g) // 50)]
    hops = [h for s in sample for h in nx.single_source_shortest_path_length(g, s).values() if h]
    return (f"{g.graph.get('name')}: {len(g)} PoPs, {g.number_of_edges()} links, mean degree "
            f"{np.mean(degrees):.2f} (max {max(degrees)}), mean hops {np.mean(hops):.1f} "
            f"(max {max(hops)}), connected {nx.is_connected(g)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pops", type=int, default=750)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--output", type=Path, default=Path("results/bench/Synthetic750.graphml"))
    args = ap.parse_args()
    print(describe(write(args.output, args.pops, args.seed)))


if __name__ == "__main__":
    main()
