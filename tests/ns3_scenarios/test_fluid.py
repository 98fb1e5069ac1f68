"""The fluid tier against hand-computed cases, its invariants, its refusals, and its fast path."""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np
import pytest
from ani.kg.demands import Demand
from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_topology
from ani.ns3_scenarios.fluid import FluidKpis, FluidRefusal, FluidTwin
from ani.ns3_scenarios.fluid.network import RoutingState
from ani.ns3_scenarios.fluid.timeline import Physical
from ani.ns3_scenarios.templates import get_template

WIRE = 1030 / 1000  # wire bits per payload bit at 1000-byte packets


def params(**over: object) -> dict:
    base = get_template("ospf_failure").params({"auto_size": "false", "warmup_s": "0.5", "observe_s": "1.0",
                                                "capacity_scale": "0.01"})
    return {**base, "probe_interval_s": 0.0, **over}


def graph(edges: list[tuple[str, str]], capacity_bps: float = 1e9, delay_s: float = 0.001) -> nx.Graph:
    g = nx.Graph(name="hand")
    for u, v in edges:
        for n in (u, v):
            g.add_node(n, kind="router")
        g.add_edge(u, v, capacity_bps=capacity_bps, delay_s=delay_s, ospf_cost=1, link_id=f"{u}-{v}")
    return g


def cut(target: str, t: float = 1.0, **kw: object) -> Scenario:
    return Scenario(events=[Event(event_type="fiber_link_failure", target=target, timestamp=t, **kw)])


# ---------------------------------------------------------------------- hand-computed cases

def test_ring_with_one_cut_loses_rate_times_the_convergence_timeline() -> None:
    g = graph([("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")])
    p = params()
    twin = FluidTwin(g, p, demands=[Demand(src="A", dst="B", rate_bps=1e6), Demand(src="C", dst="D", rate_bps=1e6)])
    k = twin.evaluate(cut("A-B"))
    # LSA flooding: median over A, B (0) and C, D (1 ms propagation + 2 ms processing from B or A)
    outage = 0.05 + 0.0015 + 0.2 + 0.05
    span = 2.0 - 0.5
    assert k.scenario_loss_ratio == pytest.approx(outage / span / 2)  # only A->B crossed the cut
    assert k.baseline_loss_ratio == 0
    assert k.impacted_flows == 1 and k.flows == 2 and k.unrecovered_flows == 0
    assert k.reroute_time_max_s == pytest.approx(outage)
    ser = 8 * 1030 / 1e7
    before, after = 0.001 + ser, 3 * (0.001 + ser)   # then A-D-C-B
    rho_wait = lambda rho: rho / (2 * (1 - rho)) * ser
    # C->D shares nothing with A->B before; afterwards D-C carries both (rho = 2 * 1.03e6 / 1e7)
    d_ab = (0.5 * before + (span - 0.5 - outage) * (after + rho_wait(0.103) + rho_wait(0.206) + rho_wait(0.103))) \
        / (span - outage)
    assert k.max_delta_delay_s == pytest.approx(d_ab - before - rho_wait(0.103), rel=0.05)


def test_a_failed_router_disconnects_its_own_demands_for_good() -> None:
    g = graph([("A", "B"), ("B", "C"), ("C", "A")])
    twin = FluidTwin(g, params(), demands=[Demand(src="A", dst="B", rate_bps=1e6)])
    k = twin.evaluate(Scenario(events=[Event(event_type="router_failure", target="B", timestamp=1.0)]))
    assert k.scenario_loss_ratio == pytest.approx(1.0 / 1.5)
    assert k.unrecovered_flows == 1 and k.disconnected_demands == 1


def _bottleneck(sharing: str) -> FluidTwin:
    g = graph([("A", "B"), ("B", "C")])
    g.edges["B", "C"]["capacity_bps"] = 1e9          # 10 Mb/s scaled
    g.edges["A", "B"]["capacity_bps"] = 1e10
    return FluidTwin(g, params(), sharing=sharing,  # type: ignore[arg-type]
                     demands=[Demand(src="A", dst="C", rate_bps=8e6), Demand(src="B", dst="C", rate_bps=4e6)])


def test_bottleneck_max_min_fair() -> None:
    twin = _bottleneck("maxmin")
    cap = 1e7 / WIRE                                  # payload capacity of B->C
    assert twin.base.frac[1] == pytest.approx(1.0)    # 4 Mb/s is below the fair share cap / 2
    assert twin.base.frac[0] * 8e6 == pytest.approx(cap - 4e6)


def test_bottleneck_droptail_proportional() -> None:
    twin = _bottleneck("proportional")
    share = (1e7 / WIRE) / 12e6
    assert twin.base.frac == pytest.approx([share, share])
    assert twin.base.drops.sum() == 1 and twin.base.util.max() == pytest.approx(1.0)


def test_traffic_spike_is_attack_demand_sharing_the_victims_links() -> None:
    g = graph([("A", "B")])
    twin = FluidTwin(g, params(), demands=[Demand(src="A", dst="B", rate_bps=6e6)])
    k = twin.evaluate(Scenario(events=[Event(event_type="traffic_spike", target="B", timestamp=1.0,
                                             severity="low")]))
    # low: 0.5 x B's link capacity (10 Mb/s) from A, the only other router, for DEFAULT_SPIKE_S = 1 s
    s = 1e7 / ((6e6 + 5e6) * WIRE)
    assert k.scenario_loss_ratio == pytest.approx((1 - s) * 1.0 / 1.5)
    assert k.congested_links == 1 and k.impacted_flows == 1


def test_degradation_is_loss_and_delay_misconfiguration_is_a_cost_change() -> None:
    g = graph([("A", "B"), ("B", "C"), ("C", "A")])
    twin = FluidTwin(g, params(), demands=[Demand(src="A", dst="B", rate_bps=1e6)])
    k = twin.evaluate(Scenario(events=[Event(event_type="link_degradation", target="A-B", timestamp=1.0,
                                             severity="high")]))
    assert k.scenario_loss_ratio == pytest.approx(0.2 * 1.0 / 1.5)
    k = twin.evaluate(Scenario(events=[Event(event_type="misconfiguration", target="A-B", timestamp=1.0)]))
    assert k.scenario_loss_ratio == 0 and k.mean_delta_delay_s > 0  # rerouted over C, nothing lost


# ---------------------------------------------------------------------- invariants, fast path, refusals

ABILENE_EVENTS = ["fiber_link_failure", "router_failure", "srlg_cut", "link_degradation", "misconfiguration",
                  "router_overload", "traffic_spike"]


def _random_scenarios(g: nx.Graph, n: int, seed: int = 3) -> list[Scenario]:
    rng = random.Random(seed)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    out = []
    for i in range(n):
        events = []
        for t in sorted(rng.uniform(0.3, 0.8) for _ in range(rng.randint(1, 3))):
            kind = rng.choice(ABILENE_EVENTS)
            target = ("srlg:s1" if kind == "srlg_cut" else rng.choice(links) if kind in
                      ("fiber_link_failure", "link_degradation", "misconfiguration") else rng.choice(list(g)))
            events.append(Event(event_type=kind, target=target, timestamp=t,
                                severity=rng.choice(["low", "medium", "high", "critical"])))
        out.append(Scenario(name=f"r{i}", events=events))
    return out


@pytest.fixture(scope="module")
def abilene() -> nx.Graph:
    g = load_topology("abilene")
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    g.graph["srlgs"] = {"s1": links[:3]}
    return g


def test_invariants_on_random_scenarios(abilene: nx.Graph) -> None:
    twin = FluidTwin(abilene, params())
    for s in _random_scenarios(abilene, 40):
        k = twin.evaluate(s)
        assert 0 <= k.scenario_loss_ratio <= 1 and 0 <= k.baseline_loss_ratio <= 1
        assert k.scenario_throughput_bps <= k.baseline_throughput_bps * (1 + 1e-9) or k.baseline_loss_ratio > 0
        assert 0 <= k.impacted_flows <= k.flows and k.unrecovered_flows <= k.flows
    for res in twin._segments.values():
        assert ((res.frac >= -1e-12) & (res.frac <= 1 + 1e-12)).all()
        assert (res.util <= 1 + 1e-9).all()             # no link direction forwards more than its capacity


def test_link_loads_conserve_the_flows_that_cross_them(abilene: nx.Graph) -> None:
    twin = FluidTwin(abilene, params())
    b = twin.base_fast
    P = b.P
    load = np.zeros(twin.net.A)
    for j in range(P.shape[1]):  # flows' wire rates summed hop by hop
        ok = P[:, j] >= 0
        np.add.at(load, P[ok, j], b.w[ok])
    assert load == pytest.approx(b.load)
    assert twin.base.util == pytest.approx(b.load / twin.net.capacity_bps)


def test_fast_path_equals_the_full_computation(abilene: nx.Graph) -> None:
    fast, full = FluidTwin(abilene, params()), FluidTwin(abilene, params())
    full.base_fast = None
    links = list(range(abilene.number_of_edges()))
    zero = np.zeros(fast.net.N)
    for a in links:
        for b in (a, (a + 5) % len(links)):
            phys = Physical(links_down=frozenset({a, b}))
            for rs in (RoutingState(), RoutingState(links_down=frozenset({a})),
                       RoutingState(links_down=frozenset({a, b}))):
                x, y = fast.segment(phys, rs, zero, None), full.segment(phys, rs, zero, None)
                assert x.frac == pytest.approx(y.frac, abs=1e-9)
                live = y.frac > 0
                assert x.delay[live] == pytest.approx(y.delay[live], rel=1e-6)


def test_refuses_what_it_cannot_model(abilene: nx.Graph) -> None:
    with pytest.raises(FluidRefusal, match="cascades"):
        FluidTwin(abilene, params(cascades=True))
    with pytest.raises(FluidRefusal, match="back-off"):
        FluidTwin(abilene, params(spf_max_hold_s=5.0))
    with pytest.raises(FluidRefusal, match="limit is 6,000 nodes"):
        FluidTwin(nx.path_graph(6001), params())
    twin = FluidTwin(abilene, params())
    with pytest.raises(FluidRefusal, match="Atlantis"):
        twin.evaluate(cut("Atlantis-Denver"))


def test_both_tiers_share_the_headline_kpis_and_their_thresholds() -> None:
    from ani.kg import kpis as shared
    from ani.ns3_scenarios.fluid import model, summary
    from ani.orchestrator.measure import kpis

    for name in ("IMPACT_LOSS_DELTA", "IMPACT_DELAY_RATIO", "IMPACT_DELAY_DELTA_S", "MIN_MEASURABLE_PACKETS",
                 "CONGESTED_UTILISATION", "IMPACTED_NODE_SHARE"):
        assert getattr(summary, name) is getattr(kpis, name) is getattr(shared, name), name
    assert getattr(model, "IMPACT_LOSS_DELTA") is shared.IMPACT_LOSS_DELTA
    head = set(shared.HeadlineKpis.model_fields)
    assert issubclass(FluidKpis, shared.HeadlineKpis) and issubclass(kpis.ScenarioKpis, shared.HeadlineKpis)
    assert set(kpis.ScenarioKpis.model_fields) - head == {"schema_version", "reroute_resolution_s"}
    assert set(FluidKpis.model_fields) - head == {"disconnected_demands", "outage_lost_bits", "congestion_lost_bits"}
    assert math.isclose(WIRE, 1030 / 1000)


def test_ecmp_splits_evenly_over_equal_cost_paths() -> None:
    g = graph([("A", "B"), ("B", "D"), ("A", "C"), ("C", "D")])
    twin = FluidTwin(g, params(ecmp=True), demands=[Demand(src="A", dst="D", rate_bps=4e6)])
    share = twin.base.util * twin.net.capacity_bps / (4e6 * WIRE)
    on = {twin.net.link_ids[a // 2] for a in np.flatnonzero(share > 0)}
    assert on == {"A-B", "B-D", "A-C", "C-D"} and share[share > 0] == pytest.approx([0.5] * 4)
    k = twin.evaluate(cut("A-B"))   # half the flow crossed the cut until reconvergence
    assert k.scenario_loss_ratio == pytest.approx(0.5 * (0.05 + 0.0015 + 0.2 + 0.05) / 1.5, rel=0.02)
