"""The non-LLM generators on real Topology Zoo graphs: validity, determinism, their own rules."""

from __future__ import annotations

import pytest

from ani.kg.incidents import IncidentEvent
from ani.kg.model import build_kg
from ani.kg.topology import load_topology
from ani.llm.base import GeneratorError, run_generator
from ani.llm.registry import available, generate, get_generator
from ani.llm.constraints import GenerationConstraints
from ani.llm.vital_links import link_damage, vital_links
from ani.llm.feedback import Feedback, PastScenario
from ani.kg.scenario import Event, EventType, Scenario

VALID_BY_CONSTRUCTION = ("causal-walk", "rule-based", "worst-case", "composer")
C = GenerationConstraints(max_events=4, seed=3)


def _digests(scenarios: list[Scenario]) -> list[str]:
    return [s.digest() for s in scenarios]


def test_registry_lists_every_generator() -> None:
    assert set(available()) >= {"llm", "causal-walk", "rule-based", "random", "replay", "worst-case", "composer"}
    with pytest.raises(GeneratorError, match="unknown generator 'nope'; available: causal-walk"):
        get_generator("nope")


@pytest.mark.parametrize("name", VALID_BY_CONSTRUCTION)
def test_valid_by_construction_on_zoo_graphs(zoo_kgs, name: str) -> None:
    for network, kg in zoo_kgs.items():
        n = 6 if name == "worst-case" else 15
        result = get_generator(name).run(kg, n, C)
        assert result.report.returned == result.report.proposed > 0, network
        assert result.report.valid == result.report.first_try_valid == result.report.proposed, network
        assert result.report.dropped == 0 and not result.rejected, (network, result.rejected[:1])
        for s in result.scenarios:
            assert kg.validate(s) == [], (network, s)
            assert 1 <= len(s.events) <= C.max_events and s.description
            assert s.provenance is not None and s.provenance.generator == name
            assert s.provenance.graph_digest == kg.digest and s.provenance.first_try_valid


@pytest.mark.parametrize("name", [*VALID_BY_CONSTRUCTION, "random"])
def test_deterministic_per_seed(abilene_kg, name: str) -> None:
    a = generate(name, abilene_kg, 8, C)
    b = generate(name, abilene_kg, 8, C)
    assert _digests(a) == _digests(b)
    if name in ("causal-walk", "random", "composer"):
        other = generate(name, abilene_kg, 8, C.model_copy(update={"seed": 4}))
        assert _digests(other) != _digests(a)


def test_random_baseline_is_unconstrained_and_says_so(zoo_kgs) -> None:
    for network, kg in zoo_kgs.items():
        result = get_generator("random").run(kg, 40, C)
        assert result.report.returned == 40, "random keeps what it draws"
        assert result.report.invalid_returned == 40 - result.report.valid
        assert result.report.valid < 20, f"{network}: random should mostly break causal rules"
        assert set(result.report.issue_codes) & {"wrong_kind", "not_reachable"}


def test_causal_walk_builds_multi_step_chains(abilene_kg) -> None:
    scenarios = generate("causal-walk", abilene_kg, 30, GenerationConstraints(min_events=3, max_events=5))
    lengths = [len(s.events) for s in scenarios]
    assert min(lengths) >= 3 and max(lengths) > 3
    for s in scenarios:
        times = [e.timestamp for e in s.events]
        assert all(b > a for a, b in zip(times, times[1:])), "a walk moves time forward at every step"
        assert times[0] > C.start_s


def test_rule_based_covers_bridges_betweenness_srlgs_and_n_minus_1(zoo_kgs) -> None:
    kg = zoo_kgs.get("Deltacom") or next(iter(zoo_kgs.values()))
    scenarios = generate("rule-based", kg, 50, C)
    rules = {s.description.rsplit("rule: ", 1)[1].rstrip(".") for s in scenarios}
    expected = {"betweenness", "n-1 router", "n-1 link"} | ({"srlg"} if kg.srlgs else set())
    assert expected <= rules
    assert all(len(s.events) == 1 for s in scenarios)
    assert len(_digests(scenarios)) == len(set(_digests(scenarios)))


def test_rule_based_respects_event_type_constraints(abilene_kg) -> None:
    only_links = GenerationConstraints(event_types=(EventType.fiber_link_failure,))
    scenarios = generate("rule-based", abilene_kg, 100, only_links)
    assert len(scenarios) == 14  # one per Abilene link, then the rule book runs out
    assert {e.event_type for s in scenarios for e in s.events} == {EventType.fiber_link_failure}


def test_worst_case_starts_from_the_most_vital_links(abilene_kg) -> None:
    damage = link_damage(abilene_kg.topology, abilene_kg.topology)
    ranked = vital_links(abilene_kg, C)
    ends = {d["link_id"]: frozenset((u, v)) for u, v, d in abilene_kg.topology.edges(data=True)}
    scores = [damage[ends[lid]] for lid in ranked]
    assert scores == sorted(scores, reverse=True) and len(ranked) == 14
    scenarios = generate("worst-case", abilene_kg, 3, C)
    assert [s.events[0].target for s in scenarios] == ranked[:3]
    assert all(len(s.events) == C.max_events for s in scenarios), "greedy keeps going while the frontier allows"


def test_worst_case_needs_link_cuts(abilene_kg) -> None:
    with pytest.raises(GeneratorError, match="fiber_link_failure"):
        generate("worst-case", abilene_kg, 1, GenerationConstraints(event_types=(EventType.router_failure,)))


def test_replay_reads_the_graphs_incidents_or_says_it_has_none(abilene_kg) -> None:
    with pytest.raises(GeneratorError, match="no historical incidents"):
        generate("replay", abilene_kg, 3)
    records = [
        IncidentEvent(incident_id="2019-cut", component="Denver-Kansas_City", event_type=EventType.fiber_link_failure,
                      start_s=100.0, end_s=160.0, description="backhoe"),
        IncidentEvent(incident_id="2019-cut", component="Kansas_City", event_type=EventType.router_overload,
                      start_s=101.5),
    ]
    kg = build_kg(load_topology("abilene"), incidents=records)
    result = get_generator("replay").run(kg, 5, C)
    assert result.report.returned == 1
    s = result.scenarios[0]
    assert [(e.event_type, e.target) for e in s.events] == [
        (EventType.fiber_link_failure, "Denver-Kansas_City"), (EventType.router_overload, "Kansas_City"),
        (EventType.link_restore, "Denver-Kansas_City")]
    assert s.name == "incident-2019-cut" and "backhoe" in s.description


def test_replay_of_scenario_files(abilene_kg, tmp_path) -> None:
    path = tmp_path / "old.json"
    path.write_text('[{"event_type": "router_failure", "target": "Denver", "timestamp": 2.0}]')
    scenarios = generate("replay", abilene_kg, 5, incidents=[path])
    assert len(scenarios) == 1 and scenarios[0].events[0].target == "Denver"


def test_composer_combines_parents_with_a_simultaneous_start_and_stress(abilene_kg) -> None:
    result = get_generator("composer").run(abilene_kg, 12, GenerationConstraints(max_events=5, seed=1))
    assert result.report.valid == result.report.returned == 12
    multi = [s for s in result.scenarios if len(s.events) >= 3]
    assert len(multi) >= 8, "the composer should build multi-step scenarios"
    assert any(s.events[0].timestamp == s.events[1].timestamp for s in multi), "simultaneous outages"
    stress = {EventType.traffic_spike, EventType.router_overload}
    assert any(s.events[-1].event_type in stress for s in multi), "stress injected at the peak"
    assert all(len(s.provenance.parents) == 3 for s in result.scenarios)


def test_composer_prefers_the_most_damaging_past_scenarios(abilene_kg) -> None:
    hurt = PastScenario(name="hurt", impact=9.0, kpis={"loss_pct": 12.0},
                        events=[Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City",
                                      timestamp=1.0)])
    mild = PastScenario(name="mild", impact=0.1,
                        events=[Event(event_type=EventType.router_failure, target="Seattle", timestamp=1.0)])
    feedback = Feedback(past=[mild, hurt])
    scenarios = generate("composer", abilene_kg, 10, GenerationConstraints(seed=2), feedback)
    firsts = [s.events[0].target for s in scenarios]
    assert firsts.count("Denver-Kansas_City") > firsts.count("Seattle")
    assert all(abilene_kg.validate(s) == [] for s in scenarios)


def test_a_plain_generator_gets_validated_and_counted(abilene_kg) -> None:
    class Bad:
        name = "bad"

        def generate(self, kg, n, constraints=None, feedback=None):
            return [Scenario(events=[Event(event_type=EventType.router_failure, target="Denver-Kansas_City",
                                           timestamp=1.0)])] * n

    result = run_generator(Bad(), abilene_kg, 2)
    assert result.report.returned == 2 and result.report.valid == 0
    assert result.report.issue_codes == {"wrong_kind": 2}


def test_bridge_sides_match_cutting_each_bridge(zoo_kgs) -> None:
    import networkx as nx

    from ani.llm.vital_links import _bridge_sides, _masses

    for kg in zoo_kgs.values():
        g = kg.topology
        masses = _masses(g)
        sides = _bridge_sides(g, masses)
        assert len(sides) == len(list(nx.bridges(g)))
        for (u, v), (m_u, m_v) in sides.items():
            h = g.copy()
            h.remove_edge(u, v)
            assert m_u == pytest.approx(sum(masses.get(n, 0.0) for n in nx.node_connected_component(h, u)))
            assert m_v == pytest.approx(sum(masses.get(n, 0.0) for n in nx.node_connected_component(h, v)))
