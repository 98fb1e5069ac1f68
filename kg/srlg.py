"""Shared-risk link groups (SRLGs): conduits, corridors and metros whose links fail together.

An SRLG is a set of links that one physical event (a backhoe in a conduit, a
fire in a carrier hotel) can cut at once. Groups are **declared by hand** (the
``srlgs:`` section of the project YAML format) or **derived from geography**
by :func:`derive_srlgs` with two documented rules, on links whose two ends
have coordinates:

Corridor rule
    Two links share a corridor when at least ``max(corridor_min_km,
    corridor_min_share * length of the shorter link)`` of the shorter link's
    great-circle segment lies within ``corridor_km`` of the other link's
    segment (sampled every ``SAMPLE_KM`` km or finer). Defaults: 25 km, 50 km,
    50 %. Two fibres leaving a city in slightly different directions, or
    crossing once, do not qualify; two long links laid along the same route
    do. Corridor groups are the connected components of this relation, named
    ``srlg:corridor-<k>`` in the order of their first link.
Metro rule
    Nodes within ``metro_km`` (default 20 km) of each other are one metro
    (connected components of the proximity relation). A metro of two or more
    nodes gives the group ``srlg:metro-<first node>``: every link with an end
    in the metro (a city-wide conduit or building event). A single-PoP city
    gives no group: cutting all of one node's links is a router isolation,
    which ``router_failure`` already covers.

Derivation is deterministic (file order of the links) and skips graphs
without coordinates (CAIDA), leaving a note.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import TopologyError
from .topology import EARTH_RADIUS_KM
from .graph_queries import resolve_link

SRLG_PREFIX = "srlg:"
CORRIDOR_KM: float = 25.0
CORRIDOR_MIN_KM: float = 50.0
CORRIDOR_MIN_SHARE: float = 0.5
METRO_KM: float = 20.0
SAMPLE_KM: float = 5.0
MAX_SAMPLES: int = 400

SrlgSource = Literal["declared", "corridor", "metro"]


class Srlg(BaseModel):
    """One shared-risk link group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="component id, prefixed 'srlg:' (added if missing)")
    links: tuple[str, ...] = Field(min_length=1, description="link ids of the members")
    source: SrlgSource = "declared"
    reason: str = ""

    @field_validator("id")
    @classmethod
    def _prefixed(cls, value: str) -> str:
        return value if value.startswith(SRLG_PREFIX) else SRLG_PREFIX + value


def canonical_srlgs(g: nx.Graph, groups: Iterable[Srlg], source: str = "srlgs") -> list[Srlg]:
    """Check each group's links against ``g`` and spell them as canonical link ids.

    Parameters
    ----------
    g : networkx.Graph
        The topology (schema of :mod:`ani.kg.topology`).
    groups : iterable of Srlg
        Groups whose links may use either spelling of a link id.
    source : str
        Names the input in error messages.

    Returns
    -------
    list of Srlg
        The groups, member links canonical and de-duplicated (order kept).

    Raises
    ------
    TopologyError
        On an unknown link or a duplicate group id; the message names both.
    """
    out: list[Srlg] = []
    seen: set[str] = set()
    for grp in groups:
        if grp.id in seen:
            raise TopologyError(source, f"duplicate SRLG id {grp.id!r}")
        seen.add(grp.id)
        links = []
        for lid in grp.links:
            try:
                u, v = resolve_link(g, lid)
            except KeyError as exc:
                raise TopologyError(source, f"SRLG {grp.id!r}: {exc}") from None
            links.append(g.edges[u, v]["link_id"])
        out.append(grp.model_copy(update={"links": tuple(dict.fromkeys(links))}))
    return out


# --- geometry ------------------------------------------------------------------
def _xyz(lat: float, lon: float) -> np.ndarray:
    phi, lam = math.radians(lat), math.radians(lon)
    return np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])


def _slerp(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced on the great-circle arc from ``a`` to ``b`` (ends included)."""
    omega = math.acos(float(np.clip(a @ b, -1.0, 1.0)))
    t = np.linspace(0.0, 1.0, n)[:, None]
    if omega < 1e-12:
        return np.repeat(a[None, :], n, axis=0)
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)


def _distance_to_arc_km(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) from each point to the arc ``a``-``b``."""
    to_ends = np.minimum(np.arccos(np.clip(points @ a, -1, 1)), np.arccos(np.clip(points @ b, -1, 1)))
    normal = np.cross(a, b)
    norm = float(np.linalg.norm(normal))
    if norm < 1e-12:
        return to_ends * EARTH_RADIUS_KM
    normal /= norm
    sin_xt = points @ normal
    foot = points - sin_xt[:, None] * normal
    inside = (np.cross(a, foot) @ normal >= 0) & (np.cross(foot, b) @ normal >= 0)
    cross_track = np.abs(np.arcsin(np.clip(sin_xt, -1, 1)))
    return np.where(inside, cross_track, to_ends) * EARTH_RADIUS_KM


class _Seg:
    """A link with coordinates at both ends, as unit vectors."""

    def __init__(self, link_id: str, a: np.ndarray, b: np.ndarray) -> None:
        self.link_id, self.a, self.b = link_id, a, b
        self.km = math.acos(float(np.clip(a @ b, -1, 1))) * EARTH_RADIUS_KM
        mid = a + b
        self.mid = mid / np.linalg.norm(mid) if np.linalg.norm(mid) > 1e-12 else a


def _segments(g: nx.Graph) -> list[_Seg]:
    segs: list[_Seg] = []
    if not any(d.get("lat") is not None for _, d in g.nodes(data=True)):
        return segs
    for u, v, d in g.edges(data=True):
        nu, nv = g.nodes[u], g.nodes[v]
        if None in (nu.get("lat"), nu.get("lon"), nv.get("lat"), nv.get("lon")):
            continue
        segs.append(_Seg(d["link_id"], _xyz(nu["lat"], nu["lon"]), _xyz(nv["lat"], nv["lon"])))
    return segs


def corridor_overlap_km(short: _Seg, long: _Seg, corridor_km: float = CORRIDOR_KM) -> float:
    """Length (km) of ``short`` that lies within ``corridor_km`` of ``long``."""
    n = int(min(MAX_SAMPLES, max(2, math.ceil(short.km / SAMPLE_KM) + 1)))
    dist = _distance_to_arc_km(_slerp(short.a, short.b, n), long.a, long.b)
    return float(np.mean(dist <= corridor_km)) * short.km


def _candidate_pairs(segs: Sequence[_Seg], corridor_km: float) -> list[tuple[int, int]]:
    """Pairs whose arcs can come within ``corridor_km`` (bound from the midpoints)."""
    mids = np.array([s.mid for s in segs])
    half = np.array([s.km / 2 for s in segs]) / EARTH_RADIUS_KM
    reach = corridor_km / EARTH_RADIUS_KM
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(segs), 512):
        block = np.arccos(np.clip(mids[start:start + 512] @ mids.T, -1, 1))
        bound = half[start:start + 512, None] + half[None, :] + reach
        for i, j in zip(*np.nonzero(block <= bound)):
            if start + i < j:
                pairs.append((start + int(i), int(j)))
    return pairs


def _components(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components (sorted, only those with 2+ members), in order of first member."""
    h = nx.Graph()
    h.add_nodes_from(range(n))
    h.add_edges_from(pairs)
    comps = [sorted(c) for c in nx.connected_components(h) if len(c) > 1]
    return sorted(comps)


def corridor_groups(g: nx.Graph, corridor_km: float = CORRIDOR_KM, min_km: float = CORRIDOR_MIN_KM,
                    min_share: float = CORRIDOR_MIN_SHARE) -> list[Srlg]:
    """SRLGs from the corridor rule (see the module docstring)."""
    segs = _segments(g)
    pairs = []
    for i, j in _candidate_pairs(segs, corridor_km):
        short, long = sorted((segs[i], segs[j]), key=lambda s: s.km)
        need = max(min_km, min_share * short.km)
        if short.km >= need and corridor_overlap_km(short, long, corridor_km) >= need:
            pairs.append((i, j))
    reason = (f"corridor rule: within {corridor_km:g} km of each other for at least "
              f"max({min_km:g} km, {min_share:.0%} of the shorter link)")
    return [Srlg(id=f"corridor-{k}", links=tuple(segs[i].link_id for i in comp), source="corridor", reason=reason)
            for k, comp in enumerate(_components(len(segs), pairs), start=1)]


def metro_groups(g: nx.Graph, metro_km: float = METRO_KM) -> list[Srlg]:
    """SRLGs from the metro rule (see the module docstring)."""
    nodes = [n for n, d in g.nodes(data=True) if d.get("lat") is not None and d.get("lon") is not None]
    if len(nodes) < 2:
        return []
    xyz = np.array([_xyz(g.nodes[n]["lat"], g.nodes[n]["lon"]) for n in nodes])
    limit = math.cos(metro_km / EARTH_RADIUS_KM)
    pairs = [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(xyz @ xyz.T >= limit, k=1)))]
    groups = []
    for comp in _components(len(nodes), pairs):
        members = {nodes[i] for i in comp}
        links = [d["link_id"] for u, v, d in g.edges(data=True) if u in members or v in members]
        if links:
            names = ", ".join(nodes[i] for i in comp)
            groups.append(Srlg(id=f"metro-{nodes[comp[0]]}", links=tuple(links), source="metro",
                               reason=f"metro rule: nodes within {metro_km:g} km of each other ({names})"))
    return groups


def derive_srlgs(g: nx.Graph, *, corridor_km: float = CORRIDOR_KM, corridor_min_km: float = CORRIDOR_MIN_KM,
                 corridor_min_share: float = CORRIDOR_MIN_SHARE, metro_km: float = METRO_KM) -> list[Srlg]:
    """Shared-risk link groups derived from geography.

    Parameters
    ----------
    g : networkx.Graph
        A topology in the schema of :mod:`ani.kg.topology`.
    corridor_km, corridor_min_km, corridor_min_share, metro_km : float
        The parameters of the corridor and metro rules (module docstring).

    Returns
    -------
    list of Srlg
        Corridor groups, then metro groups; a group with the same member set
        as an earlier one is left out. Empty when no node has coordinates.
    """
    out: list[Srlg] = []
    seen: set[frozenset[str]] = set()
    for grp in corridor_groups(g, corridor_km, corridor_min_km, corridor_min_share) + metro_groups(g, metro_km):
        key = frozenset(grp.links)
        if key not in seen:
            seen.add(key)
            out.append(grp)
    return out


def membership(groups: Iterable[Srlg]) -> dict[str, list[str]]:
    """Link id -> ids of the groups it belongs to (in group order)."""
    out: dict[str, list[str]] = {}
    for grp in groups:
        for lid in grp.links:
            out.setdefault(lid, []).append(grp.id)
    return out
