"""Traffic demands between PoPs: a gravity model, scaled to a target load.

Gravity model: each router's mass is the total capacity of its links; the
demand from ``i`` to ``j`` is proportional to ``mass_i * mass_j``. Demands are
made only between routers in the same connected component (``kind ==
"router"``; hyperedge and external nodes carry transit traffic only).

Scaling: demands are routed on one shortest path by OSPF cost (networkx
Dijkstra; ns-3 may break ties between equal-cost paths differently) and scaled
so that the busiest link direction carries ``load_factor`` of its capacity.

ECMP routing (the knowledge graph's demand layer): every demand follows *all*
shortest paths by OSPF cost, and each router splits the traffic it forwards to
one destination evenly over its equal-cost next hops (per-hop ECMP, as OSPF
does). :func:`ecmp_loads` gives the offered load of every link direction and
node; :func:`ecmp_route` the links and nodes one demand depends on, with the
fraction of the demand on each; :func:`source_footprints` the links and nodes
that the demands of each source cross. A demand matrix from a traffic trace or
a file enters through :func:`demands_from_matrix` / :func:`load_demand_matrix`.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ani.kg.errors import TopologyError, UnknownComponentError


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


def gravity_demands(g: nx.Graph, total_bps: float = 1.0, max_endpoints: int | None = None) -> list[Demand]:
    """Unscaled gravity demands summing to ``total_bps`` (ordered pairs, stable order).

    With ``max_endpoints``, only the that many heaviest routers send and
    receive (the others carry transit traffic only).
    """
    masses = _masses(g)
    if max_endpoints is not None and len(masses) > max_endpoints:
        keep = set(sorted(masses, key=lambda n: (-masses[n], n))[:max_endpoints])
        masses = {n: m for n, m in masses.items() if n in keep}
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


def scaled_demands(g: nx.Graph, demands: Iterable[Demand], capacity_scale: float,
                   source: str = "demand matrix") -> list[Demand]:
    """``demands`` checked against ``g`` (both ends routers of one component) and scaled like the twin's links.

    Raises
    ------
    UnknownComponentError
        For an end that is not a node of ``g`` (the message suggests close names).
    TopologyError
        For a demand between nodes that no path connects.
    """
    comp = {n: i for i, c in enumerate(nx.connected_components(g)) for n in c}
    out = []
    for d in demands:
        for end in (d.src, d.dst):
            if end not in g:
                raise UnknownComponentError(end, "node", f"end of demand {d.src} -> {d.dst} in {source}")
        if comp[d.src] != comp[d.dst]:
            raise TopologyError(source, f"demand {d.src} -> {d.dst}: no path connects them")
        out.append(d.model_copy(update={"rate_bps": d.rate_bps * capacity_scale}))
    return out


# --- ECMP routing --------------------------------------------------------------
Dag = tuple[dict[str, list[str]], dict[str, float]]


def shortest_dag(g: nx.Graph, root: str, weight: str = "ospf_cost") -> Dag:
    """Shortest-path DAG of ``root`` by ``weight``: (predecessors, distances).

    On an undirected graph with symmetric costs, ``pred[v]`` is the set of
    ECMP next hops from ``v`` toward ``root``, and also the last hops of the
    shortest paths from ``root`` to ``v``.
    """
    return nx.dijkstra_predecessor_and_distance(g, root, weight=weight)


class Route(BaseModel):
    """The links and nodes one demand depends on, with the fraction of it on each (per-hop ECMP)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    src: str
    dst: str
    links: dict[str, float] = Field(description="link id -> fraction of the demand crossing it")
    nodes: dict[str, float] = Field(description="node id -> fraction of the demand it forwards or ends")


def _split_toward(dag: Dag, inflow: dict[str, float]) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """Push ``inflow`` (node -> bit/s entering at it) down the DAG toward its root, splitting evenly."""
    pred, dist = dag
    flow = defaultdict(float, {n: x for n, x in inflow.items() if n in dist})
    hops: dict[tuple[str, str], float] = defaultdict(float)
    for v in sorted(dist, key=dist.__getitem__, reverse=True):
        x = flow.get(v, 0.0)
        nxt = pred[v]
        if x <= 0 or not nxt:
            continue
        share = x / len(nxt)
        for u in nxt:
            hops[(v, u)] += share
            flow[u] += share
    return dict(hops), {n: x for n, x in flow.items() if x > 0}


def ecmp_loads(g: nx.Graph, demands: Iterable[Demand], weight: str = "ospf_cost",
               dags: Mapping[str, Dag] | None = None) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """Offered load of every link direction and node under per-hop ECMP.

    Parameters
    ----------
    g : networkx.Graph
        The topology.
    demands : iterable of Demand
        The traffic; a demand whose ends are not connected is left out.
    weight : str
        The edge attribute routed on.
    dags : mapping, optional
        Precomputed :func:`shortest_dag` per destination (a cache).

    Returns
    -------
    tuple of dict
        ``{(u, v): bit/s}`` per link direction and ``{node: bit/s}`` per node
        (traffic it originates, forwards or receives).
    """
    by_dst: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for d in demands:
        by_dst[d.dst][d.src] += d.rate_bps
    links: dict[tuple[str, str], float] = defaultdict(float)
    nodes: dict[str, float] = defaultdict(float)
    for dst, inflow in by_dst.items():
        dag = dags[dst] if dags is not None and dst in dags else shortest_dag(g, dst, weight)
        hops, flow = _split_toward(dag, inflow)
        for hop, x in hops.items():
            links[hop] += x
        for n, x in flow.items():
            nodes[n] += x
    return dict(links), dict(nodes)


def ecmp_route(g: nx.Graph, src: str, dst: str, weight: str = "ospf_cost", dag: Dag | None = None) -> Route:
    """The links and nodes a demand from ``src`` to ``dst`` depends on (per-hop ECMP).

    Raises
    ------
    UnknownComponentError
        If either end is not a node of ``g``.
    TopologyError
        If ``dst`` cannot be reached from ``src``.
    """
    for end in (src, dst):
        if end not in g:
            raise UnknownComponentError(str(end), "node", "demand end")
    dag = dag or shortest_dag(g, dst, weight)
    if src not in dag[1]:
        raise TopologyError(g.graph.get("name", "graph"), f"no path from {src} to {dst}")
    hops, flow = _split_toward(dag, {src: 1.0})
    links: dict[str, float] = defaultdict(float)
    for (u, v), x in hops.items():
        links[g.edges[u, v]["link_id"]] += x
    return Route(src=src, dst=dst, links=dict(links), nodes=flow)


def source_footprints(g: nx.Graph, demands: Iterable[Demand], weight: str = "ospf_cost",
                      dags: Mapping[str, Dag] | None = None) -> dict[str, tuple[set[tuple[str, str]], set[str]]]:
    """Per source, the links (as node pairs) and nodes on the ECMP paths of its demands.

    Uses the shortest-path DAG of each *source* (symmetric costs: the links
    on shortest ``s -> d`` paths are those on shortest ``d -> s`` paths).
    """
    by_src: dict[str, set[str]] = defaultdict(set)
    for d in demands:
        by_src[d.src].add(d.dst)
    out = {}
    for src, dsts in by_src.items():
        pred, dist = dags[src] if dags is not None and src in dags else shortest_dag(g, src, weight)
        stack = [d for d in dsts if d in dist]
        seen, edges = set(stack), set()
        while stack:
            v = stack.pop()
            for u in pred[v]:
                edges.add((u, v))
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
        out[src] = (edges, seen | {src})
    return out


# --- demand matrices -------------------------------------------------------------
def demands_from_matrix(matrix: Mapping[tuple[str, str], float] | Any, source: str = "demand matrix") -> list[Demand]:
    """Demands from a traffic matrix (e.g. one measured from a packet trace).

    Parameters
    ----------
    matrix : mapping or pandas.DataFrame
        ``{(src, dst): bit/s}``, or a frame with columns ``src``, ``dst``,
        ``rate_bps``. Zero entries are dropped; self-pairs are an error.
    source : str
        Names the input in error messages.

    Returns
    -------
    list of Demand
        In the matrix's order.
    """
    if hasattr(matrix, "itertuples"):
        rows = [(r.src, r.dst, r.rate_bps) for r in matrix.itertuples(index=False)]
    else:
        rows = [(s, d, x) for (s, d), x in dict(matrix).items()]
    out = []
    for i, (s, d, x) in enumerate(rows):
        if s == d:
            raise TopologyError(source, f"entry {i} ({s} -> {d}): source and destination are the same")
        try:
            if float(x) > 0:
                out.append(Demand(src=str(s), dst=str(d), rate_bps=float(x)))
        except (TypeError, ValueError) as exc:
            raise TopologyError(source, f"entry {i} ({s} -> {d}): rate {x!r} is not a number") from exc
    return out


def _csv_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"src", "dst", "rate_bps"} - set(reader.fieldnames or [])
        if missing:
            raise TopologyError(str(path), f"line 1: missing column(s) {sorted(missing)}; need src,dst,rate_bps")
        return [(reader.line_num, row) for row in reader]


def load_demand_matrix(path: str | Path) -> list[Demand]:
    """Read demands from a CSV (``src,dst,rate_bps``) or JSON (list of ``{src, dst, rate_bps}``) file.

    Raises
    ------
    TopologyError
        For an unreadable file or a malformed row; the message names the
        file and the line (CSV) or entry (JSON).
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            rows = list(enumerate(json.loads(path.read_text()), start=0))
            where = "entry"
        else:
            rows = _csv_rows(path)
            where = "line"
    except OSError as exc:
        raise TopologyError(str(path), f"cannot read demand file: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise TopologyError(str(path), f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    out = []
    for pos, row in rows:
        try:
            out.append(Demand.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "row"
            raise TopologyError(str(path), f"{where} {pos}: {field}: {err['msg']}") from None
    return out
