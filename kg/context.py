"""Prompt context: the k-hop neighbourhood of some components, as compact text within a budget.

Format (one line per item, nearest to the focus first, then by damage proxy)::

    network Abilene: 11 nodes, 14 links, 3 SRLGs, 110 demands (kg 3f2a…)
    focus: Denver-Kansas_City (link)
    nodes: id kind util% [down-links]
    Denver router 41%
    links: id capacity delay cost util% [srlgs]
    Denver-Kansas_City 9.95G 2.87ms c29 50% srlg:corridor-1
    srlgs: id source: links
    srlg:corridor-1 corridor: Denver-Kansas_City, Kansas_City-Indianapolis

``util%`` is the offered load over capacity (``-`` without demands). The
neighbourhood shrinks from ``hops`` toward 1 until the whole of it fits
``budget_chars``; if even 1 hop does not fit (a hub), the focus and its
best-ranked neighbours are kept, lines are cut and the last line says how
many were left out. The result never exceeds the budget
(a budget below ~80 characters may leave only the header, cut).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import networkx as nx

from .demands import Demand
from .srlg import Srlg


class ContextGraph(Protocol):
    """What the prompt context needs of a knowledge graph (``KnowledgeGraph`` implements it)."""

    topology: nx.Graph
    srlgs: Sequence[Srlg]
    demands: Sequence[Demand]

    @property
    def digest(self) -> str: ...

    def resolve(self, component: str) -> str: ...

    def kind(self, component: str) -> str: ...

    def ends(self, link: str) -> tuple[str, str]: ...

    def score(self, component: str) -> float: ...

    def srlg_links(self, srlg: str) -> tuple[str, ...]: ...

    def srlgs_of(self, link: str) -> list[str]: ...

DEFAULT_HOPS = 2


def _si(bps: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.3g}{unit}"
    return f"{bps:.3g}"


def _util(data: dict) -> str:
    u = data.get("utilization")
    return "-" if u is None else f"{100 * u:.0f}%"


def _focus_nodes(kg: ContextGraph, comps: list[str]) -> set[str]:
    nodes: set[str] = set()
    for c in comps:
        kind = kg.kind(c)
        if kind == "link":
            nodes.update(kg.ends(c))
        elif kind == "srlg":
            for lid in kg.srlg_links(c):
                nodes.update(kg.ends(lid))
        else:
            nodes.add(c)
    return nodes


def _distances(kg: ContextGraph, start: set[str], hops: int) -> dict[str, int]:
    dist = {n: 0 for n in start}
    frontier = list(start)
    for level in range(1, hops + 1):
        nxt = []
        for a in frontier:
            for b in kg.topology.adj[a]:
                if b not in dist:
                    dist[b] = level
                    nxt.append(b)
        frontier = nxt
    return dist


def _lines(kg: ContextGraph, comps: list[str], dist: dict[str, int]) -> list[str]:
    g = kg.topology
    by_rank = sorted(dist, key=lambda n: (dist[n], -kg.score(n), n))
    out = ["nodes: id kind util%"]
    out += [f"{n} {g.nodes[n]['kind']} {_util(g.nodes[n])}" for n in by_rank]
    links = {d["link_id"]: (max(dist[u], dist[v]), d) for u, v, d in g.edges(by_rank, data=True)
             if u in dist and v in dist}
    out.append("links: id capacity delay cost util% [srlgs]")
    for lid in sorted(links, key=lambda x: (links[x][0], -kg.score(x), x)):
        d = links[lid][1]
        groups = " ".join(kg.srlgs_of(lid))
        out.append(f"{lid} {_si(d['capacity_bps'])} {1e3 * d['delay_s']:.3g}ms c{d['ospf_cost']} {_util(d)}"
                   + (f" {groups}" if groups else ""))
    groups = [s for s in kg.srlgs if s.id in comps or any(lid in links for lid in s.links)]
    if groups:
        out.append("srlgs: id source: links")
        out += [f"{s.id} {s.source}: {', '.join(s.links)}" for s in groups]
    return out


def _header(kg: ContextGraph, comps: list[str]) -> list[str]:
    g = kg.topology
    head = (f"network {g.graph.get('name', '')}: {g.number_of_nodes()} nodes, {g.number_of_edges()} links, "
            f"{len(kg.srlgs)} SRLGs, {len(kg.demands)} demands (kg {kg.digest})")
    return [head, "focus: " + ", ".join(f"{c} ({kg.kind(c)})" for c in comps)]


def _fit(lines: list[str], budget: int) -> str:
    text = "\n".join(lines)
    if len(text) <= budget:
        return text
    kept: list[str] = []
    for i, line in enumerate(lines):
        more = f"... {len(lines) - i} more lines"
        if len("\n".join([*kept, line, more])) > budget:
            tail = "\n".join([*kept, more])
            return tail if len(tail) <= budget else "\n".join(kept)[:budget]
        kept.append(line)
    return "\n".join(kept)


def context(kg: ContextGraph, components: Iterable[str], budget_chars: int = 4000,
            hops: int = DEFAULT_HOPS) -> str:
    """Compact text of the ``hops``-hop neighbourhood of ``components``, at most ``budget_chars`` long.

    Parameters
    ----------
    kg : KnowledgeGraph
        The graph.
    components : iterable of str
        Component ids (nodes, links in either spelling, SRLGs).
    budget_chars : int
        Hard limit on the length of the text.
    hops : int
        Largest neighbourhood tried (in topology hops from the focus nodes).

    Returns
    -------
    str
        The format of the module docstring.

    Raises
    ------
    UnknownComponentError
        If a component is unknown.
    """
    comps = list(dict.fromkeys(kg.resolve(c) for c in components))
    start = _focus_nodes(kg, comps)
    head = _header(kg, comps)
    for k in range(max(hops, 0), 0, -1):
        dist = _distances(kg, start, k)
        if 12 * len(dist) > budget_chars:  # at least ~12 characters per node line: cannot fit
            continue
        lines = head + _lines(kg, comps, dist)
        if len("\n".join(lines)) <= budget_chars:
            return "\n".join(lines)
    dist = _distances(kg, start, min(hops, 1))
    keep = sorted(dist, key=lambda n: (dist[n], -kg.score(n), n))[:max(len(start), budget_chars // 40)]
    lines = head + _lines(kg, comps, {n: dist[n] for n in keep})
    if len(keep) < len(dist):
        lines.append(f"... {len(dist) - len(keep)} more neighbours left out")
    return _fit(lines, budget_chars)
