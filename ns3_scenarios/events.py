"""Scenario events as the template executes them: targets resolved, severities made numbers.

Severity → magnitude (the rows' ``magnitude`` in :mod:`ani.kg.event_types`; also in the template README):

==================  =========================================  ====  ======  ====  ========
event type          magnitude (magnitude2)                     low   medium  high  critical
==================  =========================================  ====  ======  ====  ========
link_degradation    loss probability (extra delay, s)          0.01  0.05    0.2   0.5
                                                               (.005 (.02)   (.05) (.1)
misconfiguration    OSPF cost multiplier                       2     5       20    1000
router_overload     CPU capacity left (fraction)               0.8   0.5     0.3   0.1
traffic_spike       attack rate / target's link capacity       0.5   1.0     2.0   4.0
==================  =========================================  ====  ======  ====  ========

An event may give its own ``magnitude`` instead (ranges in
:data:`ani.kg.event_types.MAGNITUDE_RANGES`); ``magnitude2`` still follows the
severity. Failures and restores take no magnitude. ``duration_s`` makes an event revert
by itself (a failure is restored, a degradation ends); a ``traffic_spike``
without one lasts ``DEFAULT_SPIKE_S``.
"""

from __future__ import annotations

import re
from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.demands import Demand
from ani.kg.errors import ScenarioError, UnknownComponentError
from ani.kg.graph_queries import resolve_link, resolve_node
from ani.kg.event_types import LINK_EVENTS, severity_magnitudes
from ani.kg.scenario import Event, EventType

SAFE_LABEL = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
SRLG_PREFIX = "srlg:"
DEFAULT_SPIKE_S = 1.0


class EventRow(BaseModel):
    """One event as the program reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    time_s: float = Field(ge=0)
    event_type: str = Field(pattern=r"^[a-z_]+$")
    magnitude: float = 1.0
    magnitude2: float = 0.0
    duration_s: float = Field(default=0.0, ge=0)
    label: str = Field(pattern=SAFE_LABEL.pattern)
    target_kind: Literal["link", "node"]
    targets: list[int] = Field(min_length=1)


def magnitudes(e: Event) -> tuple[float, float]:
    """(magnitude, magnitude2) of ``e``: from its severity, unless the event gives its own magnitude."""
    magnitude, magnitude2 = severity_magnitudes(e.event_type, e.severity)
    return (float(e.magnitude) if e.magnitude is not None else magnitude), magnitude2


def srlg_links(g: nx.Graph, srlg: str) -> list[str]:
    """Link ids of shared-risk group ``srlg`` (``g.graph["srlgs"]``: id -> link ids)."""
    groups: dict[str, list[str]] = g.graph.get("srlgs", {})
    key = srlg.removeprefix(SRLG_PREFIX)
    if key not in groups:
        raise UnknownComponentError(srlg, "shared-risk group", f"known: {sorted(groups)[:5]}")
    return groups[key]


def _targets(g: nx.Graph, e: Event, link_index: dict[str, int],
             node_index: dict[str, int]) -> tuple[str, Literal["link", "node"], list[int]]:
    if e.event_type == EventType.srlg_cut:
        ids = [g.edges[resolve_link(g, link)]["link_id"] for link in srlg_links(g, e.target)]
        return f"{SRLG_PREFIX}{e.target.removeprefix(SRLG_PREFIX)}", "link", [link_index[i] for i in ids]
    if e.event_type in LINK_EVENTS:
        link_id = g.edges[resolve_link(g, e.target)]["link_id"]
        return link_id, "link", [link_index[link_id]]
    node = resolve_node(g, e.target)
    return node, "node", [node_index[node]]


def event_rows(g: nx.Graph, events: list[Event], supported: list[str],
               node_index: dict[str, int]) -> list[EventRow]:
    """Resolve every event's target(s); raise ScenarioError naming the event when it cannot run."""
    link_index = {d["link_id"]: i for i, (_, _, d) in enumerate(g.edges(data=True))}
    rows = []
    for k, e in enumerate(events):
        if e.event_type.value not in supported:
            raise ScenarioError(f"event {k} ({e.event_type.value} on {e.target}): the template "
                                f"executes only {supported}")
        label, kind, targets = _targets(g, e, link_index, node_index)
        if not SAFE_LABEL.match(label):
            raise ScenarioError(f"event {k}: target {label!r} is not a safe identifier")
        m1, m2 = magnitudes(e)
        duration = e.duration_s or (DEFAULT_SPIKE_S if e.event_type == EventType.traffic_spike else 0.0)
        rows.append(EventRow(time_s=e.timestamp, event_type=e.event_type.value, magnitude=m1,
                             magnitude2=m2, duration_s=duration, label=label, target_kind=kind,
                             targets=targets))
    return rows


def attack_demands(g: nx.Graph, rows: list[EventRow], nodes: list[str],
                   capacity_scale: float) -> list[tuple[Demand, float, float]]:
    """Attack flows of every traffic_spike: (demand, start_s, stop_s).

    Every other router in the target's component sends an equal share of
    ``magnitude`` × the target's total (scaled) link capacity.
    """
    out = []
    for row in (r for r in rows if r.event_type == EventType.traffic_spike.value):
        victim = nodes[row.targets[0]]
        capacity = sum(d["capacity_bps"] for _, _, d in g.edges(victim, data=True)) * capacity_scale
        component = nx.node_connected_component(g, victim)
        # graph order, not set order: set order changes with Python's hash seed, and so would the run
        sources = [n for n in g.nodes if n in component and n != victim and g.nodes[n].get("kind") == "router"]
        for src in sources:
            rate = row.magnitude * capacity / len(sources)
            out.append((Demand(src=src, dst=victim, rate_bps=rate), row.time_s, row.time_s + row.duration_s))
    return out
