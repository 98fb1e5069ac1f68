"""Small graphs in the topology schema, and hypothesis strategies for knowledge graphs."""

from __future__ import annotations

import random
from collections.abc import Sequence

import networkx as nx
from hypothesis import strategies as st

from ani.kg.model import KnowledgeGraph, build_kg
from ani.kg.srlg import Srlg
from ani.kg.topology import great_circle_km
from ani.kg.scenario import Event, EventType


def make_graph(nodes: Sequence[tuple[str, float | None, float | None]] | Sequence[str],
               links: Sequence[tuple[str, str] | tuple[str, str, float]], name: str = "t",
               kinds: dict[str, str] | None = None) -> nx.Graph:
    """A graph in the topology schema; ``links`` may carry a capacity in Gb/s."""
    g = nx.Graph(name=name, source="test", notes=[])
    kinds = kinds or {}
    for item in nodes:
        n, lat, lon = (item, None, None) if isinstance(item, str) else item
        g.add_node(n, label=n, zoo_id=n, kind=kinds.get(n, "router"), lat=lat, lon=lon)
    for link in links:
        u, v = link[0], link[1]
        gbps = link[2] if len(link) > 2 else 10.0
        a, b = g.nodes[u], g.nodes[v]
        km = None if None in (a["lat"], b["lat"]) else great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
        delay = 0.001 if km is None else max(km / 204_000.0, 1e-6)
        g.add_edge(u, v, link_id=f"{u}-{v}", capacity_bps=gbps * 1e9, capacity_source="LinkSpeedRaw",
                   delay_s=delay, delay_source="default" if km is None else "great_circle", distance_km=km,
                   ospf_cost=max(1, round(delay / 1e-4)), parallel=1)
    return g


@st.composite
def graphs(draw: st.DrawFn, min_nodes: int = 3, max_nodes: int = 10) -> nx.Graph:
    """Connected graphs with coordinates on most nodes, a few external/hyperedge nodes."""
    n = draw(st.integers(min_nodes, max_nodes))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = random.Random(seed)
    names = [f"N{i}" for i in range(n)]
    nodes = []
    for name in names:
        coords = rng.random() < 0.85
        nodes.append((name, rng.uniform(30, 50) if coords else None, rng.uniform(-120, -70) if coords else None))
    links = {tuple(sorted((names[i], names[rng.randrange(i)]))) for i in range(1, n)}
    for _ in range(draw(st.integers(0, n))):
        a, b = rng.sample(names, 2)
        links.add(tuple(sorted((a, b))))
    kinds = {names[-1]: draw(st.sampled_from(["router", "external", "hyperedge"]))}
    caps = [rng.choice([1.0, 2.5, 10.0]) for _ in links]
    return make_graph(nodes, [(a, b, c) for (a, b), c in zip(sorted(links), caps)], kinds=kinds)


@st.composite
def knowledge_graphs(draw: st.DrawFn) -> KnowledgeGraph:
    """A built knowledge graph with gravity demands (or none) and 0-2 declared SRLGs."""
    g = draw(graphs())
    link_ids = [d["link_id"] for *_, d in g.edges(data=True)]
    groups = []
    for k in range(draw(st.integers(0, 2))):
        members = draw(st.lists(st.sampled_from(link_ids), min_size=1, max_size=4, unique=True))
        groups.append(Srlg(id=f"g{k}", links=tuple(members)))
    demands = draw(st.sampled_from(["gravity", None]))
    return build_kg(g, srlgs=groups, demands=demands)


def walk(kg: KnowledgeGraph, rng: random.Random, steps: int, top: int = 8) -> list[Event]:
    """A causal walk: each event drawn from the frontier of those before it, time non-decreasing."""
    events: list[Event] = []
    t = 1.0
    for _ in range(steps):
        choices = kg.frontier(events)
        if not choices:
            break
        target = rng.choice(list(choices)[:top])
        etype = rng.choice(choices[target])
        t += rng.choice([0.0, 0.5, 1.0]) if events else 0.0
        transient = etype not in (EventType.link_restore, EventType.router_restore) and rng.random() < 0.2
        events.append(Event(event_type=etype, target=target, timestamp=t, duration_s=2.0 if transient else None))
    return events
