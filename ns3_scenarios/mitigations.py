"""Mitigations the twin can apply during a run: the counterfactual half of an experiment.

A mitigation changes the network at ``at_s`` (simulated seconds):

==================  ======  =================================================================
kind                target  effect
==================  ======  =================================================================
``set_cost``        link    the link's OSPF cost becomes ``value``; its ends flood the change
                            and routers reconverge (traffic rerouting / steering)
``scale_capacity``  link    both directions' capacity × ``value`` (capacity reallocation)
``scale_cpu``       router  the router's CPU capacity × ``value`` (needs its CPU model)
``rate_limit``      router  attack flows toward this router are policed at their ingress to
                            ``value`` × their rate (DDoS filtering)
==================  ======  =================================================================

Rollback (restoring a failed component after a repair time) needs no kind of
its own: it is a ``link_restore`` / ``router_restore`` event added to the scenario.
"""

from __future__ import annotations

from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.graph_queries import resolve_link, resolve_node

MitigationKind = Literal["set_cost", "scale_capacity", "scale_cpu", "rate_limit"]
LINK_KINDS = frozenset({"set_cost", "scale_capacity"})


class Mitigation(BaseModel):
    """One change applied by the twin at a given time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MitigationKind
    target: str = Field(min_length=1, max_length=200)
    value: float = Field(gt=0, le=1e6)
    at_s: float = Field(ge=0)


class MitigationRow(BaseModel):
    """A mitigation as the program reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MitigationKind
    time_s: float = Field(ge=0)
    target_kind: Literal["link", "node"]
    target: int = Field(ge=0)
    value: float = Field(gt=0)


def mitigation_rows(g: nx.Graph, mitigations: list[Mitigation]) -> list[MitigationRow]:
    """Resolve targets to indices (UnknownComponentError names an unknown one)."""
    links = {d["link_id"]: i for i, (_, _, d) in enumerate(g.edges(data=True))}
    nodes = {n: i for i, n in enumerate(g.nodes)}
    rows = []
    for m in mitigations:
        if m.kind in LINK_KINDS:
            index, kind = links[g.edges[resolve_link(g, m.target)]["link_id"]], "link"
        else:
            index, kind = nodes[resolve_node(g, m.target)], "node"
        rows.append(MitigationRow(kind=m.kind, time_s=m.at_s, target_kind=kind, target=index, value=m.value))
    return rows
