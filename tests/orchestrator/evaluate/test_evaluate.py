"""The evaluation at CI size: every non-LLM arm on Abilene and Aarnet, 2 seeds; reproducible per seed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from loop_helpers import SHORT

from ani.kg.errors import ProjectError, TopologyError
from ani.kg.model import build_kg
from ani.kg.topology import load_topology
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.evaluate.evaluation import ARMS, EvalConfig, ablation_table, evaluate, loop_config
from ani.orchestrator.evaluate.networks import llm_unavailable, resolve_network, sized_params, synthetic_incidents
from ani.ns3_scenarios.sizing import sized_traffic
from ani.orchestrator.loop.closed_loop import LOOP_DEFAULTS

ARMS_RUN = ["causal-walk", "rule-based", "random", "replay", "worst-case"]


def test_synthetic_incident_history_is_seeded_and_valid(shared_data: Path) -> None:
    g = load_topology(shared_data / "topologyzoo" / "Aarnet.graphml")
    a, b = synthetic_incidents(g, 12, 0.3), synthetic_incidents(g, 12, 0.3)
    assert [s.digest() for s in a] == [s.digest() for s in b]
    assert {s.events[0].event_type.value for s in a} <= {"fiber_link_failure", "router_failure", "router_overload"}
    kg = build_kg(g)
    assert all(kg.validate(s) == [] for s in a)
    assert all("synthetic" in s.description for s in a)


def test_traffic_is_sized_per_network_by_the_twins_rule(shared_data: Path) -> None:
    """Each network gets the capacity_scale and packet_bytes of the twin's sizing rule; the user's choice wins."""
    template = get_template("ospf_failure")
    values = template.params({**LOOP_DEFAULTS})
    ion = load_topology(shared_data / "topologyzoo" / "Ion.graphml")
    sized = sized_params(ion, values)
    assert (sized["capacity_scale"], sized["packet_bytes"]) != (values["capacity_scale"], values["packet_bytes"])
    demands, _, sizing = sized_traffic(ion, sized)
    # the rule's promise, checked on its result: every demand flow sends at least min_flow_pps
    assert min(d.rate_bps for d in demands) / (8 * sized["packet_bytes"]) >= values["min_flow_pps"] * 0.999
    assert sizing.volume_share > 0.5
    assert sized_params(load_topology("abilene"), values) == values  # already covered at the defaults
    mine = template.params({**LOOP_DEFAULTS, "capacity_scale": 0.01})
    assert sized_params(ion, mine) == mine  # the user's choice wins


def test_networks_resolve_by_name_and_say_what_is_missing(shared_data: Path) -> None:
    label, g, source = resolve_network("Aarnet", shared_data / "topologyzoo")
    assert label == "Aarnet" and g.number_of_nodes() == 19 and source.endswith("Aarnet.graphml")
    assert resolve_network("abilene")[0] == "Abilene"
    with pytest.raises(TopologyError, match="Atlantis"):
        resolve_network("Atlantis", shared_data / "topologyzoo")


def test_arms_map_to_generators_ablations_and_an_llm_budget_cap() -> None:
    cfg = EvalConfig(budget=6, llm_max_scenarios=2)
    assert loop_config(cfg, ARMS["llm-no-kg"], 1, {}).generator_options["context_chars"] == 0
    assert loop_config(cfg, ARMS["llm-no-causal"], 1, {}).generator_options["constrained"] is False
    nofb = loop_config(cfg, ARMS["llm-no-feedback"], 1, {})
    assert nofb.feedback is False and nofb.budget == 2
    assert loop_config(cfg, ARMS["random"], 2, {"load_factor": 0.5}).budget == 6
    with pytest.raises(ProjectError, match="unknown generator/arm"):
        evaluate(EvalConfig(arms=["oracle"], networks=["abilene"]), Path("/nonexistent"))


def test_ablation_scores_are_normalised_to_the_reference() -> None:
    loops = pd.DataFrame([{"network": "n", "arm": a, "validity_after_repair": v, "diversity": 1.0,
                           "cascade_depth_mean": c, "best_damage": d, "mitigation_effectiveness": 0.5}
                          for a, v, c, d in [("llm", 1.0, 2.0, 1.0), ("llm-no-kg", 0.5, 1.0, 0.8)]])
    t = ablation_table(loops, "llm").set_index(["arm", "metric"])["normalised"]
    assert t[("llm", "best_damage")] == 1.0 and t[("llm-no-kg", "validity_after_repair")] == 0.5
    assert t[("llm-no-kg", "cascade_depth_mean")] == 0.5 and t[("llm-no-kg", "best_damage")] == pytest.approx(0.8)


@pytest.mark.ns3
@pytest.mark.slow
def test_small_evaluation_writes_every_table_with_spread_over_seeds(small_eval) -> None:
    r = small_eval
    folder = r.folder
    assert r.summary.arms_run == ARMS_RUN and [n.label for n in r.summary.networks] == ["Abilene", "Aarnet"]
    assert len(r.loops) == 2 * 2 * len(ARMS_RUN)
    assert r.loops["budget_used"].max() == 2
    for name in ("loops", "summary", "curves", "scenarios", "mitigations", "families", "ablation"):
        assert (folder / f"{name}.parquet").is_file(), name
    summary = pd.read_parquet(folder / "summary.parquet")
    overall = summary[summary["network"] == "all"].set_index("arm")
    assert overall.loc["causal-walk", "loops"] == 4 and "best_damage_std" in overall
    assert overall.loc["causal-walk", "validity_after_repair_mean"] == 1.0
    assert overall.loc["random", "first_try_validity_mean"] < 1.0
    assert overall.drop(index="random")["best_damage_mean"].gt(0).all()  # random may only restore what is up
    families = pd.read_parquet(folder / "families.parquet")
    assert {"fiber_link_failure"} <= set(families["family"])
    info = json.loads((folder / "eval.json").read_text())
    assert info["command"] == "pytest small_eval" and info["runs_simulated"] > 0
    curves = pd.read_parquet(folder / "curves.parquet")
    for _, grp in curves.groupby(["network", "arm", "seed"]):
        assert grp["best_so_far"].is_monotonic_increasing


@pytest.mark.ns3
@pytest.mark.slow
def test_evaluation_is_reproducible_per_seed(tmp_path: Path, small_eval) -> None:
    """The same seed in a fresh folder (nothing cached): the same scenarios and the same numbers."""
    config = small_eval.summary.config.model_copy(update={"networks": ["abilene"], "seeds": [2],
                                                          "arms": ["causal-walk", "replay"]})
    again = evaluate(config, tmp_path)
    assert again.summary.runs_simulated > 0  # a fresh results folder: simulated again (arms share baselines)
    cols = ["arm", "seed", "digest", "damage", "cascade_depth", "best_effectiveness"]
    first = pd.read_parquet(small_eval.folder / "scenarios.parquet")
    first = first[(first["network"] == "Abilene") & (first["seed"] == 2) & first["arm"].isin(config.arms)]
    second = pd.read_parquet(tmp_path / "scenarios.parquet")
    pd.testing.assert_frame_equal(first[cols].reset_index(drop=True), second[cols].reset_index(drop=True))
    # evaluating again in the same folder (after a crash, or with another arm added) reuses finished loops
    more = evaluate(config.model_copy(update={"arms": ["causal-walk", "replay", "rule-based"]}), tmp_path)
    assert sum("loop reused" in n for n in more.summary.notes) == 2
    third = pd.read_parquet(tmp_path / "scenarios.parquet")
    assert set(third["arm"]) == {"causal-walk", "replay", "rule-based"}
    pd.testing.assert_frame_equal(second[cols].reset_index(drop=True),
                                  third[third["arm"] != "rule-based"][cols].reset_index(drop=True))


@pytest.mark.ns3
@pytest.mark.slow
@pytest.mark.llm
@pytest.mark.timeout(900)
def test_the_llm_arm_runs_with_smollm2_or_is_skipped_with_a_note(tmp_path: Path) -> None:
    """CI size for the real LLM: one network, one seed, one scenario (SmolLM2 takes ~10 s a call)."""
    config = EvalConfig(networks=["abilene"], seeds=[1], budget=1, iterations=1, arms=["llm", "causal-walk"],
                        params=SHORT, max_events=2, mitigate_top=1)
    r = evaluate(config, tmp_path)
    why = llm_unavailable(config.llm_options)
    if why:
        assert r.summary.arms_run == ["causal-walk"]
        assert any("LLM arms skipped (llm)" in n for n in r.summary.notes), r.summary.notes
        return
    row = r.loops.set_index("arm").loc["llm"]
    assert row["llm_calls"] >= 1 and row["budget_used"] <= 1
    assert math.isfinite(row["validity_after_repair"])
