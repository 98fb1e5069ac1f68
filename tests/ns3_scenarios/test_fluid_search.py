"""The worst-case generator searching with the fluid tier, against the static proxy's greedy chains.

Fluid damage on real networks (Abilene, and Geant2010 when the Topology Zoo
data is there); the packet tier confirms the choice on Abilene (ns-3, slow).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ani.kg.io import open_kg
from ani.kg.scenario import EventType, Scenario
from ani.llm.constraints import GenerationConstraints
from ani.llm.generators import WorstCaseGenerator
from ani.llm.guided_search import ScenarioScorer
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.cli.main import main
from ani.orchestrator.loop.screening import FluidScorer
from click.testing import CliRunner

SHORT = {"warmup_s": "0.2", "observe_s": "0.8", "capacity_scale": "0.01", "auto_size": "false"}
GEANT = Path("/work/shared/data/topologyzoo/Geant2010.graphml")


def constraints(max_events: int) -> GenerationConstraints:
    events = tuple(EventType(t) for t in get_template("ospf_failure").manifest.events)
    return GenerationConstraints(max_events=max_events, start_s=0.2, max_delay_s=0.4, event_types=events)


def both(topology: str, max_events: int, n: int = 8) -> tuple[FluidScorer, object, list[Scenario], list[Scenario]]:
    kg = open_kg(topology)
    scorer = FluidScorer(get_template("ospf_failure").params(SHORT))
    c = constraints(max_events)
    return scorer, kg, WorstCaseGenerator().generate(kg, n, c), WorstCaseGenerator(scorer, beam=6).generate(kg, n, c)


class FakeScorer:
    """A fake scorer (stands for the fluid tier): 1 per event on Denver, more for later ones; Houston unscorable."""

    def score(self, kg: object, scenarios: list[Scenario]) -> list[float | None]:
        return [None if any(e.target == "Houston" for e in s.events) else
                sum((i + 1) * (e.target == "Denver") for i, e in enumerate(s.events)) for s in scenarios]


def test_the_search_follows_the_scorer_and_skips_what_it_cannot_score() -> None:
    assert isinstance(FakeScorer(), ScenarioScorer) and isinstance(FluidScorer({}), ScenarioScorer)
    kg = open_kg("abilene")
    found = WorstCaseGenerator(FakeScorer(), beam=3).generate(kg, 4, constraints(2))
    assert len(found) == 4 and all(e.target != "Houston" for s in found for e in s.events)
    scores = FakeScorer().score(kg, found)
    assert scores == sorted(scores, reverse=True) and scores[0] == 3     # Denver, then Denver again


@pytest.mark.parametrize("topology", ["abilene", str(GEANT)])
def test_fluid_guided_worst_case_is_at_least_as_damaging_as_the_heuristic(topology: str) -> None:
    if topology == str(GEANT) and not GEANT.is_file():
        pytest.skip(f"{GEANT} is absent (Topology Zoo data, see /work/shared/data/README.md)")
    scorer, kg, old, new = both(topology, 2)
    old_best, new_scores = max(scorer.score(kg, old)), scorer.score(kg, new)
    assert new_scores == sorted(new_scores, reverse=True)      # ranked, best first
    assert new_scores[0] >= old_best > 0


@pytest.mark.slow
@pytest.mark.ns3
def test_its_choice_is_confirmed_at_packet_level(tmp_path: Path) -> None:
    """Abilene, three events: the search's best against each of the heuristic's 8 scenarios, in ns-3."""
    from ani.orchestrator.evaluate.screen import network_of
    from ani.orchestrator.execute.scenario_run import run_scenario
    from ani.orchestrator.measure.damage import damage
    from ani.orchestrator.measure.kpis import ScenarioKpis

    scorer, kg, old, new = both("abilene", 3)
    template = get_template("ospf_failure")
    params, g = template.params(SHORT), network_of(kg)

    def packet(s: Scenario) -> float:
        return damage(ScenarioKpis.model_validate(run_scenario(g, s, template, params, tmp_path).scenario.comparison))

    heuristic = [packet(s) for s in old]
    assert packet(new[0]) >= max(heuristic)


def test_cli_screen_worst_case_searches_with_the_fluid_tier() -> None:
    res = CliRunner().invoke(main, ["screen", "--topology", "abilene", "--generator", "worst-case", "-n", "3",
                                    "--max-events", "2", "--param", "auto_size=false"])
    assert res.exit_code == 0, res.output
    assert "screened 3 scenarios" in res.output and "scenarios/s" in res.output


def test_cli_screen_worst_case_refuses_what_the_fluid_tier_cannot_model_before_searching() -> None:
    res = CliRunner().invoke(main, ["screen", "--topology", "abilene", "--generator", "worst-case", "-n", "3",
                                    "--param", "cascades=true"])
    assert res.exit_code == 1 and "cascades=true" in res.output and "Traceback" not in res.output
