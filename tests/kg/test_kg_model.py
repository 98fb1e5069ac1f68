"""KnowledgeGraph and build_kg: layers, the causal rules, validation on hand-made graphs."""

from __future__ import annotations

import pytest
from kg_graphs import make_graph

from ani.kg.contract import CausalModel
from ani.kg.demands import Demand
from ani.kg.errors import TopologyError, UnknownComponentError
from ani.kg.incidents import IncidentEvent
from ani.kg.model import build_kg
from ani.kg.resources import BASE_MEMORY_MB, BUFFER_S, MEMORY_MB_PER_NEIGHBOUR, Resources
from ani.kg.srlg import Srlg
from ani.kg.topology import abilene
from ani.kg.validate import check
from ani.kg.scenario import Event, EventType, Scenario

E = EventType
# A square A-B-C-D with a peer P on A and a hyperedge H on C.
NODES = [("A", 40.0, -105.0), ("B", 40.0, -95.0), ("C", 35.0, -95.0), ("D", 35.0, -105.0), ("P", 41.0, -106.0),
         ("H", 34.0, -94.0)]
LINKS = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("A", "P"), ("C", "H")]


def square(**kw):  # type: ignore[no-untyped-def]
    g = make_graph(NODES, LINKS, name="square", kinds={"P": "external", "H": "hyperedge"})
    kw.setdefault("srlgs", [Srlg(id="duct", links=("A-B", "C-D"))])
    kw.setdefault("derive_srlgs", False)
    return build_kg(g, **kw)


def ev(t: EventType, target: str, at: float = 1.0, **kw) -> Event:  # type: ignore[no-untyped-def]
    return Event(event_type=t, target=target, timestamp=at, **kw)


def codes(kg, *events: Event) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(i.code, i.event_index) for i in kg.validate(Scenario(events=list(events)))]


def test_implements_the_contract_and_lists_components() -> None:
    kg = square()
    assert isinstance(kg, CausalModel)
    links = [d["link_id"] for *_, d in kg.topology.edges(data=True)]
    assert kg.components() == ["A", "B", "C", "D", "P", "H", *links, "srlg:duct"] == square().components()
    assert sorted(links) == sorted(f"{u}-{v}" for u, v in LINKS)
    assert [kg.kind(c) for c in ("A", "P", "H", "B-A", "srlg:duct")] == ["router", "external", "hyperedge", "link",
                                                                          "srlg"]
    assert kg.applicable("H") == [E.router_failure, E.router_restore]
    assert kg.applicable("P") == [E.router_failure, E.traffic_spike, E.router_restore]
    assert kg.applicable("srlg:duct") == [E.srlg_cut]
    assert kg.roots() == kg.components()
    with pytest.raises(UnknownComponentError, match="close matches: A-B"):
        kg.kind("A-Bx")
    with pytest.raises(KeyError):
        kg.kind("nowhere")


def test_link_failure_frontier() -> None:
    kg = square()
    f = kg.frontier([ev(E.fiber_link_failure, "B-A")])
    assert f["A"] == [E.router_overload] and f["B"] == [E.router_overload]  # endpoint
    assert f["srlg:duct"] == [E.srlg_cut]  # shared_risk
    assert f["C-D"] == [E.fiber_link_failure, E.link_degradation]  # at-risk sibling (member) + reroute detour
    assert f["D-A"] == [E.link_degradation] and f["B-C"] == [E.link_degradation]  # reroute onto the detour
    assert list(f)[-1] == "A-B" and f["A-B"] == [E.link_restore]  # restores last
    assert "P" not in f and "A-P" not in f


def test_router_failure_takes_its_links_down() -> None:
    kg = square()
    f = kg.frontier([ev(E.router_failure, "B")])
    assert f["B"] == [E.router_restore]
    assert "A-B" not in f and "B-C" not in f  # down with B: no event on them
    assert f["A"] == [E.router_overload] and f["C"] == [E.router_overload]
    assert codes(kg, ev(E.router_failure, "B"), ev(E.link_restore, "A-B", 2)) == [("restore_without_failure", 1)]
    assert codes(kg, ev(E.router_failure, "B"), ev(E.router_overload, "B", 2)) == [("not_reachable", 1)]
    assert codes(kg, ev(E.router_failure, "B"), ev(E.router_restore, "B", 2)) == []


def test_srlg_cut_fails_members_and_restores_them_one_by_one() -> None:
    kg = square()
    cut = ev(E.srlg_cut, "srlg:duct")
    f = kg.frontier([cut])
    assert f["A-B"] == [E.link_restore] and f["C-D"] == [E.link_restore]
    assert {"A", "B", "C", "D"} <= set(f)
    restored = [cut, ev(E.link_restore, "A-B", 2)]
    assert codes(kg, *restored) == []
    assert "A-B" not in kg.frontier(restored) or E.link_restore not in kg.frontier(restored)["A-B"]
    assert codes(kg, *restored, ev(E.srlg_cut, "srlg:duct", 3)) == [("duplicate", 2)]


def test_overload_escalates_and_spike_loads_the_paths() -> None:
    kg = square()
    f = kg.frontier([ev(E.router_overload, "C")])
    assert f["C"] == [E.router_failure, E.router_restore]
    assert f["B-C"] == [E.link_degradation] and f["C-H"] == [E.link_degradation]
    spike = kg.frontier([ev(E.traffic_spike, "A")])
    assert E.router_overload in spike["A"]
    assert spike["C"] == [E.router_overload]  # C forwards or receives A's demands
    assert spike["B-C"] == [E.link_degradation]  # on A's paths, not attached to A


def test_time_transients_roots_and_ranking() -> None:
    kg = square()
    slow = ev(E.link_degradation, "A-B", 1.0, duration_s=1.0)
    assert codes(kg, slow, ev(E.link_degradation, "A-B", 1.5)) == [("duplicate", 1)]
    assert codes(kg, slow, ev(E.link_degradation, "A-B", 5.0)) == [("not_reachable", 1)]
    assert codes(kg, ev(E.router_failure, "B"), ev(E.fiber_link_failure, "C-H")) == []  # two roots at t0
    assert codes(kg, ev(E.router_failure, "B"), ev(E.fiber_link_failure, "C-H", 2)) == [("not_reachable", 1)]
    f = kg.frontier([])
    scores = [kg.score(c) for c in f]
    assert scores == sorted(scores, reverse=True)
    assert all(E.link_restore not in t and E.router_restore not in t for t in f.values())


def test_restricted_roots() -> None:
    kg = square(roots=["B-A"])
    assert kg.roots() == ["A-B"] and list(kg.frontier([])) == ["A-B"]
    assert codes(kg, ev(E.router_failure, "D")) == [("not_reachable", 0)]
    with pytest.raises(UnknownComponentError):
        square(roots=["Z"])


def test_check_reports_causal_depth() -> None:
    kg = square()
    events = [ev(E.fiber_link_failure, "A-B"), ev(E.router_overload, "A", 2), ev(E.router_failure, "A", 3),
              ev(E.router_restore, "A", 4)]
    report = check(Scenario(events=events), kg)
    assert report.issues == []
    assert report.depths == [1, 2, 3, 1] and report.cascade_depth == 3
    assert report.causes[2] == [1]


def test_resources_defaults_and_declared() -> None:
    kg = square(resources={"B": Resources(memory_mb=4096.0)})
    a = kg.topology.nodes["A"]
    assert a["cpu_capacity_bps"] == pytest.approx(3 * 10e9)
    assert a["memory_mb"] == BASE_MEMORY_MB + 3 * MEMORY_MB_PER_NEIGHBOUR
    assert a["buffer_bytes"] == pytest.approx(3 * 10e9 * BUFFER_S / 8)
    assert a["resources_source"] == "default"
    assert kg.topology.nodes["B"]["memory_mb"] == 4096.0 and kg.topology.nodes["B"]["resources_source"] == "mixed"
    with pytest.raises(UnknownComponentError):
        square(resources={"Z": Resources()})


def test_demand_layer_and_digest() -> None:
    kg = square()
    assert len(kg.demands) == 4 * 3  # routers only
    busiest = max(d["utilization"] for *_, d in kg.topology.edges(data=True))
    assert busiest == pytest.approx(0.5)
    flat = build_kg(make_graph(["A", "B", "C", "D"], LINKS[:4]))  # no coordinates: equal costs
    assert flat.route("A", "C").links == pytest.approx({"A-B": 0.5, "B-C": 0.5, "D-A": 0.5, "C-D": 0.5})
    assert flat.route("A", "C").nodes == pytest.approx({"A": 1.0, "B": 0.5, "D": 0.5, "C": 1.0})
    assert kg.digest == square().digest
    assert kg.digest != square(demands=None).digest != square(srlgs=[]).digest
    fixed = build_kg(make_graph(["A", "B", "C", "D"], LINKS[:4]), demands=[Demand(src="A", dst="C", rate_bps=1e9)])
    assert fixed.topology.nodes["B"]["load_bps"] == pytest.approx(0.5e9)
    assert fixed.topology.edges["A", "B"]["utilization"] == pytest.approx(0.05)
    with pytest.raises(UnknownComponentError):
        square(demands=[Demand(src="A", dst="Q", rate_bps=1.0)])
    with pytest.raises(TopologyError, match="same source"):
        square(demands=[Demand(src="A", dst="A", rate_bps=1.0)])


def test_incidents_add_historical_edges() -> None:
    hist = [IncidentEvent(incident_id="i1", component="A-P", event_type=E.fiber_link_failure, start_s=0.0),
            IncidentEvent(incident_id="i1", component="C-H", event_type=E.fiber_link_failure, start_s=60.0)]
    kg = square(incidents=hist)
    assert "historical" in kg.dependency.edges["A-P", "C-H"]["relations"]
    assert kg.frontier([ev(E.fiber_link_failure, "A-P")])["C-H"][0] == E.fiber_link_failure
    with pytest.raises(UnknownComponentError, match="incident"):
        square(incidents=[hist[0].model_copy(update={"component": "Q-R"})])


def test_abilene_fiber_cut_is_a_valid_root() -> None:
    kg = build_kg(abilene())
    assert kg.validate(Scenario(events=[ev(E.fiber_link_failure, "Kansas_City-Denver")])) == []
    assert kg.cascade_depth(["Denver-Kansas_City"]) >= 2
    assert kg.notes and kg.counts()["link"] == 14


def test_demands_through_components() -> None:
    flat = build_kg(make_graph(["A", "B", "C", "D"], LINKS[:4]), srlgs=[Srlg(id="s", links=("A-B",))])
    through_ab = {(d.src, d.dst) for d in flat.demands_through("B-A")}
    assert through_ab == {("A", "B"), ("B", "A"), ("A", "C"), ("C", "A"), ("B", "D"), ("D", "B")}
    assert {(d.src, d.dst) for d in flat.demands_through("srlg:s")} == through_ab
    assert {(d.src, d.dst) for d in flat.demands_through("B")} == {
        (s, d) for s in "ABCD" for d in "ABCD" if s != d and ("B" in (s, d) or {s, d} == {"A", "C"})}
    for d in flat.demands:
        route = flat.route(d.src, d.dst)
        assert (d in flat.demands_through("A-B")) == ("A-B" in route.links)


def test_a_transient_failure_ends_but_stays_a_cause() -> None:
    kg = square()
    flap = ev(E.router_failure, "B", 1.0, duration_s=1.0)
    root = ev(E.fiber_link_failure, "C-H", 1.0)
    assert codes(kg, flap, root, ev(E.router_overload, "B", 1.5)) == [("not_reachable", 2)]  # still down
    assert codes(kg, flap, root, ev(E.router_overload, "B", 5.0)) == []  # up again; its links' failure causes it
    assert codes(kg, flap, ev(E.router_restore, "B", 1.5)) == [("restore_without_failure", 1)]
    assert "B" not in kg.frontier([flap, root]) or E.router_restore not in kg.frontier([flap, root])["B"]
