"""The lean path of link cuts (``fluid/cuts.py``, ``fluid/linkstates.py``, the KPI sums of ``fluid/summary.py``)
against the code it replaces, bit for bit.

On real networks of different sizes (Topology Zoo; skipped with a message
when the data is absent), the same scenarios -- single, double and triple
fibre cuts, SRLG-like double cuts at one instant, router failures, cuts that
overload links, and every event type as the ``random`` generator draws them --
go through two fresh twins: as the tier screens now, and with the previous
computation (every segment through ``incremental.fast_segments``, routing
states through ``incremental.moved_paths``, and the KPI sums added densely
over every flow for every segment, as before). Every KPI must be equal, floats
included: the lean path adds the same numbers in the same order.
"""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest
from zoo_data import every_type, near_capacity, zoo_network
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.fluid import FluidTwin, cuts, incremental, linkstates, model
from ani.ns3_scenarios.fluid.incremental import _padded, moved_paths
from ani.ns3_scenarios.fluid.linkstates import Flat
from ani.ns3_scenarios.fluid.network import Recent, RoutingState, Tiered
from ani.ns3_scenarios.fluid.sharing import SegmentResult
from ani.ns3_scenarios.fluid.summary import (
    CONGESTED_UTILISATION,
    IMPACT_DELAY_DELTA_S,
    IMPACT_LOSS_DELTA,
    FluidKpis,
    _impacted_nodes,
)
from ani.ns3_scenarios.templates import get_template

NETWORKS = ["Abilene", "Geant2010", "TataNld", "Deltacom"]


class DenseSums:
    """The previous KPI computation: sums added densely over every flow for every segment, zeros first."""

    def __init__(self, n: int, arcs: int) -> None:
        self.n, self.delivered, self.delay_sum = n, np.zeros(n), np.zeros(n)
        self.dead_s, self.util_s = np.zeros(n), np.zeros(arcs)
        self.drops, self.last_dead = np.zeros(arcs, bool), np.zeros(n, bool)

    def add(self, s: object, res: SegmentResult) -> None:
        dur, n = s.t1 - s.t0, self.n  # type: ignore[attr-defined]
        self.delivered += res.frac[:n] * dur
        self.delay_sum += res.frac[:n] * res.delay[:n] * dur
        self.dead_s += res.dead[:n] * dur
        self.util_s += res.util * dur
        self.drops |= res.drops
        self.last_dead = res.dead[:n]

    def kpis(self, twin: FluidTwin, base: SegmentResult, span: float) -> FluidKpis:
        n, f = self.n, twin.flows
        rate = f.rate[:n]
        c = twin._window(span)
        offered, measurable, sum_offered = c.offered, c.measurable, c.offered_sum
        got = self.delivered * rate
        loss = 1 - np.divide(got, offered, out=np.ones(n), where=offered > 0)
        delay = np.divide(self.delay_sum, self.delivered, out=np.full(n, np.nan), where=self.delivered > 0)
        lost_all = c.b_got_pos & (got * 1 < c.half_packet_bits)
        d_delay = delay - c.b_delay
        slower = (delay > c.slower_than) & (d_delay > IMPACT_DELAY_DELTA_S)
        impacted = measurable & ((loss - c.b_loss > IMPACT_LOSS_DELTA) | slower | lost_all)
        finite = d_delay[np.isfinite(d_delay)]
        disrupted = (self.dead_s > 0) & ~self.last_dead
        outages = self.dead_s[disrupted]
        congestion = np.maximum(0.0, offered - got - self.dead_s * rate).sum()
        util = self.util_s / span
        return FluidKpis(
            flows=n, impacted_flows=int(impacted.sum()), lost_all_flows=int((impacted & lost_all).sum()),
            impacted_nodes=_impacted_nodes(twin, impacted & measurable, c.node_weight, c.node_total),
            mean_delta_delay_s=float(finite.mean()) if len(finite) else None,
            max_delta_delay_s=float(finite.max()) if len(finite) else None,
            baseline_loss_ratio=float(1 - c.b_got_sum / sum_offered) if sum_offered else None,
            scenario_loss_ratio=float(1 - got.sum() / sum_offered) if sum_offered else None,
            baseline_throughput_bps=float(c.b_got_sum / span), scenario_throughput_bps=float(got.sum() / span),
            disrupted_flows=int(disrupted.sum()), unrecovered_flows=int((self.last_dead & c.b_got_pos).sum()),
            reroute_time_median_s=float(np.median(outages)) if len(outages) else None,
            reroute_time_max_s=float(outages.max()) if len(outages) else None,
            convergence_time_s=float(outages.max()) if len(outages) else None,
            congested_links=int(((util >= CONGESTED_UTILISATION) | self.drops).sum()),
            not_measurable_flows=c.not_measurable,
            disconnected_demands=int(self.last_dead.sum()),
            outage_lost_bits=float((self.dead_s * rate).sum()), congestion_lost_bits=float(congestion))


def previous(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route every segment through the previous fast path and sum KPIs densely."""
    monkeypatch.setattr(cuts.Cuts, "covers", staticmethod(lambda phys: False))
    monkeypatch.setattr(model, "_Accumulator", DenseSums)


def cut_scenarios(g: nx.Graph, n: int, seed: int) -> list[Scenario]:
    rng = random.Random(seed)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    routers = [v for v in g if g.degree(v) > 1]
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 3:   # a router failure (the lean path leaves it to the previous one: the same code)
            events = [Event(event_type="router_failure", target=str(rng.choice(routers)), timestamp=1.0)]
        else:
            t, events = 1.0, []
            for target in rng.sample(links, {0: 1, 1: 2, 2: 3, 4: 2}[kind]):
                events.append(Event(event_type="fiber_link_failure", target=target, timestamp=t))
                t += 0.0 if kind == 4 else rng.choice([0.05, 0.3, 0.9])   # kind 4: two links at one instant
        out.append(Scenario(name=f"cut-{i}", events=events))
    return out


def dumped(results: list[object]) -> list[object]:
    return [str(r) if isinstance(r, ScenarioError) else r.model_dump() for r in results]  # type: ignore[attr-defined]


def screen_both(g: nx.Graph, params: dict, found: list[Scenario], monkeypatch: pytest.MonkeyPatch
                ) -> tuple[list[object], list[object]]:
    lean = FluidTwin(g, params)
    assert lean.base_fast is not None and lean.base_fast.ok, "the fast path must be on for this to mean much"
    now = dumped(lean.evaluate_many(found, block=23)) + dumped([lean.evaluate(s) for s in found[:10]])
    with monkeypatch.context() as m:
        previous(m)
        old = FluidTwin(g, params)
        before = dumped(old.evaluate_many(found, block=23)) + dumped([old.evaluate(s) for s in found[:10]])
    return now, before


@pytest.mark.slow
@pytest.mark.parametrize("name", NETWORKS)
def test_link_cuts_score_as_before_bit_for_bit(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    g = zoo_network(name)
    found = cut_scenarios(g, 100, seed=len(g)) + every_type(name, 40, seed=len(g))
    now, before = screen_both(g, get_template("ospf_failure").params({}), found, monkeypatch)
    for s, x, y in zip(found + found[:10], now, before, strict=True):
        assert x == y, f"{name} {s.name} {[(e.event_type.value, e.target) for e in s.events]}"
    assert any(isinstance(x, dict) and x["impacted_flows"] for x in now)  # not a comparison of zeros


@pytest.mark.slow
def test_cuts_that_overload_links_score_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """Busy enough that rerouted traffic overloads links: the proportional sharing on the lean path."""
    g = zoo_network("Geant2010")
    params = near_capacity(g)
    shared = []
    real = incremental._share_hot
    monkeypatch.setattr(incremental, "_share_hot", lambda *a: shared.append(1) or real(*a))
    found = cut_scenarios(g, 200, seed=1)
    now = dumped(FluidTwin(g, params).evaluate_many(found, block=23))
    on_lean_path = len(shared)
    with monkeypatch.context() as m:
        previous(m)
        before = dumped(FluidTwin(g, params).evaluate_many(found, block=23))
    assert now == before
    assert on_lean_path >= 5, "no cut overloaded a link on the lean path: the sharing was not compared"


@pytest.mark.parametrize("name", ["Geant2010", "TataNld"])
def test_link_states_move_the_same_flows_onto_the_same_paths(name: str) -> None:
    """Each state's moved flows, paths, reach and serialisation times, against incremental.moved_paths."""
    g = zoo_network(name)
    params = get_template("ospf_failure").params({})
    lean, old = FluidTwin(g, params), FluidTwin(g, params)
    rng = random.Random(2)
    L = lean.net.L
    sets = [frozenset(rng.sample(range(L), k)) for k in (1, 2, 2, 2, 3, 3, 4) for _ in range(6)]
    for links in sets:
        flat = lean.cuts.states.state(links)
        rs = RoutingState(links_down=links)
        moved, P, R = moved_paths(old, rs)
        assert np.array_equal(flat.flows, moved) and np.array_equal(flat.reached, R), sorted(links)
        assert flat.width == P.shape[1] and np.array_equal(flat.padded(flat.width), P), sorted(links)
        assert np.array_equal(flat.ser, _padded(old, rs, moved, P)[1]), sorted(links)
    assert max(len(lean.cuts.states.state(s).flows) for s in sets) > 0


@pytest.mark.parametrize("name", ["Abilene", "Geant2010", "TataNld"])
def test_states_prepared_together_equal_states_one_at_a_time(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """LinkStates.prepare (walks of several states batched, in groups small enough to split here) gives
    every state's arrays exactly as LinkStates.state computes it alone."""
    g = zoo_network(name)
    params = get_template("ospf_failure").params({})
    together, alone = FluidTwin(g, params), FluidTwin(g, params)
    rng = random.Random(5)
    L = together.net.L
    sets = [frozenset(rng.sample(range(L), k)) for k in (1, 2, 2, 2, 3) for _ in range(8)]
    monkeypatch.setattr(linkstates, "WALK_BATCH", 3 * max(together.net.N, together.net.A) * 8)
    together.cuts.states.prepare(sets[:20])
    together.cuts.states.prepare(sets)          # some cached already, triples left to state()
    assert all(s in together.cuts.states.cache for s in sets if len(s) <= 2)
    walked = 0
    for links in sets:
        a, b = together.cuts.states.state(links), alone.cuts.states.state(links)
        for field in Flat.__slots__:
            x, y = getattr(a, field), getattr(b, field)
            assert (x == y if not isinstance(x, np.ndarray) else np.array_equal(x, y)), (field, sorted(links))
        walked += len(a.flows)
    assert walked > 0


def test_the_lean_paths_queueing_wait_is_the_fast_paths() -> None:
    """Cuts._wait (constants computed once) equals incremental.Base._wait, below, at and above capacity."""
    twin = FluidTwin(zoo_network("Geant2010"), get_template("ospf_failure").params({}))
    cap = twin.net.capacity_bps
    rng = np.random.default_rng(0)
    for load in (rng.uniform(0, 1.5, len(cap)) * cap, cap.copy(), cap * (1 - 1e-10), np.zeros(len(cap))):
        assert np.array_equal(twin.cuts._wait(load), incremental.Base._wait(twin, load))


def test_recent_drops_the_entry_used_longest_ago_and_tiered_keeps_the_shared_ones() -> None:
    r = Recent(2)
    r["a"], r["b"] = 1, 2
    assert r["a"] == 1          # "a" used last: "b" goes first
    r["c"] = 3
    assert list(r) == ["a", "c"]
    t = Tiered(lambda k: len(k) <= 1, 10, 1)
    t["x"], t["yz"], t["uv"] = 1, 2, 3
    assert "x" in t and "uv" in t and "yz" not in t and len(t) == 2
    assert sorted(t.values()) == [1, 3] and t["x"] == 1


@pytest.mark.parametrize("name", ["Geant2010", "TataNld"])
def test_cuts_score_the_same_when_the_recent_caches_hold_one_entry(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments, hops and link states of two links or more dropped as soon as the next arrives (and recomputed
    where needed, also within a block): the KPIs are those of the default caches, floats included."""
    g = zoo_network(name)
    params = get_template("ospf_failure").params({})
    found = cut_scenarios(g, 60, 11)
    default = dumped(FluidTwin(g, params).evaluate_many(found))
    monkeypatch.setattr(model, "RECENT_SEGMENTS", 1)
    monkeypatch.setattr(cuts, "RECENT", 1)
    monkeypatch.setattr(linkstates, "RECENT", 1)
    small = FluidTwin(g, params)
    assert small._segments.few.max_items == small.cuts.hops.few.max_items == small.cuts.states.cache.few.max_items == 1
    assert dumped(small.evaluate_many(found)) == default
    assert dumped(small.evaluate_many(found[::-1])) == default[::-1]
