"""Screening in blocks (:meth:`FluidTwin.evaluate_many`) against one scenario at a time (:meth:`FluidTwin.evaluate`).

On real networks (Topology Zoo; skipped with a message when the data is
absent), the same scenarios -- single and double fibre cuts, and every event
type as the ``random`` generator draws them (degradations, overloads, spikes,
restores, misconfigurations, router failures) -- go through two fresh twins:
one at a time, and in blocks (small blocks here, so a block boundary falls
inside the list and segments repeat across blocks). Counts, node lists and
the damage must be equal; floats to 1e-12 relative (sums over a path may run
in another order). A scenario the tier refuses gives its refusal in place.
"""

from __future__ import annotations

import math
import random

import networkx as nx
import pytest
from zoo_data import every_type, near_capacity, straightforward, zoo_network
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.fluid import FluidKpis, FluidRefusal, FluidTwin
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.evaluate.screen import fluid_damage

NETWORKS = ["Geant2010", "TataNld", "Deltacom"]


def cuts(g: nx.Graph, n: int, seed: int) -> list[Scenario]:
    """Single and double fibre cuts (the second 0-1 s after the first), as the screening benchmark draws them."""
    rng = random.Random(seed)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    out = []
    for i in range(n):
        t, events = 1.0, []
        for target in rng.sample(links, 1 + i % 2):
            events.append(Event(event_type="fiber_link_failure", target=target, timestamp=t))
            t += rng.uniform(0.0, 1.0)
        out.append(Scenario(name=f"cut-{i}", events=events))
    return out


def assert_same(x: FluidKpis | ScenarioError, y: FluidKpis | ScenarioError, what: str, rel: float = 1e-12
                ) -> None:
    if isinstance(x, ScenarioError) or isinstance(y, ScenarioError):
        assert type(x) is type(y) and str(x) == str(y), f"{what}: {x!r} != {y!r}"
        return
    for field, a in x.model_dump().items():
        b = getattr(y, field)
        if isinstance(a, float) and isinstance(b, float):
            assert math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-3), f"{what}: {field} {a} != {b}"
        else:
            assert a == b, f"{what}: {field} {a!r} != {b!r}"
    assert fluid_damage(x)[0] == pytest.approx(fluid_damage(y)[0], rel=rel, abs=rel * 1e-3), what


def one_at_a_time(twin: FluidTwin, scenarios: list[Scenario]) -> list[FluidKpis | ScenarioError]:
    out: list[FluidKpis | ScenarioError] = []
    for s in scenarios:
        try:
            out.append(twin.evaluate(s))
        except ScenarioError as exc:
            out.append(exc)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", NETWORKS)
def test_blocks_equal_one_at_a_time(name: str) -> None:
    g = zoo_network(name)
    params = get_template("ospf_failure").params({})
    found = cuts(g, 80, seed=len(g)) + every_type(name, 80, seed=len(g))
    found.append(Scenario(name="unknown", events=[Event(event_type="fiber_link_failure", target="no-such-link",
                                                        timestamp=1.0)]))
    single, batched = FluidTwin(g, params), FluidTwin(g, params)
    assert single.base_fast is not None and single.base_fast.ok, "the fast path must be on for this to mean much"
    want = one_at_a_time(single, found)
    got = batched.evaluate_many(found, block=23)
    for s, x, y in zip(found, want, got, strict=True):
        assert_same(x, y, f"{name} {s.name} {[(e.event_type.value, e.target) for e in s.events]}")
    assert isinstance(got[-1], FluidRefusal) and "no-such-link" in str(got[-1])
    damages = [fluid_damage(k)[0] for k in got if not isinstance(k, ScenarioError)]
    kinds = {e.event_type for s in found for e in s.events}
    assert max(damages) > 0 and len(kinds) >= 6, (max(damages), kinds)  # not a comparison of zeros


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Geant2010", "TataNld"])
def test_every_event_type_equals_the_straightforward_recomputation(name: str) -> None:
    """Segments outside the fast path (degradations, overloads, spikes with failures) take only the moved
    flows' new paths; a twin with a full SPF and every path walked per routing state gives the same KPIs."""
    g = zoo_network(name)
    params = get_template("ospf_failure").params({})
    found = every_type(name, 120, seed=7)
    full = one_at_a_time(straightforward(g, params), found)
    got = FluidTwin(g, params).evaluate_many(found, block=32)
    compared = 0
    for s, x, y in zip(found, full, got, strict=True):
        if isinstance(x, ScenarioError):
            assert isinstance(y, ScenarioError) and str(x) == str(y)
            continue
        assert_same(y, x, f"{name} {s.name} {[(e.event_type.value, e.target) for e in s.events]}", rel=1e-9)
        compared += 1
    assert compared >= 15, f"only {compared} scenarios the tier models: the comparison would mean little"


@pytest.mark.slow
def test_a_block_scores_the_same_whatever_else_is_in_it() -> None:
    """Bit for bit: a scenario's KPIs do not depend on the other scenarios of its block or their order."""
    g = zoo_network('TataNld')
    params = get_template("ospf_failure").params({})
    found = cuts(g, 60, seed=3)
    a, b = FluidTwin(g, params), FluidTwin(g, params)
    forward = a.evaluate_many(found, block=60)
    backward = b.evaluate_many(found[::-1], block=17)[::-1]
    assert [k.model_dump() for k in forward] == [k.model_dump() for k in backward]


@pytest.mark.slow
def test_blocks_equal_one_at_a_time_when_cuts_overload_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """Busy enough that rerouted traffic overloads links: the proportional sharing of a block's segments."""
    from ani.ns3_scenarios.fluid import incremental

    g = zoo_network('Geant2010')
    params = near_capacity(g)
    single, batched = FluidTwin(g, params), FluidTwin(g, params)
    assert single.base_fast.ok  # below capacity before the cuts
    shared = []
    real = incremental._share_hot
    monkeypatch.setattr(incremental, "_share_hot", lambda *a: shared.append(1) or real(*a))
    found = cuts(g, 200, seed=1)
    want = one_at_a_time(single, found)
    got = batched.evaluate_many(found)
    for s, x, y in zip(found, want, got, strict=True):
        assert_same(x, y, f"busy {s.name}")
    assert len(shared) >= 10, "no cut overloaded a link: the sharing was not compared"
