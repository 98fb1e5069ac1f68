"""The mitigation engine: damage, effectiveness, strategies, and counterfactual re-runs in the real twin."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from loop_helpers import SHORT

from ani.kg.model import build_kg
from ani.kg.topology import load_topology
from ani.kg.scenario import Event, EventType, Scenario
from ani.ns3_scenarios.mitigations import Mitigation
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.measure.kpis import ScenarioKpis
from ani.orchestrator.execute.cached_runner import CachedRunner
from ani.orchestrator.loop.closed_loop import LOOP_DEFAULTS
from ani.orchestrator.loop.feedback import render_graph
from ani.orchestrator.measure.damage import damage, damage_terms, improvements, relative_improvement
from ani.orchestrator.loop.mitigate import (MitigationCandidate, MitigationError, RateLimitStrategy,
                                            evaluate_mitigations, get_strategies, mitigated_scenario)
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import attach_comparison
from ani.ns3_scenarios.render import render_pair


def kpis(**kw: object) -> ScenarioKpis:
    base = dict(flows=100, impacted_flows=0, lost_all_flows=0, impacted_nodes=[], mean_delta_delay_s=0.0,
                max_delta_delay_s=0.0, baseline_loss_ratio=0.0, scenario_loss_ratio=0.0,
                baseline_throughput_bps=1e6, scenario_throughput_bps=1e6, disrupted_flows=0, unrecovered_flows=0,
                reroute_time_median_s=None, reroute_time_max_s=None, convergence_time_s=None, congested_links=0)
    return ScenarioKpis(**{**base, **kw})


def test_damage_is_lost_traffic_plus_impacted_share_plus_normalised_delay() -> None:
    assert damage(kpis()) == 0.0
    k = kpis(impacted_flows=40, baseline_loss_ratio=0.01, scenario_loss_ratio=0.11, mean_delta_delay_s=0.010)
    terms = damage_terms(k)
    assert terms == pytest.approx({"lost_traffic": 0.10, "impacted_share": 0.40, "delay_term": 0.20})
    assert damage(k) == pytest.approx(0.70)
    worst = kpis(impacted_flows=100, scenario_loss_ratio=1.0, mean_delta_delay_s=5.0)
    assert damage(worst) == pytest.approx(3.0)
    assert damage(kpis(scenario_loss_ratio=None, mean_delta_delay_s=-0.002)) == 0.0  # undefined / faster = no damage


def test_effectiveness_is_relative_improvement_and_undefined_without_damage() -> None:
    assert relative_improvement(0.8, 0.2) == pytest.approx(0.75)
    assert relative_improvement(0.5, 1.0) == pytest.approx(-1.0)
    assert math.isnan(relative_improvement(0.0, 0.0))
    before = kpis(impacted_flows=40, scenario_loss_ratio=0.2, congested_links=4, reroute_time_max_s=0.3)
    after = kpis(impacted_flows=10, scenario_loss_ratio=0.05, congested_links=4, reroute_time_max_s=0.3)
    imp = improvements(before, after)
    assert imp["impacted_flows"] == pytest.approx(0.75) and imp["loss"] == pytest.approx(0.75)
    assert imp["congested_links"] == 0.0 and imp["reroute_time"] == 0.0 and math.isnan(imp["delay"])


def test_restore_events_are_merged_in_time_order_and_names_are_content_addressed() -> None:
    s = Scenario(name="x", events=[Event(event_type="fiber_link_failure", target="Denver-Kansas_City", timestamp=0.3),
                                   Event(event_type="router_overload", target="Chicago", timestamp=0.9)])
    cand = MitigationCandidate(name="rollback", strategy="rollback",
                     restore_events=[Event(event_type="link_restore", target="Denver-Kansas_City", timestamp=0.6)])
    m = mitigated_scenario(s, cand)
    assert [e.timestamp for e in m.events] == [0.3, 0.6, 0.9]
    assert m.name == f"m-{s.digest()}-rollback"


def test_strategies_are_plugins_by_name() -> None:
    names = [s.name for s in get_strategies(["reroute", "capacity", "rate_limit", "rollback", "null"])]
    assert names == ["reroute", "capacity", "rate_limit", "rollback", "null"]
    with pytest.raises(MitigationError, match="unknown mitigation strategy 'teleport'.*reroute"):
        get_strategies(["teleport"])
    kg = build_kg(load_topology("abilene"))
    spike = Scenario(events=[Event(event_type="traffic_spike", target="Denver", timestamp=0.3)])
    fake = RunRecord(run_id="x", status="ok", returncode=0, folder="/nonexistent", template="t", template_digest="d",
                     ns3_version="v", graph_name="g", graph_digest="d", scenario_name="s", scenario_digest="d",
                     seed=1, wall_s=0.0, repro_cmd="")
    (cand,) = RateLimitStrategy(reaction_s=0.05).propose(kg, spike, fake)
    assert cand.mitigations == [Mitigation(kind="rate_limit", target="Denver", value=0.1, at_s=0.35)]
    assert RateLimitStrategy().propose(kg, Scenario(events=[]), fake) == []


@pytest.fixture(scope="module")
def twin(loop_results: Path):
    """Knowledge graph, render graph, template, parameters and a runner on Abilene (short runs)."""
    topology = load_topology("abilene")
    kg = build_kg(topology)
    template = get_template("ospf_failure")
    params = template.params({**LOOP_DEFAULTS, **SHORT, "observe_s": 1.0})
    runner = CachedRunner(loop_results, workers=2)
    yield kg, render_graph(topology, kg), template, params, runner
    runner.close()


def unmitigated(twin, scenario: Scenario) -> tuple[RunRecord, RunRecord, ScenarioKpis]:
    kg, g, template, params, runner = twin
    spec, base = render_pair(template, scenario, g, params)
    rec, brec = runner([spec, base])
    assert rec.status == brec.status == "ok", rec.stderr_tail
    rec = attach_comparison(rec, brec)
    return rec, brec, ScenarioKpis.model_validate(rec.comparison)


@pytest.mark.ns3
@pytest.mark.slow
def test_steering_off_a_gray_link_removes_the_cause_and_a_placebo_changes_nothing(twin) -> None:
    """A lossy (gray) link that routing never avoids: rerouting by cost removes the cause of the damage."""
    kg, g, template, params, runner = twin
    gray = Scenario(name="gray", events=[Event(event_type="link_degradation", target="Denver-Kansas_City",
                                               timestamp=0.3, severity="critical")])
    rec, base, k = unmitigated(twin, gray)
    assert damage(k) > 0.2
    out = {o.candidate.strategy: o for o in evaluate_mitigations(
        kg, g, template, params, gray, rec, base, k, runner, get_strategies(["reroute", "null", "rate_limit"]))}
    assert set(out) == {"reroute", "null"}  # nothing to rate-limit: no candidate
    reroute, null = out["reroute"], out["null"]
    assert reroute.status == null.status == "ok"
    assert reroute.candidate.mitigations[0].kind == "set_cost"
    assert reroute.effectiveness > 0.3, reroute
    assert reroute.improvements["loss"] > 0.5
    assert null.effectiveness == pytest.approx(0.0, abs=1e-9)
    assert null.damage_mitigated == pytest.approx(damage(k), abs=1e-9)


@pytest.mark.ns3
@pytest.mark.slow
def test_rolling_back_a_misconfiguration_and_filtering_a_ddos(twin) -> None:
    kg, g, template, params, runner = twin
    scenario = Scenario(name="misconf-ddos", events=[
        Event(event_type="misconfiguration", target="Denver-Kansas_City", timestamp=0.3, severity="critical"),
        Event(event_type="traffic_spike", target="Chicago", timestamp=0.35, severity="high", duration_s=0.8)])
    rec, base, k = unmitigated(twin, scenario)
    outcomes = evaluate_mitigations(kg, g, template, params, scenario, rec, base, k, runner,
                                    get_strategies(["rollback", "rate_limit"]))
    by = {o.candidate.strategy: o for o in outcomes}
    rollback = by["rollback"].candidate
    assert rollback.mitigations[0].kind == "set_cost" and rollback.mitigations[0].value == \
        kg.topology.edges[kg.ends("Denver-Kansas_City")]["ospf_cost"]
    assert by["rate_limit"].effectiveness > 0.3, by["rate_limit"]
    assert by["rollback"].effectiveness is not None
    # counterfactual runs are content-addressed: evaluating again simulates nothing
    before = runner.simulated
    again = evaluate_mitigations(kg, g, template, params, scenario, rec, base, k, runner,
                                 get_strategies(["rollback", "rate_limit"]))
    assert runner.simulated == before
    assert [o.effectiveness for o in again] == [o.effectiveness for o in outcomes]


@pytest.mark.ns3
@pytest.mark.slow
def test_rollback_restores_a_cut_fibre_after_the_repair_time(twin) -> None:
    kg, g, template, params, runner = twin
    cut = Scenario(name="cut", events=[Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City",
                                             timestamp=0.3)])
    rec, base, k = unmitigated(twin, cut)
    (out,) = evaluate_mitigations(kg, g, template, params, cut, rec, base, k, runner,
                                  get_strategies(["rollback"], repair_s=0.2))
    assert out.candidate.restore_events == [Event(event_type="link_restore", target="Denver-Kansas_City",
                                                  timestamp=0.5)]
    assert out.status == "ok" and out.improvements["delay"] > 0  # traffic is back on the short path
