"""The optimality gap: the N-1/N-2 search space, the per-budget fractions, and on real Abilene runs,
a worst-case reference that no single failure beats at packet level (checked by running them all)."""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest
from loop_helpers import SHORT

from ani.kg.event_types import INFO
from ani.kg.model import build_kg
from ani.kg.scenario import EventType
from ani.kg.topology import load_topology
from ani.llm.policy import InterventionPolicy
from ani.ns3_scenarios.render import render_pair
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.evaluate import gap
from ani.orchestrator.evaluate.screen import ScreenRow
from ani.orchestrator.execute.cached_runner import CachedRunner
from ani.orchestrator.loop.feedback import render_graph
from ani.orchestrator.measure.damage import damage

TYPES = [EventType(t) for t in get_template("ospf_failure").manifest.events]


@pytest.fixture(scope="module")
def abilene() -> tuple:
    g = load_topology("abilene")
    return g, build_kg(g, load_factor=0.7)


def test_n1_is_every_valid_single_event_under_the_policy(abilene) -> None:
    g, kg = abilene
    singles = gap.single_events(kg, TYPES, 0.5, InterventionPolicy())
    got = {(s.events[0].event_type, s.events[0].target) for s in singles}
    routers = [str(n) for n, k in g.nodes(data="kind") if k == "router"]
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    for link in links:  # every link, with every link event type (a degradation, a misconfiguration, a cut)
        assert {(t, link) for t in TYPES if "link" in INFO[t].targets and INFO[t].role != "restore"} <= got
    for r in routers:
        assert {(EventType.router_failure, r), (EventType.traffic_spike, r), (EventType.router_overload, r)} <= got
    assert not any(INFO[t].role == "restore" for t, _ in got)  # nothing to restore on a healthy network
    assert all(e.severity == "high" and e.magnitude is None for s in singles for e in s.events)
    assert all(not kg.validate(s) for s in singles)
    own = gap.single_events(kg, TYPES, 0.5, InterventionPolicy(fixed_severity="critical"))
    assert {e.severity for s in own for e in s.events} == {"critical"}


def test_n2_has_every_pair_of_cuts_and_every_pair_of_the_top_singles(abilene) -> None:
    g, kg = abilene
    singles = gap.single_events(kg, TYPES, 0.5, InterventionPolicy())
    ranked = [ScreenRow(scenario=s, damage=1.0 / (i + 1)) for i, s in enumerate(reversed(singles))]
    pairs = gap.double_events(singles, ranked, pair_top=5)
    keys = {frozenset((e.event_type, e.target) for e in s.events) for s in pairs}
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    for a, b in combinations(links, 2):
        assert frozenset({(EventType.fiber_link_failure, a), (EventType.fiber_link_failure, b)}) in keys
    top = [r.scenario.events[0] for r in ranked[:5]]
    for a, b in combinations(top, 2):
        assert frozenset({(a.event_type, a.target), (b.event_type, b.target)}) in keys
    assert len(keys) == len(pairs)  # no pair twice
    assert all(len(s.events) == 2 for s in pairs)


def _worst(seed_damages: dict[str, list[tuple[int, float]]]) -> gap.WorstCase:
    rows = [gap.Confirmed(network="n", mode=mode, rank=1, seed=seed, scenario="s", events="[]",
                          fluid_damage=d, packet_damage=d, status="ok")
            for mode, vals in seed_damages.items() for seed, d in vals]
    return gap.WorstCase(network="n", n1_screened=1, n2_screened=1, screen_seconds=0.0, confirmed=rows)


def test_fractions_per_budget_count_only_valid_scenarios() -> None:
    worst = _worst({"n1": [(1, 1.0), (2, 0.8)], "n2": [(1, 2.0), (2, math.nan)]})
    assert worst.worst() == {1: 2.0, 2: 0.8} and worst.worst("n2") == {1: 2.0}
    rows = [  # seed 1: an invalid 5.0 at budget 1 (never counted), then 0.5, then 1.5
        {"budget_index": 1, "damage": 5.0, "valid": False, "seed": 1},
        {"budget_index": 2, "damage": 0.5, "valid": True, "seed": 1},
        {"budget_index": 3, "damage": 1.5, "valid": True, "seed": 1},
        {"budget_index": 1, "damage": 0.4, "valid": True, "seed": 2},
    ]
    scen = pd.DataFrame(rows).assign(network="n", arm="a", role="control")
    got = gap.gap_table(scen, {"n": worst, "other": None}, budget=3).set_index(["seed", "budget"])
    assert got.loc[(1, 1), "best_damage"] == 0.0  # nothing valid yet: found nothing
    assert got.loc[(1, 2), "fraction_of_worst_case"] == pytest.approx(0.25)
    assert got.loc[(1, 3), "fraction_of_n1"] == pytest.approx(1.5) and got.loc[(1, 3), "fraction_of_n2"] == 0.75
    assert got.loc[(2, 3), "fraction_of_worst_case"] == pytest.approx(0.5)
    # the N-2 run of seed 2 failed: the largest N-2 confirmed on another seed stands in
    assert got.loc[(2, 3), "fraction_of_n2"] == pytest.approx(0.4 / 2.0)
    loops = pd.DataFrame([{"network": "n", "arm": "b", "role": "baseline", "seed": 1}])  # no valid scenario
    nothing = gap.gap_table(scen, {"n": worst}, budget=3, loops=loops)
    assert nothing.loc[nothing["arm"] == "b", "fraction_of_worst_case"].tolist() == [0.0, 0.0, 0.0]
    summary = gap.gap_summary(got.reset_index())
    assert {"fraction_of_worst_case_ci95_low", "fraction_of_worst_case_ci95_high"} <= set(summary)
    line = gap.gap_lines(summary)[0]
    assert line.startswith("a reaches 0.62 [") and "in 3 scenario runs" in line and "n = 2 loops" in line


@pytest.mark.slow
@pytest.mark.ns3
def test_the_reference_is_at_least_every_single_failure_run_at_packet_level(abilene, tmp_path: Path) -> None:
    """The reference (fluid-screened, top confirmed) against every N-1 cut, router failure and spike
    run independently at packet level: the fluid tier ranks without cascades, so this can fail."""
    g, kg = abilene
    inputs = gap.GapInputs("Abilene", g, kg, "ospf_failure", dict(SHORT), InterventionPolicy(), (1,))
    runner = CachedRunner(tmp_path / "gap-runs", None, 2)
    try:
        worst = gap.fluid_worst_case(inputs, runner, confirm_top=2)
    finally:
        runner.close()
    reference = worst.worst()[1]
    assert worst.n1_screened > 0 and worst.n2_screened >= 14 * 13 // 2
    assert all(c.status == "ok" for c in worst.confirmed)
    template = get_template("ospf_failure")
    params = gap.loop_params("ospf_failure", dict(SHORT), 1)
    singles = gap.single_events(kg, TYPES, float(params["warmup_s"]) + 0.1, InterventionPolicy())
    checked = [s for s in singles if s.events[0].event_type in
               (EventType.fiber_link_failure, EventType.router_failure, EventType.traffic_spike)]
    # independently: each failure run with its no-failure baseline (shared: one seed), in a results folder
    # of its own, through one warm pool of 2 workers (a run_scenario per failure starts a pool each time)
    graph = render_graph(g, kg)
    pairs = [render_pair(template, s, graph, params) for s in checked]
    runner = CachedRunner(tmp_path / "independent", None, 2)
    try:
        records = runner([spec for pair in pairs for spec in pair])
        compared = runner.compare([(records[2 * k], records[2 * k + 1]) for k in range(len(pairs))])
    finally:
        runner.close()
    assert runner.simulated == len(checked) + 1, "each failure once, and its baseline once"
    damages = {}
    for s, rec in zip(checked, compared):
        assert rec.status == "ok" and rec.comparison is not None, s.name
        damages[s.name] = damage(rec.comparison)
    top = max(damages, key=damages.get)
    assert reference >= damages[top] - 1e-9, f"{top} does {damages[top]:.3f} > reference {reference:.3f}"
    assert reference == pytest.approx(max(c.packet_damage for c in worst.confirmed))
    table = gap.confirmed_table({"Abilene": worst})
    assert set(table["mode"]) == {"n1", "n2"} and all(json.loads(e) for e in table["events"])


@pytest.mark.slow
@pytest.mark.ns3
def test_an_evaluation_assembled_from_its_loops_writes_the_gap_and_the_papers_tables(
        small_eval, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--reuse-only over a finished evaluation's loops, with a (cheaper) fluid worst case on Abilene."""
    import shutil
    from functools import partial

    from ani.orchestrator.evaluate.evaluation import evaluate
    from ani.orchestrator.evaluate.report_html import evaluation_report

    folder = tmp_path / "eval"
    shutil.copytree(small_eval.folder, folder)
    monkeypatch.setitem(gap.REFERENCES, "fluid-cheap", partial(gap.fluid_worst_case, confirm_top=1, pair_top=4))
    config = small_eval.summary.config.model_copy(update={
        "networks": ["abilene"], "seeds": [1], "arms": ["causal-walk", "rule-based", "frontier-greedy"],
        "worst_case": "fluid-cheap", "reuse_only": True})
    res = evaluate(config, folder)
    assert set(res.loops["arm"]) == {"causal-walk", "rule-based"}  # frontier-greedy never ran here: left out
    assert any("frontier-greedy/seed 1: not in this folder (reuse only)" in n for n in res.summary.notes)
    table = pd.read_parquet(folder / "gap.parquet")
    assert len(table) == 2 * 2 and set(table["budget"]) == {1, 2}
    full = table[table["budget"] == 2].set_index("arm")
    loops = res.loops.set_index("arm")
    for arm in ("causal-walk", "rule-based"):  # two computations of the best damage agree
        assert full.loc[arm, "best_damage"] == pytest.approx(loops.loc[arm, "best_damage"])
    worst = res.summary.worst_case["Abilene"]
    assert worst is not None and worst.n2_screened >= 14 * 13 // 2
    assert (full["worst_case"] == max(c.packet_damage for c in worst.confirmed)).all()
    assert full["fraction_of_worst_case"].tolist() == pytest.approx(
        (full["best_damage"] / full["worst_case"]).tolist())
    assert len(res.summary.gap) == 2 and all("of the worst case" in g for g in res.summary.gap)
    budget = pd.read_parquet(folder / "budget.parquet")
    assert {"best_damage_ci95_low", "best_damage_ci95_high"} <= set(budget)
    assert (folder / "mitigation_families.parquet").is_file() and (folder / "worst_case.parquet").is_file()
    page = evaluation_report(folder).read_text()
    assert "Optimality gap" in page and "Paper quantities" in page and "N-2 screened" in page
