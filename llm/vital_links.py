"""A static damage proxy for link cuts, for the greedy worst-case generator.

Traffic is the gravity model of :mod:`ani.kg.demands` (router mass = total
capacity of its links, demand ``s -> d`` proportional to ``m_s * m_d``,
normalised to 1 over all connected router pairs of the intact network), each
demand on one shortest path by OSPF cost. The damage of cutting link ``L`` on
the current (already damaged) network is::

    damage(L) = displaced(L) + LOST_WEIGHT * disconnected(L)

``displaced`` is the fraction of traffic that crosses ``L`` (it must reroute)
and ``disconnected`` the fraction that loses its only path (``L`` is a
bridge). No simulation is involved: it is a cheap ranking, not a KPI. On
large graphs only the ``MAX_SOURCES`` heaviest routers are routed from (one
Dijkstra each), so the proxy stays affordable at AS scale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import networkx as nx
from ani.kg.contract import CausalModel
from ani.kg.event_types import RESTORES, of
from ani.kg.scenario import Event, EventType
from ani.llm.base import event
from ani.llm.constraints import GenerationConstraints

LOST_WEIGHT = 10.0
MAX_SOURCES = 200


def _masses(g: nx.Graph) -> dict[str, float]:
    return {n: sum(d["capacity_bps"] for _, _, d in g.edges(n, data=True))
            for n, kind in g.nodes(data="kind") if kind == "router" and g.degree(n) > 0}


def _norm(g: nx.Graph, masses: dict[str, float]) -> float:
    total = 0.0
    for comp in nx.connected_components(g):
        m = [masses[n] for n in comp if n in masses]
        total += sum(m) ** 2 - sum(x * x for x in m)
    return total or 1.0


def _tree_loads(g: nx.Graph, src: str, masses: dict[str, float], scale: float) -> dict[frozenset[str], float]:
    """Traffic of ``src`` per undirected link, on its shortest-path tree (first predecessor on ties)."""
    pred, dist = nx.dijkstra_predecessor_and_distance(g, src, weight="ospf_cost")
    below = {n: masses.get(n, 0.0) * scale for n in dist if n != src}
    loads: dict[frozenset[str], float] = {}
    for n in sorted(below, key=lambda x: (-dist[x], str(x))):
        parent = sorted(pred[n], key=str)[0]
        loads[frozenset((n, parent))] = below[n]
        if parent != src:
            below[parent] += below[n]
    return loads


def _bridge_sides(g: nx.Graph, masses: dict[str, float]) -> dict[tuple[str, str], tuple[float, float]]:
    """For every bridge ``(u, v)`` (u nearer the DFS root), the router mass on each side of it.

    One DFS per connected component: the mass below a bridge's far end is its
    DFS subtree's mass (linear time, no graph copies).
    """
    bridges = set(nx.bridges(g))
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for comp in nx.connected_components(g):
        root = min(comp, key=str)
        total = sum(masses.get(n, 0.0) for n in comp)
        below = {n: masses.get(n, 0.0) for n in comp}
        tree = list(nx.dfs_edges(g, root))
        for parent, child in reversed(tree):
            below[parent] += below[child]
        for parent, child in tree:
            if (parent, child) in bridges or (child, parent) in bridges:
                out[(parent, child)] = (total - below[child], below[child])
    return out


def link_damage(g: nx.Graph, intact: nx.Graph) -> dict[frozenset[str], float]:
    """Damage of cutting each link of ``g`` (normalised on the ``intact`` network's traffic)."""
    masses = _masses(intact)
    norm = _norm(intact, masses)
    damage: dict[frozenset[str], float] = defaultdict(float)
    for src in sorted(masses, key=lambda n: (-masses[n], str(n)))[:MAX_SOURCES]:
        if src in g:
            for link, load in _tree_loads(g, src, masses, masses[src] / norm).items():
                damage[link] += load
    for (u, v), (m_a, m_b) in _bridge_sides(g, masses).items():
        damage[frozenset((u, v))] += LOST_WEIGHT * 2 * m_a * m_b / norm
    return dict(damage)


LINK_FAILURES = frozenset(of("failure", "link"))
STRESS_WEIGHT = 0.5
_LINK_STRESS = frozenset(of("stress", "link"))
_NODE_STRESS = frozenset(of("stress", "router"))


def residual(kg: CausalModel, events: Sequence[Event]) -> nx.Graph:
    """The topology without the links and routers failed by ``events`` (restores put them back)."""
    g = kg.topology.copy()
    ends = {d.get("link_id", f"{u}-{v}"): (u, v) for u, v, d in kg.topology.edges(data=True)}
    for e in events:
        uv = ends.get(e.target) or ends.get("-".join(reversed(e.target.split("-", 1))))
        if uv and e.event_type == EventType.fiber_link_failure and g.has_edge(*uv):
            g.remove_edge(*uv)
        elif uv and e.event_type == EventType.link_restore:
            g.add_edge(*uv, **kg.topology.edges[uv])
        elif e.event_type == EventType.router_failure and e.target in g:
            g.remove_edges_from(list(g.edges(e.target)))
        elif e.event_type == EventType.router_restore and e.target in kg.topology:
            g.add_edges_from((u, v, d) for u, v, d in kg.topology.edges(e.target, data=True))
    return g


def action_damage(kind: EventType, target: str, g: nx.Graph, damage: dict[frozenset[str], float],
                  link_ends: dict[str, tuple[str, str]]) -> float:
    """Damage proxy of one action on the current network ``g``.

    A link cut scores its :func:`link_damage`; degrading or misconfiguring a
    link half of it; a router failure the sum over its links; overloading or
    surging a router half of that. Anything else (an SRLG cut, whose members
    the contract does not expose; restores) scores 0.
    """
    if target in link_ends:
        base = damage.get(frozenset(link_ends[target]), 0.0)
        return base if kind in LINK_FAILURES else STRESS_WEIGHT * base if kind in _LINK_STRESS else 0.0
    if target in g and kind in (EventType.router_failure, *_NODE_STRESS):
        base = sum(damage.get(frozenset((target, nb)), 0.0) for nb in g.neighbors(target))
        return base if kind == EventType.router_failure else STRESS_WEIGHT * base
    return 0.0


def rank_actions(kg: CausalModel, events: Sequence[Event],
                 constraints: GenerationConstraints) -> list[tuple[float, EventType, str]]:
    """Frontier actions after ``events``, most damaging first (ties keep the graph's frontier rank)."""
    g = residual(kg, events)
    damage = link_damage(g, kg.topology)
    ends = {str(d.get("link_id", f"{u}-{v}")): (u, v) for u, v, d in kg.topology.edges(data=True)}
    scored = [(action_damage(k, t, g, damage, ends), k, t)
              for t, kinds in kg.frontier(events).items() for k in kinds if constraints.allows(k)]
    return sorted(scored, key=lambda x: -x[0])


def most_vital_first(kg: CausalModel, first: str, constraints: GenerationConstraints) -> tuple[list[Event], list[str]]:
    """Cut ``first``, then greedily take the most damaging action of the frontier, up to ``max_events``.

    Events are ``max_delay_s / 2`` apart (to the millisecond), the first one
    that long after ``start_s``. Returns the events and a reason for each.
    """
    step = constraints.max_delay_ms / 2000.0
    events = [event(EventType.fiber_link_failure, first, constraints.start_s + step)]
    reasons = ["most vital link of the intact network"]
    while len(events) < constraints.max_events:
        ranked = [r for r in rank_actions(kg, events, constraints) if r[1] not in RESTORES]
        if not ranked:
            break
        score, kind, target = ranked[0]
        events.append(event(kind, target, events[-1].timestamp + step))
        reasons.append(f"most damaging next step of the frontier (proxy {score:.3f})")
    return events, reasons


def vital_links(kg: CausalModel, constraints: GenerationConstraints) -> list[str]:
    """Links that may be cut first, most vital (highest :func:`link_damage`) first."""
    return [t for _, k, t in rank_actions(kg, [], constraints) if k == EventType.fiber_link_failure]
