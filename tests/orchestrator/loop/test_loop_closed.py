"""The closed loop on Abilene: archive, monotone best-so-far damage, feedback, content-addressed reuse."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from loop_helpers import SHORT

from ani.kg.model import build_kg
from ani.kg.topology import load_topology
from ani.llm.base import GenerationReport
from ani.llm.feedback import Rejection, Violation
from ani.kg.scenario import Event, Scenario
from ani.orchestrator.loop.closed_loop import LoopConfig, LoopSummary, run_loop
from ani.orchestrator.loop.feedback import (actions, explored_text, loop_feedback, merge_reports, novelty,
                                            scenario_family)

pytestmark = [pytest.mark.ns3, pytest.mark.slow]


def ev(kind: str, target: str, t: float = 0.3) -> Event:
    return Event(event_type=kind, target=target, timestamp=t)


@pytest.mark.parametrize(("events", "depth", "family"), [
    ([ev("fiber_link_failure", "A-B")], 0, "fiber_link_failure"),
    ([ev("srlg_cut", "srlg:duct")], 0, "fiber_link_failure"),
    ([ev("fiber_link_failure", "A-B")], 2, "cascading_outage"),
    ([ev("fiber_link_failure", "A-B"), ev("router_failure", "C", 0.4)], 0, "cascading_outage"),
    ([ev("router_overload", "C")], 0, "router_overload"),
    ([ev("router_overload", "C"), ev("traffic_spike", "D", 0.4)], 3, "ddos_spike"),
    ([ev("router_failure", "C")], 0, "router_failure"),
    ([ev("link_degradation", "A-B")], 0, "other"),
])
def test_scenario_families_follow_table_2(events, depth, family) -> None:
    assert scenario_family(Scenario(events=events), depth) == family


def test_novelty_feedback_and_report_merging() -> None:
    a = Scenario(events=[ev("fiber_link_failure", "A-B"), ev("router_failure", "C", 0.4)])
    b = Scenario(events=[ev("fiber_link_failure", "A-B")])
    assert novelty(a, []) == 1.0
    assert novelty(b, [actions(a)]) == pytest.approx(0.5)
    assert novelty(a, [actions(a)]) == 0.0
    rows = [{"name": "b", "digest": b.digest(), "damage": 0.4, "loss_excess": 0.1, "impacted_share": 0.2,
             "mean_delta_delay_ms": 3.0, "cascade_depth": 1, "best_effectiveness": math.nan},
            {"name": "a", "digest": a.digest(), "damage": 0.9, "loss_excess": 0.3, "impacted_share": 0.5,
             "mean_delta_delay_ms": 5.0, "cascade_depth": 0, "best_effectiveness": 0.25}]
    rejected = [Rejection(events=[ev("router_overload", "A-B")], issues=[Violation(code="wrong_kind", message="x")])]
    fb = loop_feedback(rows, {a.digest(): a, b.digest(): b}, rejected)
    assert [p.name for p in fb.ranked()] == ["a", "b"]
    assert fb.past[0].kpis["mitigated_pct"] == 25.0 and "mitigated_pct" not in fb.past[1].kpis
    text = fb.digest()
    assert "router_failure C" in text and "wrong_kind" in text and "Explored components (2): A-B, C." in text
    long = [Scenario(events=[ev("fiber_link_failure", f"Node{i:03d}-Node{i + 1:03d}")]) for i in range(200)]
    assert len(explored_text(long)) == 500
    one = GenerationReport(generator="g", requested=2, proposed=2, valid=1, issue_codes={"x": 1})
    both = merge_reports(one, one.model_copy(update={"issue_codes": {"x": 2, "y": 1}}))
    assert both.proposed == 4 and both.valid == 2 and both.issue_codes == {"x": 3, "y": 1}


def test_the_loop_archives_scenarios_and_best_damage_never_decreases(abilene_loop) -> None:
    r = abilene_loop
    assert r.summary.budget_used == 6 and len(r.evaluated) == 6 and len(r.iterations) == 3
    ev = r.evaluated
    assert list(ev["budget_index"]) == list(range(1, 7))
    assert ev["digest"].is_unique and ev["status"].eq("ok").all()
    assert (ev["damage"] > 0).all() and ev["damage"].le(3).all()
    best = ev["best_so_far"].tolist()
    assert best == sorted(best) and best[-1] == ev["damage"].max()
    per_it = r.iterations["best_so_far"].tolist()
    assert per_it == sorted(per_it)
    assert r.iterations["validity_after_repair"].eq(1.0).all()
    assert r.iterations["mitigated_scenarios"].sum() >= 3
    # archive: the most damaging first, each with its scenario
    arch = json.loads((r.folder / "archive.json").read_text())
    assert arch[0]["damage"] == ev["damage"].max() and arch[0]["archive_reason"] == "damage"
    assert Scenario.model_validate(arch[0]["scenario"]).digest() == arch[0]["digest"]
    for name in ("evaluated", "iterations", "archive", "mitigations"):
        assert not pd.read_parquet(r.folder / f"{name}.parquet").empty
    summary = LoopSummary.model_validate_json((r.folder / "loop.json").read_text())
    assert summary.config.generator == "causal-walk" and summary.runs_simulated >= 12


def test_a_repeated_loop_reuses_every_run_and_reproduces_its_numbers(abilene_loop, loop_results, tmp_path) -> None:
    config = LoopConfig.model_validate(abilene_loop.summary.config.model_dump())
    again = run_loop(load_topology("abilene"), config, tmp_path, results=loop_results)
    assert again.summary.runs_simulated == 0 and again.summary.runs_reused > 0
    cols = ["digest", "damage", "cascade_depth", "best_effectiveness"]
    pd.testing.assert_frame_equal(again.evaluated[cols], abilene_loop.evaluated[cols])


def test_deterministic_rule_book_is_not_repeated_across_iterations(loop_results: Path, tmp_path: Path) -> None:
    config = LoopConfig(generator="rule-based", iterations=2, budget=4, params=SHORT, mitigate=False)
    r = run_loop(load_topology("abilene"), config, tmp_path, results=loop_results)
    assert r.evaluated["digest"].is_unique and len(r.evaluated) == 4
    assert list(r.evaluated["name"]) == ["i0-rule-000", "i0-rule-001", "i1-rule-002", "i1-rule-003"]
    assert r.mitigations.empty


def test_unrenderable_random_scenarios_are_rejected_and_replaced(loop_results: Path, tmp_path: Path) -> None:
    config = LoopConfig(generator="random", iterations=1, budget=3, params=SHORT, mitigate_top=0, seed=5)
    kg = build_kg(load_topology("abilene"))
    r = run_loop(load_topology("abilene"), config, tmp_path, results=loop_results, kg=kg)
    it = r.iterations.iloc[0]
    assert it["proposed"] > it["scenario_runs"] == len(r.evaluated) == 3  # rounds refilled the budget
    assert it["first_try_validity"] < 1


@pytest.mark.dask
@pytest.mark.slow
def test_the_loop_on_a_dask_cluster_finds_the_same_scenarios_and_damage(abilene_loop, tmp_path: Path) -> None:
    """The same loop with its runs on a real LocalCluster of worker processes (a fresh results
    folder, so every run is simulated there) reproduces the local loop's numbers."""
    from distributed import LocalCluster

    from ani.orchestrator.execute.executors import DaskExecutor

    config = LoopConfig.model_validate(abilene_loop.summary.config.model_dump())
    results = tmp_path / "runs"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        executor = DaskExecutor(cluster.scheduler_address, results, timeout_s=600)
        try:
            on_dask = run_loop(load_topology("abilene"), config, tmp_path / "loop", results=results,
                               executor=executor)
        finally:
            executor.shutdown(wait=True)
    assert on_dask.summary.runs_simulated == abilene_loop.summary.runs_simulated and on_dask.summary.runs_reused == 0
    cols = ["digest", "damage", "cascade_depth", "best_effectiveness"]
    pd.testing.assert_frame_equal(on_dask.evaluated[cols], abilene_loop.evaluated[cols])
    assert all(Path(f).is_relative_to(results) for f in on_dask.evaluated["folder"])


def test_the_loop_compares_runs_on_its_workers(tmp_path: Path, monkeypatch) -> None:
    """Scenario-versus-baseline comparisons (scenarios and mitigations) parse both runs: the loop has
    them computed in parallel on the executor's worker processes (here, in this process they would raise)."""
    import ani.orchestrator.loop.mitigate as mitigate_module
    import ani.orchestrator.execute.run as run_module

    def no_parsing_here(*args, **kwargs):
        raise AssertionError("compare_runs ran in the loop's process")

    monkeypatch.setattr(run_module, "compare_runs", no_parsing_here)
    monkeypatch.setattr(mitigate_module, "compare_runs", no_parsing_here)
    config = LoopConfig(generator="causal-walk", iterations=1, budget=2, params=SHORT, mitigate_top=1, seed=3)
    r = run_loop(load_topology("abilene"), config, tmp_path / "loop", results=tmp_path / "runs")
    assert r.evaluated["status"].eq("ok").all() and r.evaluated["damage"].notna().all()
    assert r.summary.runs_simulated > 4 and not r.mitigations.empty
    assert r.mitigations["status"].eq("ok").any()
