"""The fluid tier's fast path (incremental routes and segments) against the straightforward recomputation.

On real networks (Topology Zoo; skipped with a message when the data is
absent), every scenario is evaluated twice: by the twin as it screens (the
baseline's routes reused, only the destinations and flows a change touches
recomputed, a state with one more link down started from the cached one,
compact route rows) and by a twin that recomputes everything -- a full SPF to
every destination in every routing state, every flow's path walked, sharing on
all flows. Counts, node lists and the damage must agree exactly; rates, ratios
and delays to 1e-9 (the two add the same numbers in a different order).
"""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np
import pytest
from zoo_data import straightforward, zoo_network
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.fluid import FluidKpis, FluidTwin
from ani.ns3_scenarios.fluid.network import Routes, RoutingState
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.evaluate.screen import fluid_damage

NETWORKS = ["Geant2010", "TataNld", "Deltacom"]


def scenarios(g: nx.Graph, n: int, seed: int) -> list[Scenario]:
    """Single and double cuts (the second inside or after the first's convergence), router failures,
    cost increases, cut-and-restore: the kinds the fast path takes."""
    rng = random.Random(seed)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    routers = [v for v in g if g.degree(v) > 1]
    out = []
    for i in range(n):
        kind = i % 5
        a, b = rng.sample(links, 2)
        t2 = 1.0 + rng.choice([0.05, 0.2, 0.6])
        events = {
            0: [Event(event_type="fiber_link_failure", target=a, timestamp=1.0)],
            1: [Event(event_type="fiber_link_failure", target=a, timestamp=1.0),
                Event(event_type="fiber_link_failure", target=b, timestamp=t2)],
            2: [Event(event_type="router_failure", target=str(rng.choice(routers)), timestamp=1.0)],
            3: [Event(event_type="misconfiguration", target=a, timestamp=1.0, severity="high"),
                Event(event_type="fiber_link_failure", target=b, timestamp=t2)],
            4: [Event(event_type="fiber_link_failure", target=a, timestamp=1.0, duration_s=0.4),
                Event(event_type="fiber_link_failure", target=b, timestamp=t2)],
        }[kind]
        out.append(Scenario(name=f"s{i}", events=events))
    return out


def assert_same(x: FluidKpis, y: FluidKpis, what: str) -> None:
    for field, a in x.model_dump().items():
        b = getattr(y, field)
        if isinstance(a, float) and isinstance(b, float):
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{what}: {field} {a} != {b}"
        else:
            assert a == b, f"{what}: {field} {a!r} != {b!r}"
    assert fluid_damage(x)[0] == pytest.approx(fluid_damage(y)[0], rel=1e-9, abs=1e-12), what


@pytest.mark.slow
@pytest.mark.parametrize("name", NETWORKS)
def test_fast_path_equals_the_straightforward_recomputation(name: str) -> None:
    g = zoo_network(name)
    params = get_template("ospf_failure").params({})
    fast, full = FluidTwin(g, params), straightforward(g, params)
    assert fast.base_fast is not None and fast.base_fast.ok, "the fast path must be on for this test to mean much"
    found = scenarios(g, 60, seed=len(g))
    damages = []
    for s in found:
        k = fast.evaluate(s)
        assert_same(k, full.evaluate(s), f"{name} {s.name} {[(e.event_type.value, e.target) for e in s.events]}")
        damages.append(fluid_damage(k)[0])
    assert max(damages) > 0  # the scenarios do damage: the comparison is not between two zeros


@pytest.mark.slow
def test_a_scenario_scores_the_same_whatever_was_screened_before() -> None:
    """Bit for bit: the caches (which parent state a state starts from) do not change a result."""
    g = zoo_network('TataNld')
    params = get_template("ospf_failure").params({})
    found = scenarios(g, 150, seed=5)
    a, b = FluidTwin(g, params), FluidTwin(g, params)
    forward = [a.evaluate(s) for s in found]
    backward = [b.evaluate(s) for s in reversed(found)][::-1]
    assert [k.model_dump() for k in forward] == [k.model_dump() for k in backward]


def _walk(routes: Routes, src: int, dst: int, head: np.ndarray, n: int) -> tuple[list[int], bool]:
    """One flow's path, hop by hop (the independent computation)."""
    if src == dst:
        return [], True
    if not np.isfinite(routes.dist[dst, src]):
        return [], False
    path, cur = [], src
    while cur != dst and len(path) < n:
        arc = int(routes.nh[dst, cur])
        if arc < 0:
            return path, False
        path.append(arc)
        cur = int(head[arc])
    return path, cur == dst


def test_paths_equal_a_walk_of_the_next_hop_table_flow_by_flow() -> None:
    twin = FluidTwin(zoo_network("Deltacom"), get_template("ospf_failure").params({}))
    net, f = twin.net, twin.flows
    rng = random.Random(1)
    for _ in range(12):
        state = RoutingState(links_down=frozenset(rng.sample(range(net.L), rng.randint(1, 4))))
        routes = net._full(state)
        P, reached = net.paths(routes, f.src, f.dst)
        assert P.shape[1] == int((P >= 0).sum(axis=1).max(initial=0))   # no empty trailing hop
        for i in range(0, len(f.src), 7):
            arcs, ok = _walk(routes, int(f.src[i]), int(f.dst[i]), net.head, net.N)
            assert [int(a) for a in P[i] if a >= 0] == arcs and bool(reached[i]) == ok


@pytest.mark.parametrize("name", ["Abilene", "TataNld", "Ion"])
def test_single_links_flooding_times_in_one_step_equal_each_links_own(name: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The LSA travel time of every single link, computed for a group of links at once (several groups on
    the larger network), equals the median over routers of its own witnesses' times."""
    from ani.ns3_scenarios.events import EventRow
    from ani.ns3_scenarios.fluid import timeline

    twin = FluidTwin(zoo_network(name), get_template("ospf_failure").params({}))
    net, flood = twin.net, twin.flood
    monkeypatch.setattr(timeline, "LSA_ROWS", 40 * net.N)   # groups of 40 links
    grouped: dict[object, float] = {}
    for k in range(net.L):
        row = EventRow(time_s=1.0, event_type="fiber_link_failure", label="x", target_kind="link", targets=[k])
        grouped_value = timeline._lsa(row, net, flood, grouped)
        ends = [net.tail[2 * k], net.head[2 * k]]
        reach = flood[ends].min(axis=0)
        assert grouped_value == float(np.median(reach[np.isfinite(reach)])), k
    assert len(grouped) == net.L
