"""The evaluation under one intervention policy: invalid scenarios apart, costs, controls and verdicts.

The unit tests build loop results by hand; the ns-3 test runs the controls and ``random`` on the
embedded Abilene network at a tiny budget.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from loop_helpers import SHORT

from ani.kg.event_types import EventType
from ani.kg.model import build_kg
from ani.kg.scenario import Event
from ani.kg.topology import load_topology
from ani.orchestrator.evaluate import gap
from ani.orchestrator.evaluate.report_html import evaluation_report
from ani.orchestrator.evaluate.evaluation import (ARMS, DEFAULT_ARMS, EvalConfig, evaluate, loop_config, loop_row,
                                                  with_cost)
from ani.orchestrator.loop.closed_loop import LoopConfig, LoopResult, LoopSummary
from ani.orchestrator.measure.cost import intervention_cost


def _ev(kind: EventType, target: str, severity: str = "high", magnitude: float | None = None) -> Event:
    return Event(event_type=kind, target=target, timestamp=1.0, severity=severity, magnitude=magnitude)


def test_intervention_cost_counts_components_and_attack_volume() -> None:
    kg = build_kg(load_topology("abilene"))
    cut = _ev(EventType.fiber_link_failure, "Denver-Kansas_City")
    assert intervention_cost([cut]) == {"cost": 1.0, "cost_components": 1.0, "cost_attack_volume": 0.0}
    spike = _ev(EventType.traffic_spike, "Denver")
    assert intervention_cost([spike])["cost"] == 3.0  # one router + an attack at 2x its link capacity ("high")
    assert intervention_cost([_ev(EventType.traffic_spike, "Denver", "critical")])["cost_attack_volume"] == 4.0
    assert intervention_cost([_ev(EventType.traffic_spike, "Denver", magnitude=0.5)])["cost"] == 1.5
    assert intervention_cost([cut, _ev(EventType.link_restore, "Denver-Kansas_City")])["cost"] == 1.0
    assert intervention_cost([cut, cut.model_copy(update={"timestamp": 2.0})])["cost"] == 1.0  # distinct components
    srlgs = [c for c in kg.components() if kg.kind(c) == "srlg"]  # Abilene declares none: a stand-in graph

    class Groups:
        def srlg_links(self, srlg: str) -> tuple[str, ...]:
            return ("a-b", "b-c", "c-d") if srlg == "srlg:x" else ()

    got = intervention_cost([_ev(EventType.srlg_cut, "srlg:x"), cut, _ev(EventType.fiber_link_failure, "a-b")],
                            Groups())
    assert got["cost_components"] == 4  # the group's three links and Denver-Kansas_City
    assert intervention_cost([_ev(EventType.srlg_cut, "srlg:y")], Groups())["cost"] == 1.0  # unknown group
    for g in srlgs:
        assert intervention_cost([_ev(EventType.srlg_cut, g)], kg)["cost"] == len(kg.srlg_links(g))


def _result(rows: list[dict]) -> LoopResult:
    cfg = LoopConfig(budget=len(rows))
    summary = LoopSummary(config=cfg, network="n", nodes=1, links=1, kg_digest="d", params={},
                          budget_used=len(rows))
    it = pd.DataFrame([{"proposed": 5, "first_try_valid": 3, "valid": 3, "llm_calls": 0,
                        "cumulative_diversity_jaccard": 0.5, "cumulative_distinct_actions": 3}])
    ev = pd.DataFrame(rows)
    return LoopResult(summary, it, ev, pd.DataFrame(), pd.DataFrame(), Path("."))


def test_invalid_scenarios_are_never_counted_and_are_reported_apart() -> None:
    cut = json.dumps([_ev(EventType.fiber_link_failure, "Denver-Kansas_City").model_dump(mode="json")])
    spike = json.dumps([_ev(EventType.traffic_spike, "Denver").model_dump(mode="json")])
    base = {"n_events": 1, "cascade_depth": 0, "mitigated": False, "best_effectiveness": math.nan,
            "lost_traffic": 0.1, "impacted_share": 0.2, "delay_term": 0.3}
    rows = [{**base, "valid": True, "damage": 0.6, "events": cut},
            {**base, "valid": True, "damage": 0.9, "events": spike, "lost_traffic": 0.4},
            {**base, "valid": False, "damage": 2.5, "events": cut}]  # e.g. simulated by an older evaluation
    res = with_cost(_result(rows), None)
    assert res.evaluated["cost"].tolist() == [1.0, 3.0, 1.0]
    row = loop_row("n", ARMS["random"], res)
    assert row["best_damage"] == 0.9 and row["mean_damage"] == pytest.approx(0.75) and not row["found_nothing"]
    assert row["invalid_proposed"] == 2 and row["invalid_simulated"] == 1
    assert row["best_damage_per_cost"] == pytest.approx(0.6) and row["cost_mean"] == 2.0
    assert row["lost_traffic_max"] == 0.4 and row["delay_term_mean"] == pytest.approx(0.3)
    nothing = loop_row("n", ARMS["random"], with_cost(_result([rows[2]]), None))
    assert nothing["best_damage"] == 0.0 and nothing["found_nothing"] and math.isnan(nothing["mean_damage"])


def test_every_arm_runs_under_one_policy_but_the_severity_ablation() -> None:
    cfg = EvalConfig(llm_options={"context_chars": 800, "listed_actions": 12})
    policies = {a: loop_config(cfg, ARMS[a], 1, {}).generator_options["policy"] for a in DEFAULT_ARMS}
    fixed = {a for a, p in policies.items() if p["severity"] == "fixed"}
    assert fixed == {a for a in DEFAULT_ARMS if not a.endswith("own-severity")}
    assert {p["fixed_severity"] for p in policies.values()} == {"high"}
    assert {loop_config(cfg, ARMS[a], 1, {}).max_events for a in DEFAULT_ARMS} == {cfg.max_events}
    assert {loop_config(cfg, ARMS[a], 1, {}).budget for a in DEFAULT_ARMS} == {cfg.budget}
    for a in ("frontier-greedy", "frontier-random"):
        assert loop_config(cfg, ARMS[a], 1, {}).generator_options["listed_actions"] == 12  # the LLM's prompt
    assert loop_config(cfg, ARMS["llm-shuffled"], 1, {}).generator_options["shuffle_options"] is True
    assert {"frontier-greedy", "frontier-random", "llm-shuffled", "llm-own-severity", "llm-no-kg",
            "llm-no-causal", "llm-no-feedback"} <= set(DEFAULT_ARMS)
    assert len(EvalConfig().seeds) >= 5


def test_gap_divides_by_the_worst_case_only_where_there_is_one() -> None:
    scen = pd.DataFrame([{"network": n, "arm": "x", "role": "control", "seed": 1, "budget_index": 1,
                          "damage": 0.5, "valid": True} for n in ("A", "B")])
    ref = gap.Confirmed(network="A", mode="n1", rank=1, seed=1, scenario="s", events="[]", fluid_damage=2.0,
                        packet_damage=2.0, status="ok")
    worst = gap.WorstCase(network="A", n1_screened=1, n2_screened=0, screen_seconds=0.0, confirmed=[ref])
    t = gap.gap_table(scen, {"A": worst, "B": None}, budget=1)
    assert t["network"].tolist() == ["A"] and t["fraction_of_worst_case"].tolist() == [0.25]
    assert gap.gap_table(scen, {}, budget=1).empty


@pytest.mark.ns3
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_controls_run_under_the_policy_with_intervals_and_verdicts(tmp_path: Path) -> None:
    config = EvalConfig(networks=["abilene"], seeds=[1, 2], budget=2, iterations=1,
                        arms=["frontier-greedy", "frontier-random", "random"], params=SHORT, max_events=2,
                        mitigate_top=0)
    r = evaluate(config, tmp_path)
    assert r.summary.arms_run == config.arms and len(r.loops) == 6
    scenarios = pd.read_parquet(tmp_path / "scenarios.parquet")
    assert scenarios["valid"].all()  # random's invalid scenarios were dropped, not simulated
    rnd = r.loops[r.loops["arm"] == "random"]
    assert (rnd["invalid_proposed"] > 0).all() and (rnd["invalid_simulated"] == 0).all()
    assert rnd["best_damage"].notna().all()  # 0 when nothing valid was found, so its seeds stay paired
    events = [e for js in scenarios["events"] for e in json.loads(js)]
    assert {e["severity"] for e in events} == {"high"}
    assert {"cost", "damage_per_cost", "lost_traffic", "impacted_share", "delay_term"} <= set(scenarios.columns)
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    for m in ("best_damage", "best_damage_per_cost", "lost_traffic_max"):
        assert {f"{m}_mean", f"{m}_ci95_low", f"{m}_ci95_high"} <= set(summary.columns)
    tests = pd.read_parquet(tmp_path / "tests.parquet")
    assert {("frontier-random", "frontier-greedy"), ("random", "frontier-greedy")} <= set(zip(tests["a"], tests["b"]))
    info = json.loads((tmp_path / "eval.json").read_text())
    assert len(info["verdicts"]) == 2 and all("beats frontier-greedy" in v for v in info["verdicts"])
    assert set(info["invalid_proposed"]) == set(config.arms)
    page = evaluation_report(tmp_path).read_text()
    assert "Verdicts" in page and "random beats frontier-greedy (best_damage, all networks)" in page
    assert "per unit of intervention cost" in page
