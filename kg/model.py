"""The knowledge graph: a topology with all its layers, and the causal queries over it.

:func:`build_kg` turns a topology (:mod:`ani.kg.topology`, :mod:`ani.kg.caida`,
:mod:`ani.kg.yamlio`) into a :class:`KnowledgeGraph`, which implements
:class:`ani.kg.contract.CausalModel`. Layers:

* **network**: the topology graph (a copy), every node given resources
  (:mod:`ani.kg.resources`) and, with demands, the offered load
  ``load_bps`` and ``utilization`` of every link (busiest direction over
  capacity) and node (forwarded bit/s over ``cpu_capacity_bps``);
* **shared risk**: SRLGs declared by hand and/or derived from geography
  (:mod:`ani.kg.srlg`);
* **services**: PoP-pair demands, gravity by default (scaled so the busiest
  link direction runs at ``load_factor``) or a given matrix, routed on ECMP
  shortest paths by OSPF cost (:mod:`ani.kg.demands`);
* **history**: past incidents (:mod:`ani.kg.incidents`);
* **dependency**: the typed causal DiGraph (:mod:`ani.kg.dependency`).

Damage proxy (``score_bps``, ranks the frontier): with demands, the traffic
through a component (a link: both directions; a node: what it originates,
forwards or receives; an SRLG: the sum over its links). Without demands, a
structural proxy: a node's *mass* (the capacity of its links), a link's
geometric mean of its ends' masses, an SRLG the sum over its links.
"""

from __future__ import annotations

import difflib
import gc
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import networkx as nx

from ani.kg.scenario import Event, EventType, Scenario

from . import causal
from .contract import Issue
from .demands import Dag, Demand, Route, ecmp_loads, ecmp_route, gravity_demands, shortest_dag, source_footprints
from .dependency import build_dependency, cascade_depth, reachable, wants_detours
from .event_types import APPLICABLE, stress_type
from .errors import TopologyError, UnknownComponentError
from .incidents import IncidentEvent, history_edges
from .resources import Resources, assign_resources
from .srlg import Srlg, canonical_srlgs, derive_srlgs, membership
from .graph_queries import graph_digest

#: gravity demands between every pair of routers up to this many routers; above it, between the
#: GRAVITY_MAX_ROUTERS heaviest (the rest carry transit only), up to GRAVITY_MAX_GRAPH routers
GRAVITY_MAX_ROUTERS: int = 400
GRAVITY_MAX_GRAPH: int = 10_000
DEFAULT_LOAD_FACTOR: float = 0.5


@dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """A network with all its layers; implements :class:`ani.kg.contract.CausalModel`.

    Build it with :func:`build_kg`; the graphs it holds are plain networkx
    graphs and must be treated as read-only.
    """

    topology: nx.Graph
    dependency: nx.DiGraph
    srlgs: tuple[Srlg, ...] = ()
    demands: tuple[Demand, ...] = ()
    incidents: tuple[IncidentEvent, ...] = ()
    root_ids: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    _spelling: dict[str, str] = field(default_factory=dict, repr=False)
    _links_of: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _srlg_links: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _srlgs_of: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _ends: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    _dags: dict[str, Dag] = field(default_factory=dict, repr=False)

    # --- CausalModel ------------------------------------------------------
    @cached_property
    def digest(self) -> str:
        """A stable hash of the whole graph, all layers included (16 hex characters)."""
        with paused_gc():
            return self._digest()

    def _digest(self) -> str:
        layers = {
            "topology": graph_digest(self.topology),
            "srlgs": [s.model_dump(mode="json") for s in self.srlgs],
            "demands": [d.model_dump(mode="json") for d in self.demands],
            "incidents": [i.model_dump(mode="json") for i in self.incidents],
            "roots": list(self.root_ids) if self.root_ids is not None else None,
        }
        blob = json.dumps(layers, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @cached_property
    def _components(self) -> tuple[str, ...]:
        return tuple(self.dependency.nodes)

    def components(self) -> list[str]:
        """Every component id: nodes, then links (the topology's node and edge order), then SRLGs."""
        return list(self._components)

    def canonical(self, component: str) -> str | None:
        """The canonical id of ``component`` (a reversed link id resolves), or None if unknown."""
        if component in self.dependency:
            return component
        return self._spelling.get(component)

    def kind(self, component: str) -> str:
        """``router``, ``hyperedge``, ``external``, ``link`` or ``srlg``.

        Raises
        ------
        UnknownComponentError
            (a KeyError) if the graph has no such component.
        """
        return self.dependency.nodes[self.resolve(component)]["kind"]

    def applicable(self, component: str) -> list[EventType]:
        """Event types that apply to ``component``'s kind (:data:`ani.kg.event_types.APPLICABLE`)."""
        return list(APPLICABLE[self.kind(component)])

    def roots(self) -> list[str]:
        """Components a scenario may start on: all of them unless ``build_kg(roots=...)`` restricted them."""
        return list(self.root_ids) if self.root_ids is not None else self.components()

    def frontier(self, events: Sequence[Event]) -> dict[str, list[EventType]]:
        """Allowed next (target -> event types) given the events so far, ranked (:mod:`ani.kg.causal`)."""
        if not events:
            roots = self._root_frontier
            with paused_gc():
                return dict(zip(roots, map(list.copy, roots.values())))
        return causal.frontier(self, causal.replay(self, events))

    def validate(self, scenario: Scenario) -> list[Issue]:
        """Every rule ``scenario`` breaks; empty when it is valid (:func:`ani.kg.validate.validate`)."""
        from .validate import validate

        return validate(scenario, self)

    def context(self, components: Iterable[str], budget_chars: int = 4000) -> str:
        """Compact text of the neighbourhood of ``components`` (:func:`ani.kg.context.context`)."""
        from .context import context

        return context(self, components, budget_chars=budget_chars)

    # --- more queries -------------------------------------------------------
    @cached_property
    def _root_frontier(self) -> dict[str, list[EventType]]:
        with paused_gc():
            return causal.root_frontier(self, self.roots())

    def close_matches(self, component: str, n: int = 5) -> list[str]:
        """Up to ``n`` component ids spelled like ``component`` (none on graphs above 20,000 components)."""
        pool = self._components if len(self._components) <= 20_000 else ()
        return difflib.get_close_matches(str(component), pool, n=n, cutoff=0.6)

    def resolve(self, component: str) -> str:
        """The canonical id of ``component``; UnknownComponentError (with close matches) if unknown."""
        canon = self.canonical(component)
        if canon is None:
            close = self.close_matches(component)
            hint = f"close matches: {', '.join(close)}" if close else "not a node, link or 'srlg:' group"
            raise UnknownComponentError(str(component), "component", hint)
        return canon

    def links_of(self, node: str) -> list[str]:
        """Link ids attached to ``node``."""
        return self._links_of.get(node, [])

    def ends(self, link: str) -> tuple[str, str]:
        """The two end nodes of a link, in link-id order."""
        return self._ends[self.resolve(link)]

    def srlg_links(self, srlg: str) -> tuple[str, ...]:
        """Member link ids of an SRLG."""
        return self._srlg_links.get(srlg, ())

    def srlgs_of(self, link: str) -> list[str]:
        """Ids of the SRLGs a link belongs to."""
        return self._srlgs_of.get(link, [])

    def score(self, component: str) -> float:
        """The damage proxy of a component, bit/s (see the module docstring)."""
        return float(self.dependency.nodes[self.resolve(component)]["score_bps"])

    def reachable(self, components: Iterable[str]) -> set[str]:
        """Every component a change of ``components`` can influence, themselves included."""
        return reachable(self.dependency, [self.resolve(c) for c in components])

    def cascade_depth(self, components: Iterable[str]) -> int:
        """Causal steps from ``components`` to the farthest component they can influence."""
        return cascade_depth(self.dependency, [self.resolve(c) for c in components])

    def route(self, src: str, dst: str) -> Route:
        """Links and nodes a demand ``src -> dst`` depends on (per-hop ECMP by OSPF cost)."""
        return ecmp_route(self.topology, src, dst, dag=self._dags.get(dst))

    def demands_through(self, component: str) -> list[Demand]:
        """Demands whose ECMP paths cross ``component`` (a node, a link, or any link of an SRLG).

        A demand ``s -> d`` crosses node ``n`` when ``dist(s, n) + dist(n, d) = dist(s, d)``
        and link ``u-v`` when ``dist(s, u) + cost + dist(v, d)`` does (either direction).
        """
        comp = self.resolve(component)
        kind = self.kind(comp)
        links = [comp] if kind == "link" else list(self.srlg_links(comp)) if kind == "srlg" else []
        spans = [(*self._ends[lid], self.topology.edges[self._ends[lid]]["ospf_cost"]) for lid in links]
        return [d for d in self.demands if self._crosses(d, comp if not links else None, spans)]

    def _crosses(self, d: Demand, node: str | None, spans: list[tuple[str, str, int]]) -> bool:
        to_dst, to_src = self._dags[d.dst][1], self._dags[d.src][1]
        total = to_dst.get(d.src)
        if total is None:
            return False
        if node is not None:
            return to_src.get(node, math.inf) + to_dst.get(node, math.inf) == total
        return any(to_src.get(a, math.inf) + c + to_dst.get(b, math.inf) == total
                   or to_src.get(b, math.inf) + c + to_dst.get(a, math.inf) == total for a, b, c in spans)

    def failure_events(self, failed: Iterable[str] = (), stressed: Iterable[str] = (),
                       at: float = 0.0) -> list[Event]:
        """Events that fail (or stress) the given components at time ``at`` — for ad-hoc frontier queries.

        A link fails with ``fiber_link_failure`` and is stressed with
        ``link_degradation``; a node ``router_failure`` / ``router_overload``
        (``traffic_spike`` for an external node); an SRLG ``srlg_cut``.
        """
        out = [Event(event_type=causal.failure_type(self.kind(c)), target=self.resolve(c), timestamp=at)
               for c in failed]
        out += [Event(event_type=stress_type(self.kind(c)), target=self.resolve(c), timestamp=at) for c in stressed]
        return out

    def counts(self) -> dict[str, int]:
        """Number of components per kind, plus demands, incidents and dependency edges."""
        out: dict[str, int] = {}
        for _, k in self.dependency.nodes(data="kind"):
            out[k] = out.get(k, 0) + 1
        out.update(demands=len(self.demands), incidents=len(self.incidents),
                   dependency_edges=self.dependency.number_of_edges())
        return out


# --- building ------------------------------------------------------------------
def _check_demands(g: nx.Graph, demands: Iterable[Demand], notes: list[str]) -> list[Demand]:
    out, unroutable = [], 0
    comp = {n: i for i, c in enumerate(nx.connected_components(g)) for n in c}
    for d in demands:
        for end in (d.src, d.dst):
            if end not in g:
                raise UnknownComponentError(end, "node", f"end of demand {d.src} -> {d.dst}")
        if d.src == d.dst:
            raise TopologyError(g.graph.get("name", "graph"), f"demand {d.src} -> {d.dst}: same source and destination")
        if comp[d.src] != comp[d.dst]:
            unroutable += 1
        out.append(d)
    if unroutable:
        notes.append(f"{unroutable} demands between disconnected nodes carry no traffic")
    return out


def _gravity(g: nx.Graph, load_factor: float, notes: list[str], dags: dict[str, Dag]) -> list[Demand]:
    """Gravity demands scaled so the busiest link direction runs at ``load_factor`` (fills ``dags``)."""
    n_routers = sum(1 for _, k in g.nodes(data="kind") if k == "router")
    if n_routers > GRAVITY_MAX_GRAPH:
        notes.append(f"no demands: {n_routers} routers > GRAVITY_MAX_GRAPH={GRAVITY_MAX_GRAPH} "
                     "(pass demands= to route a matrix); ranking uses the structural proxy")
        return []
    if n_routers > GRAVITY_MAX_ROUTERS:
        notes.append(f"gravity demands between the {GRAVITY_MAX_ROUTERS} heaviest of {n_routers} routers "
                     "(GRAVITY_MAX_ROUTERS); the others carry transit traffic only")
    try:
        unit = gravity_demands(g, total_bps=1.0, max_endpoints=GRAVITY_MAX_ROUTERS)
    except TopologyError:
        notes.append("no demands: no pair of connected routers")
        return []
    dags.update((n, shortest_dag(g, n)) for n in {d.dst for d in unit} - set(dags))
    links, _ = ecmp_loads(g, unit, dags=dags)
    worst = max((x / g.edges[u, v]["capacity_bps"] for (u, v), x in links.items()), default=0.0)
    factor = load_factor / worst if worst > 0 else 1.0
    notes.append(f"gravity demands: {len(unit)} PoP pairs, busiest link direction at {load_factor:.0%}")
    return [Demand(src=d.src, dst=d.dst, rate_bps=d.rate_bps * factor) for d in unit]


def _apply_loads(g: nx.Graph, demands: Sequence[Demand], dags: dict[str, Dag]) -> dict[str, float]:
    """Write ``load_bps``/``utilization`` onto links and nodes; return the score of each."""
    links, nodes = ecmp_loads(g, demands, dags=dags)
    scores: dict[str, float] = {}
    for u, v, d in g.edges(data=True):
        fwd, rev = links.get((u, v), 0.0), links.get((v, u), 0.0)
        d["load_bps"] = max(fwd, rev)
        d["utilization"] = d["load_bps"] / d["capacity_bps"]
        scores[d["link_id"]] = fwd + rev
    for n, d in g.nodes(data=True):
        d["load_bps"] = nodes.get(n, 0.0)
        d["utilization"] = d["load_bps"] / d["cpu_capacity_bps"]
        scores[n] = d["load_bps"]
    return scores


def _structural_scores(g: nx.Graph) -> dict[str, float]:
    mass = {n: d["cpu_capacity_bps"] for n, d in g.nodes(data=True)}
    scores = dict(mass)
    for u, v, d in g.edges(data=True):
        scores[d["link_id"]] = math.sqrt(mass[u] * mass[v])
    return scores


def _demand_layer(g: nx.Graph, demands: Any, load_factor: float, notes: list[str]
                  ) -> tuple[list[Demand], dict[str, Dag], dict[str, float]]:
    dags: dict[str, Dag] = {}
    if isinstance(demands, str):
        if demands != "gravity":
            raise TopologyError(g.graph.get("name", "graph"), f"demands={demands!r}: give 'gravity', None or demands")
        demands = _gravity(g, load_factor, notes, dags)
    demands = _check_demands(g, demands or [], notes)
    if not demands:
        return [], {}, _structural_scores(g)
    ends = {d.src for d in demands} | {d.dst for d in demands}
    dags.update((n, shortest_dag(g, n)) for n in ends - set(dags))
    return demands, dags, _apply_loads(g, demands, dags)


def _srlg_layer(g: nx.Graph, srlgs: Sequence[Srlg] | None, derive: bool, notes: list[str]) -> list[Srlg]:
    groups = canonical_srlgs(g, srlgs or [], source="declared SRLGs")
    if derive:
        taken = {s.id for s in groups} | {frozenset(s.links) for s in groups}
        derived = [s for s in derive_srlgs(g) if s.id not in taken and frozenset(s.links) not in taken]
        groups += derived
        has_coords = any(d.get("lat") is not None for _, d in g.nodes(data=True))
        notes.append(f"derived SRLGs: {len(derived)}" if has_coords else "derived SRLGs: none (no coordinates)")
    return groups


def _index(g: nx.Graph, groups: Sequence[Srlg]) -> dict[str, Any]:
    spelling: dict[str, str] = {}
    links_of: dict[str, list[str]] = {n: [] for n in g.nodes}
    ends: dict[str, tuple[str, str]] = {}
    for u, v, d in g.edges(data=True):
        lid = d["link_id"]
        a, b = (u, v) if lid == f"{u}-{v}" else (v, u)
        ends[lid] = (a, b)
        spelling[f"{b}-{a}"] = lid
        links_of[u].append(lid)
        links_of[v].append(lid)
    return {"_spelling": spelling, "_links_of": links_of, "_ends": ends,
            "_srlg_links": {s.id: s.links for s in groups}, "_srlgs_of": membership(groups)}


def build_kg(topology: nx.Graph, *, demands: Sequence[Demand] | Literal["gravity"] | None = "gravity",
             srlgs: Sequence[Srlg] | None = None, derive_srlgs: bool = True,
             incidents: Sequence[IncidentEvent] | None = None, resources: Mapping[str, Resources] | None = None,
             roots: Iterable[str] | None = None, load_factor: float = DEFAULT_LOAD_FACTOR,
             detours: bool | None = None) -> KnowledgeGraph:
    """Build the knowledge graph of a topology, all layers included.

    Parameters
    ----------
    topology : networkx.Graph
        A graph in the schema of :mod:`ani.kg.topology` (not modified).
    demands : sequence of Demand, "gravity" or None
        ``"gravity"`` (default): gravity-model demands between all routers,
        scaled so the busiest link direction runs at ``load_factor`` (between
        the ``GRAVITY_MAX_ROUTERS`` heaviest routers on larger graphs, none
        above ``GRAVITY_MAX_GRAPH`` routers; a note says which). A sequence:
        these demands (e.g. :func:`ani.kg.demands.demands_from_matrix` of a
        trace). None: no service layer (structural damage proxy).
    srlgs : sequence of Srlg, optional
        Declared shared-risk groups (link ids in either spelling).
    derive_srlgs : bool
        Also derive groups from geography (:func:`ani.kg.srlg.derive_srlgs`).
    incidents : sequence of IncidentEvent, optional
        Past incidents; their components must exist.
    resources : mapping of str to Resources, optional
        Declared router resources (defaults elsewhere).
    roots : iterable of str, optional
        Restrict where a scenario may start (default: anywhere).
    load_factor : float
        Utilisation of the busiest link direction under gravity demands.
    detours : bool, optional
        Force ``reroute`` edges on/off (default: when affordable).

    Returns
    -------
    KnowledgeGraph

    Raises
    ------
    TopologyError, UnknownComponentError
        For a layer that names a missing component (the message names it).
    """
    with paused_gc():
        return _build(topology, demands, srlgs, derive_srlgs, incidents, resources, roots, load_factor, detours)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block: code that makes millions of small objects while
    holding many more (graph dicts here: 30 % faster on CAIDA; the fluid tier's screening) pays for each
    collection walking them; the few cycles made meanwhile are collected after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _build(topology: nx.Graph, demands: Any, srlgs: Sequence[Srlg] | None, derive_srlgs: bool,
           incidents: Sequence[IncidentEvent] | None, resources: Mapping[str, Resources] | None,
           roots: Iterable[str] | None, load_factor: float, detours: bool | None) -> KnowledgeGraph:
    g = topology.copy()
    g.graph["notes"] = list(g.graph.get("notes", []))
    notes = list(g.graph["notes"])
    assign_resources(g, resources)
    groups = _srlg_layer(g, srlgs, derive_srlgs, notes)
    demand_list, dags, scores = _demand_layer(g, demands, load_factor, notes)
    index = _index(g, groups)
    for grp in groups:
        scores[grp.id] = sum(scores.get(lid, 0.0) for lid in grp.links)
    canon = _canonicalizer(g, index, groups)
    history = history_edges(_check_incidents(incidents or [], canon), canon)
    loaded = {lid for lid, s in scores.items() if s > 0} if demand_list else None
    if detours is None and not wants_detours(g):
        notes.append("reroute edges skipped (graph too large); link -> end router -> link chain only")
    footprints = source_footprints(g, demand_list, dags=dags) if demand_list else None
    dep = build_dependency(g, srlgs=groups, scores=scores, footprints=footprints,
                           loaded_links=loaded, detours=detours, history=history)
    root_ids = _check_roots(roots, canon)
    return KnowledgeGraph(topology=g, dependency=dep, srlgs=tuple(groups), demands=tuple(demand_list),
                          incidents=tuple(incidents or ()), root_ids=root_ids, notes=tuple(notes),
                          _dags=dags, **index)


def _canonicalizer(g: nx.Graph, index: Mapping[str, Any], groups: Sequence[Srlg]) -> Any:
    known = set(g.nodes) | set(index["_ends"]) | {s.id for s in groups}

    def canon(c: str) -> str | None:
        return c if c in known else index["_spelling"].get(c)
    return canon


def _check_incidents(records: Sequence[IncidentEvent], canon: Any) -> Sequence[IncidentEvent]:
    for r in records:
        if canon(r.component) is None:
            raise UnknownComponentError(r.component, "component", f"in incident {r.incident_id!r}")
    return records


def _check_roots(roots: Iterable[str] | None, canon: Any) -> tuple[str, ...] | None:
    if roots is None:
        return None
    out = []
    for r in roots:
        c = canon(r)
        if c is None:
            raise UnknownComponentError(str(r), "component", "in roots")
        out.append(c)
    return tuple(dict.fromkeys(out))
