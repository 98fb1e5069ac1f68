"""Screening with the fluid tier: the library, the CLI, and agreement with one packet-level run."""

from __future__ import annotations

from pathlib import Path

import pytest
from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_topology
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.cli.main import main
from ani.orchestrator.evaluate.screen import screen_scenarios
from click.testing import CliRunner

SHORT = {"warmup_s": "0.2", "observe_s": "0.8", "capacity_scale": "0.01", "auto_size": "false"}
CUT = Scenario(name="cut", events=[Event(event_type="fiber_link_failure", target="Denver-Kansas_City",
                                         timestamp=0.3)])


def test_screen_ranks_by_damage_and_keeps_refusals_with_their_reason() -> None:
    g = load_topology("abilene")
    bad = Scenario(name="bad", events=[Event(event_type="router_failure", target="Atlantis", timestamp=0.3)])
    calm = Scenario(name="calm", events=[Event(event_type="router_overload", target="Denver", timestamp=0.3,
                                               severity="low")])
    result = screen_scenarios(g, [calm, bad, CUT], get_template("ospf_failure").params(SHORT))
    assert [r.scenario.name for r in result.rows] == ["cut", "calm", "bad"]
    assert result.rows[0].damage > result.rows[1].damage >= 0
    assert set(result.rows[0].terms) == {"lost_traffic", "impacted_share", "delay_term"}
    assert "Atlantis" in result.rows[2].refused and result.rows[2].damage is None
    assert "scenarios/s" in result.table()


def test_cli_screen_prints_the_ranked_list_and_the_rate(tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    res = CliRunner().invoke(main, ["screen", "--topology", "abilene", "--generator", "causal-walk", "-n", "5",
                                    "--param", "auto_size=false", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "rank" in res.output and "scenarios/s" in res.output
    assert len(out.read_text().splitlines()) == 5


def test_cli_screen_rejects_bad_input() -> None:
    res = CliRunner().invoke(main, ["screen", "--topology", "abilene", "--generator", "causal-walk",
                                    "--min-events", "3", "--max-events", "2"])
    assert res.exit_code == 2 and "--min-events" in res.output
    res = CliRunner().invoke(main, ["screen", "--topology", "abilene", "--generator", "causal-walk",
                                    "--param", "cascades=true", "-n", "2"])
    assert res.exit_code == 1 and "cascades" in res.output


@pytest.mark.slow
@pytest.mark.ns3
def test_fluid_damage_agrees_with_a_packet_level_run(tmp_path: Path) -> None:
    """A fibre cut on Abilene: damage within 0.03, loss ratio within 0.005, same impacted flows +- 2."""
    from ani.orchestrator.execute.scenario_run import run_scenario
    from ani.orchestrator.measure.damage import damage
    from ani.orchestrator.measure.kpis import ScenarioKpis

    g = load_topology("abilene")
    template = get_template("ospf_failure")
    params = template.params(SHORT)
    packet = ScenarioKpis.model_validate(run_scenario(g, CUT, template, params, tmp_path).scenario.comparison)
    fluid = screen_scenarios(g, [CUT], params).rows[0]
    assert fluid.damage == pytest.approx(damage(packet), abs=0.03)
    assert fluid.kpis.scenario_loss_ratio == pytest.approx(packet.scenario_loss_ratio, abs=0.005)
    assert abs(fluid.kpis.impacted_flows - packet.impacted_flows) <= 2


def test_loop_screening_keeps_the_most_damaging_candidates() -> None:
    from ani.orchestrator.loop.screening import screen_candidates

    g = load_topology("abilene")
    params = get_template("ospf_failure").params({**SHORT, "cascades": "true"})  # the loop's: screened without
    calm = Scenario(name="calm", events=[Event(event_type="link_degradation", target="Denver-Kansas_City",
                                               timestamp=0.3, severity="low")])
    bad = Scenario(name="bad", events=[Event(event_type="router_failure", target="Atlantis", timestamp=0.3)])
    kept, scores = screen_candidates(g, params, [(calm, "a"), (bad, "b"), (CUT, "c")], 2)
    assert [s.name for s, _ in kept] == ["cut", "calm"]
    assert scores[1] is None and scores[2] > scores[0]


def test_exhaustive_n1_covers_every_link_and_router() -> None:
    from ani.orchestrator.evaluate.screen import worst_case_n1

    g = load_topology("abilene")
    result = worst_case_n1(g, get_template("ospf_failure").params(SHORT))
    assert len(result.rows) == g.number_of_edges() + len(g)
    assert all(r.refused is None for r in result.rows)
    assert result.rows[0].damage >= result.rows[-1].damage


def test_exhaustive_n2_on_a_small_network_and_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from ani.ns3_scenarios.fluid import FluidRefusal
    from ani.orchestrator.evaluate import screen as S

    g = load_topology("abilene")
    L = g.number_of_edges()
    result = S.worst_case_n2(g, get_template("ospf_failure").params(SHORT))
    assert len(result.rows) == L * (L - 1) // 2
    assert result.rows[0].damage >= max(r.damage for r in S.worst_case_n1(
        g, get_template("ospf_failure").params(SHORT)).rows if r.scenario.events[0].event_type.value
        == "fiber_link_failure")
    monkeypatch.setattr(S, "MAX_N2", 10)
    with pytest.raises(FluidRefusal, match="above the limit"):
        S.worst_case_n2(g, get_template("ospf_failure").params(SHORT))
