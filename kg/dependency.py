"""The dependency (causal) graph: how a state change of one component can change another.

A typed :class:`networkx.DiGraph` over the component ids of the knowledge
graph (nodes, links ``u-v``, SRLGs ``srlg:…``). Node attributes: ``kind``
(``router``, ``hyperedge``, ``external``, ``link``, ``srlg``) and
``score_bps`` (the damage proxy used to rank the frontier, see
:mod:`ani.kg.model`). Edge attribute ``relations``: a sorted tuple of
:class:`Relation` names (one pair of components may be linked for several
reasons); ``historical`` edges also carry ``event_types`` and ``count``.

Relations (edge ``a -> b``), and which event on ``b`` each one makes causally
reachable, by the *mode* ``a`` is in (:data:`ani.kg.event_types.RULES`, from the
catalogue rows' ``enabled_by`` and ``escalates_from``):

============  ===================  ===========================  =====================================
relation      a -> b               mode of a                    event on b it enables
============  ===================  ===========================  =====================================
member        srlg -> link         at_risk (a member failed)    fiber_link_failure (correlated)
shared_risk   link -> srlg         failed                       srlg_cut (the rest of the group)
endpoint      link -> node         failed, overloaded,          router_overload (rerouted traffic,
                                   misconfigured                SPF churn: CPU/buffer exhaustion)
attached      node -> link         overloaded, surging          link_degradation (drops, congestion)
reroute       link -> link         failed, misconfigured        link_degradation (traffic moves onto
                                                                the detour and overloads it)
loads         source -> link/node  surging                      link_degradation / router_overload
                                                                (the source's demands cross them)
historical    comp -> comp         any                          the event types seen in incidents
============  ===================  ===========================  =====================================

Implied effects (no event needed, :mod:`ani.kg.causal`): a failed node takes
its links down (``attached``); a cut SRLG fails its members (``member``); a
failed link puts its SRLGs at risk (``shared_risk``). Self escalation: an
overloaded router may fail (CPU/buffer exhaustion); a surging router may
overload. Events only apply to components whose kind allows them
(:data:`ani.kg.event_types.APPLICABLE`).

``reroute`` edges go from a link to every link of its ECMP detour (all
shortest paths between its ends without it, by OSPF cost) — where its traffic
goes under local repair; end-to-end re-convergence may spread it wider. With
demands, only links that carry traffic get them. They cost one Dijkstra per
link and are skipped above ``DETOUR_MAX_WORK`` (links x (nodes + links)); the
``endpoint`` + ``attached`` chain (link -> end router -> its other links)
remains, so reachability is still defined (CAIDA).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum

import networkx as nx

from ani.kg.event_types import RULES, EventType

from .srlg import Srlg

DETOUR_MAX_WORK: float = 5e6


class Relation(str, Enum):
    """Why a state change of one component can change another."""

    member = "member"
    shared_risk = "shared_risk"
    endpoint = "endpoint"
    attached = "attached"
    reroute = "reroute"
    loads = "loads"
    historical = "historical"


NODE_KINDS = ("router", "hyperedge", "external")


def enabled(relations: Iterable[str], mode: str, edge: Mapping[str, object] | None = None) -> set[EventType]:
    """Event types that an edge with ``relations`` enables on its head when its tail is in ``mode``."""
    out: set[EventType] = set()
    for rel in relations:
        if rel == "historical" and edge is not None:
            out.update(edge.get("event_types", ()))  # type: ignore[arg-type]
        else:
            out.update(RULES.get((rel, mode), ()))
    return out


class _Edges:
    """Collects typed edges, merging the relations of one ordered pair."""

    def __init__(self) -> None:
        self.rel: dict[tuple[str, str], set[str]] = {}
        self.hist: dict[tuple[str, str], dict[str, object]] = {}

    def add(self, u: str, v: str, relation: str) -> None:
        if u != v:
            self.rel.setdefault((u, v), set()).add(relation)

    def into(self, dep: nx.DiGraph) -> None:
        interned: dict[frozenset[str], tuple[str, ...]] = {}

        def attrs(pair: tuple[str, str], rels: set[str]) -> dict[str, object]:
            key = frozenset(rels)
            return {"relations": interned.setdefault(key, tuple(sorted(key))), **self.hist.get(pair, {})}

        dep.add_edges_from((u, v, attrs((u, v), rels)) for (u, v), rels in self.rel.items())


def _structural(dep: nx.DiGraph, g: nx.Graph) -> None:
    """``endpoint`` and ``attached`` edges, added in bulk (never shared with other relations)."""
    end, att = ("endpoint",), ("attached",)
    dep.add_edges_from((d["link_id"], n, {"relations": end}) for u, v, d in g.edges(data=True) for n in (u, v))
    dep.add_edges_from((n, d["link_id"], {"relations": att}) for u, v, d in g.edges(data=True) for n in (u, v))


def detour_links(g: nx.Graph, u: str, v: str, weight: str = "ospf_cost") -> set[str]:
    """Link ids on every shortest ``u``-``v`` path that avoids the link ``u``-``v`` (its ECMP detour)."""
    def cost(a: str, b: str, d: Mapping[str, object]) -> float | None:
        return None if {a, b} == {u, v} else d[weight]  # type: ignore[return-value]

    pred, dist = nx.dijkstra_predecessor_and_distance(g, u, weight=cost)
    if v not in dist:
        return set()
    out, stack, seen = set(), [v], {v}
    while stack:
        b = stack.pop()
        for a in pred[b]:
            out.add(g.edges[a, b]["link_id"])
            if a not in seen:
                seen.add(a)
                stack.append(a)
    return out


def wants_detours(g: nx.Graph) -> bool:
    """Whether ``reroute`` edges are affordable on ``g`` (see ``DETOUR_MAX_WORK``)."""
    return g.number_of_edges() * (g.number_of_nodes() + g.number_of_edges()) <= DETOUR_MAX_WORK


def build_dependency(g: nx.Graph, *, srlgs: Sequence[Srlg] = (), scores: Mapping[str, float] | None = None,
                     footprints: Mapping[str, tuple[set[tuple[str, str]], set[str]]] | None = None,
                     loaded_links: set[str] | None = None, detours: bool | None = None,
                     history: Mapping[tuple[str, str], Mapping[str, object]] | None = None) -> nx.DiGraph:
    """Build the dependency graph of a topology and its layers.

    Parameters
    ----------
    g : networkx.Graph
        The topology (schema of :mod:`ani.kg.topology`).
    srlgs : sequence of Srlg
        Shared-risk groups with canonical link ids.
    scores : mapping, optional
        Component id -> damage proxy (bit/s), stored as ``score_bps``.
    footprints : mapping, optional
        Source node -> (links as node pairs, nodes) its demands cross
        (:func:`ani.kg.demands.source_footprints`); gives ``loads`` edges.
    loaded_links : set of str, optional
        Links that carry traffic; when given, only they get ``reroute`` edges.
    detours : bool, optional
        Force ``reroute`` edges on or off; default :func:`wants_detours`.
    history : mapping, optional
        (cause, effect) -> ``{"event_types": (...), "count": n}`` from incidents.

    Returns
    -------
    networkx.DiGraph
        Typed as described in the module docstring.
    """
    scores = scores or {}
    dep = nx.DiGraph(name=g.graph.get("name", ""))
    dep.add_nodes_from((n, {"kind": k, "score_bps": float(scores.get(n, 0.0))}) for n, k in g.nodes(data="kind"))
    dep.add_nodes_from((d["link_id"], {"kind": "link", "score_bps": float(scores.get(d["link_id"], 0.0))})
                       for *_, d in g.edges(data=True))
    dep.add_nodes_from((s.id, {"kind": "srlg", "score_bps": float(scores.get(s.id, 0.0))}) for s in srlgs)
    _structural(dep, g)
    extra = _Edges()
    _srlg_edges(extra, srlgs)
    if detours if detours is not None else wants_detours(g):
        _reroute_edges(extra, g, loaded_links)
    for (a, b), attrs in (history or {}).items():
        extra.add(a, b, Relation.historical.value)
        extra.hist[(a, b)] = dict(attrs)
    _merge_structural(extra, dep)
    extra.into(dep)
    _load_edges(dep, g, footprints or {})
    return dep


def _merge_structural(extra: _Edges, dep: nx.DiGraph) -> None:
    """Fold existing structural relations into pairs that ``extra`` also links."""
    for (u, v), rels in extra.rel.items():
        if dep.has_edge(u, v):
            rels.update(dep.edges[u, v]["relations"])


def _srlg_edges(extra: _Edges, srlgs: Sequence[Srlg]) -> None:
    for grp in srlgs:
        for lid in grp.links:
            extra.add(grp.id, lid, Relation.member.value)
            extra.add(lid, grp.id, Relation.shared_risk.value)


def _reroute_edges(extra: _Edges, g: nx.Graph, loaded: set[str] | None) -> None:
    for u, v, d in g.edges(data=True):
        if loaded is None or d["link_id"] in loaded:
            for other in detour_links(g, u, v):
                extra.add(d["link_id"], other, Relation.reroute.value)


def _load_edges(dep: nx.DiGraph, g: nx.Graph, footprints: Mapping[str, tuple[set[tuple[str, str]], set[str]]]) -> None:
    """``loads`` edges, added last: merged into existing pairs, new pairs in bulk."""
    loads, adj, new = Relation.loads.value, g.adj, []
    for src, (pairs, nodes) in footprints.items():
        have = dep.succ[src]
        for t in [adj[a][b]["link_id"] for a, b in pairs] + [n for n in nodes if n != src]:
            if t not in have:
                new.append((src, t))
            elif loads not in have[t]["relations"]:
                have[t]["relations"] = tuple(sorted((*have[t]["relations"], loads)))
    dep.add_edges_from(new, relations=(loads,))


def reachable(dep: nx.DiGraph, components: Iterable[str]) -> set[str]:
    """Every component that a change of ``components`` can influence, themselves included.

    Parameters
    ----------
    dep : networkx.DiGraph
        A dependency graph from :func:`build_dependency`.
    components : iterable of str
        Canonical component ids (unknown ids are ignored).

    Returns
    -------
    set of str
        The sources and all their descendants.
    """
    return set(_levels(dep, components))


def _levels(dep: nx.DiGraph, components: Iterable[str]) -> dict[str, int]:
    """BFS level of every component reachable from ``components`` (sources at 0)."""
    level = {c: 0 for c in components if c in dep}
    queue = deque(level)
    while queue:
        a = queue.popleft()
        for b in dep.succ[a]:
            if b not in level:
                level[b] = level[a] + 1
                queue.append(b)
    return level


def cascade_depth(dep: nx.DiGraph, components: Iterable[str]) -> int:
    """How many causal steps the farthest reachable component is from ``components``.

    Returns
    -------
    int
        The largest BFS level in the dependency graph (0 when nothing beyond
        the sources is reachable, or no source is known).
    """
    return max(_levels(dep, components).values(), default=0)
