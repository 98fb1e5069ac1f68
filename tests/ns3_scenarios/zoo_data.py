"""Topology Zoo networks for the fluid tier's tests (skipped with a message where the data is absent), scenarios of
every event type on them, and the reference twin without the fast path."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from ani.kg.io import load_network, open_kg
from ani.kg.scenario import EventType, Scenario
from ani.kg.validate import validate
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
    """``n`` valid scenarios of 1-3 events of the types the template plays on network ``name``: half the
    ``random`` generator's draws that the validator accepts (as a loop would simulate them; four in five of
    its draws target a component of the wrong kind, which the tier refuses: other tests check refusals),
    mostly single events, and half ``causal-walk``'s chains of 1-3 events."""
    tmpl = get_template("ospf_failure")
    kg = open_kg(str(ZOO / f"{name}.graphml"))
    types = tuple(EventType(t) for t in tmpl.manifest.events)
    drawn: list[Scenario] = []
    for k in range(20):
        c = GenerationConstraints(seed=seed + 1000 * k, min_events=1, max_events=3, event_types=types)
        drawn += [s.model_copy(update={"name": f"{s.name}-{k}"})
                  for s in run_generator(get_generator("random"), kg, 4 * n, c).scenarios if not validate(s, kg)]
        if len(drawn) >= n - n // 2:
            break
    c = GenerationConstraints(seed=seed, min_events=1, max_events=3, event_types=types)
    chains = run_generator(get_generator("causal-walk"), kg, n // 2, c).scenarios
    return drawn[:n - n // 2] + chains


def near_capacity(g: nx.Graph, share: float = 0.97) -> dict:
    """The template's auto-sized parameters on ``g`` with the traffic scaled so the busiest link direction
    carries ``share`` of its capacity before any failure (a cut's rerouted traffic then overloads links)."""
    auto = FluidTwin(g, get_template("ospf_failure").params({}))
    busiest = float((auto.base_fast.load / auto.net.capacity_bps).max())
    return {**auto.params, "auto_size": False, "load_factor": float(auto.params["load_factor"]) / busiest * share}


def straightforward(g: nx.Graph, params: dict) -> FluidTwin:
    """A twin without the fast path: a full SPF per routing state, every flow through the full sharing."""
    twin = FluidTwin(g, params)
    twin.base_fast = None
    net = twin.net

    def full_routes(state: RoutingState, dests: np.ndarray | None = None) -> Routes:
        return net.base if state.is_baseline else net._full(state)

    net.routes = full_routes  # type: ignore[method-assign]
    return twin
