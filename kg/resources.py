"""Router resources: CPU, memory and buffer capacity, with documented defaults.

Public data (Topology Zoo, CAIDA) says nothing about the routers themselves,
so every node gets defaults derived from what the graph does say: its degree
and the capacity of its links. A hand-written network (or the ``resources=``
argument of :func:`ani.kg.model.build_kg`) may declare any of them.

Node attributes written by :func:`assign_resources` (one schema for every node
kind):

``cpu_capacity_bps`` (float)
    Forwarding capacity. Default: the sum of the capacities of the node's
    links (a non-blocking router that forwards at line rate on every port).
``memory_mb`` (float)
    Control-plane memory (RIB/FIB, adjacencies). Default:
    ``BASE_MEMORY_MB + MEMORY_MB_PER_NEIGHBOUR * degree``.
``buffer_bytes`` (float)
    Packet buffer. Default: ``BUFFER_S`` seconds of line rate on every port,
    ``cpu_capacity_bps * BUFFER_S / 8`` (the bandwidth-delay rule of thumb).
``resources_source`` (str)
    ``"default"`` when all three are defaults, ``"declared"`` when all were
    given, ``"mixed"`` otherwise.

An isolated node (degree 0) gets the capacity of one default link
(:data:`ani.kg.topology.DEFAULT_CAPACITY_BPS`) so that no capacity is zero.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from .errors import UnknownComponentError
from .topology import DEFAULT_CAPACITY_BPS

BASE_MEMORY_MB: float = 1024.0
MEMORY_MB_PER_NEIGHBOUR: float = 64.0
BUFFER_S: float = 0.1

RESOURCE_ATTRS: tuple[str, ...] = ("cpu_capacity_bps", "memory_mb", "buffer_bytes")


class Resources(BaseModel):
    """Declared resources of one node; a field left ``None`` takes its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_capacity_bps: float | None = Field(default=None, gt=0, description="forwarding capacity, bit/s")
    memory_mb: float | None = Field(default=None, gt=0, description="control-plane memory, MB")
    buffer_bytes: float | None = Field(default=None, gt=0, description="packet buffer, bytes")


def default_resources(g: nx.Graph, node: str) -> dict[str, float]:
    """The documented defaults of ``node`` (see the module docstring).

    Parameters
    ----------
    g : networkx.Graph
        A graph in the schema of :mod:`ani.kg.topology`.
    node : str
        A node id of ``g``.

    Returns
    -------
    dict
        ``cpu_capacity_bps``, ``memory_mb`` and ``buffer_bytes``.
    """
    capacity = sum(float(d.get("capacity_bps", DEFAULT_CAPACITY_BPS)) for *_, d in g.edges(node, data=True))
    capacity = capacity or DEFAULT_CAPACITY_BPS
    return {
        "cpu_capacity_bps": capacity,
        "memory_mb": BASE_MEMORY_MB + MEMORY_MB_PER_NEIGHBOUR * g.degree(node),
        "buffer_bytes": capacity * BUFFER_S / 8.0,
    }


def _source(previous: str | None, declared: Resources | None) -> str:
    """``resources_source`` after declaring ``declared`` over a node that had ``previous``."""
    if declared is None:
        return previous or "default"
    given = sum(getattr(declared, k) is not None for k in RESOURCE_ATTRS)
    if given == len(RESOURCE_ATTRS):
        return "declared"
    return "mixed" if given or previous in ("declared", "mixed") else previous or "default"


def assign_resources(g: nx.Graph, declared: Mapping[str, Resources] | None = None) -> None:
    """Write the resource attributes onto every node of ``g`` (in place).

    Values already on a node (e.g. read from a project YAML file) are kept;
    ``declared`` wins over both; the rest take the defaults.

    Parameters
    ----------
    g : networkx.Graph
        A graph in the schema of :mod:`ani.kg.topology`; modified in place.
    declared : mapping of str to Resources, optional
        Per node id, the resources to declare.

    Raises
    ------
    UnknownComponentError
        If ``declared`` names a node that ``g`` does not have.
    """
    declared = dict(declared or {})
    for node in declared:
        if node not in g:
            raise UnknownComponentError(str(node), "node", "in the declared resources")
    for node, data in g.nodes(data=True):
        values = default_resources(g, node)
        values.update({k: float(data[k]) for k in RESOURCE_ATTRS if data.get(k) is not None})
        res = declared.get(node)
        if res is not None:
            values.update({k: float(v) for k, v in res.model_dump().items() if v is not None})
        data["resources_source"] = _source(data.get("resources_source"), res)
        data.update(values)
