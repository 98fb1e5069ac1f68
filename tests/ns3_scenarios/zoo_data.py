"""Topology Zoo networks for the fluid tier's tests (skipped with a message where the data is absent), scenarios of
every event type on them, and the reference twin without the fast path."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from ani.kg.io import load_network, open_kg
from ani.kg.scenario import EventType, Scenario
from ani.llm.base import run_generator
from ani.llm.constraints import GenerationConstraints
from ani.llm.registry import get_generator
from ani.ns3_scenarios.fluid import FluidTwin
from ani.ns3_scenarios.fluid.network import Routes, RoutingState
from ani.ns3_scenarios.templates import get_template

ZOO = Path("/work/shared/data/topologyzoo")


def zoo_network(name: str) -> nx.Graph:
    """The Topology Zoo network ``name`` (file stem), or skip the test naming the missing file."""
    path = ZOO / f"{name}.graphml"
    if not path.is_file():
        pytest.skip(f"{path} is absent (Topology Zoo data, see /work/shared/data/README.md)")
    return load_network(str(path))


def every_type(name: str, n: int, seed: int) -> list[Scenario]:
    """``n`` scenarios of 1-3 events of every type the template plays on network ``name`` (the ``random``
    generator)."""
    tmpl = get_template("ospf_failure")
    c = GenerationConstraints(seed=seed, min_events=1, max_events=3,
                              event_types=tuple(EventType(t) for t in tmpl.manifest.events))
    return run_generator(get_generator("random"), open_kg(str(ZOO / f"{name}.graphml")), n, c).scenarios


def straightforward(g: nx.Graph, params: dict) -> FluidTwin:
    """A twin without the fast path: a full SPF per routing state, every flow through the full sharing."""
    twin = FluidTwin(g, params)
    twin.base_fast = None
    net = twin.net

    def full_routes(state: RoutingState, dests: np.ndarray | None = None) -> Routes:
        return net.base if state.is_baseline else net._full(state)

    net.routes = full_routes  # type: ignore[method-assign]
    return twin
