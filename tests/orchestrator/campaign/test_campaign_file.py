"""Campaign files and planning: YAML/TOML, the grid, run ids that hash what determines a result, clear errors.

Planning renders real run specs (the bundled template, the embedded Abilene
network); nothing is compiled or run here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ani.kg.errors import ProjectError, TemplateError
from ani.orchestrator.campaign.plan import Campaign, CampaignError, GeneratorSource, load_campaign, plan_campaign
from campaign_helpers import CUTS, SHORT, ani, make_scenarios, write_campaign


STEER = {"kind": "set_cost", "target": "Denver-Kansas_City", "value": 100, "at_s": 0.5}


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "scenarios").mkdir()
    make_scenarios(tmp_path / "scenarios")
    return tmp_path


def _plan(path: Path):
    return plan_campaign(load_campaign(path), path.parent)


def test_yaml_and_toml_campaigns_plan_the_same_runs(folder: Path) -> None:
    fields = {"scenarios": {"files": ["scenarios/*.json"]}, "params": {**SHORT, "load_factor": [0.4, 0.6]},
              "seeds": [1, 2]}
    from_yaml = _plan(write_campaign(folder, "a", ".yaml", **fields))
    from_toml = _plan(write_campaign(folder, "b", ".toml", **fields))
    assert from_yaml.ids() == from_toml.ids()
    assert len(from_yaml.runs) == 2 * 2 * len(CUTS)  # load factors x seeds x scenarios (no baseline)


def test_the_grid_is_the_product_and_scenarios_share_their_baseline(folder: Path) -> None:
    plan = _plan(write_campaign(folder, scenarios={"files": ["scenarios/*.json"]}, baseline=True,
                                params={**SHORT, "load_factor": [0.4, 0.6]}, seeds={"start": 1, "count": 3}))
    scenarios = [r for r in plan.runs if r.role == "scenario"]
    baselines = [r for r in plan.runs if r.role == "baseline"]
    assert len(scenarios) == 2 * 3 * len(CUTS)
    # both cuts happen at 0.4 s: same traffic window and probes, so one baseline per (load, seed)
    assert len(baselines) == 2 * 3
    assert {r.baseline_run_id for r in scenarios} == {b.run_id for b in baselines}
    assert len(set(plan.ids())) == len(plan.runs)
    assert {(r.overrides["load_factor"], r.seed) for r in baselines} == {
        (lf, s) for lf in (0.4, 0.6) for s in (1, 2, 3)}


def test_run_ids_hash_everything_that_determines_a_result_and_nothing_else(folder: Path) -> None:
    base = {"scenarios": {"files": ["scenarios/cut-denver.json"]}}
    ids = _plan(write_campaign(folder, "one", **base)).ids()
    assert _plan(write_campaign(folder, "renamed", description="other words", **base)).ids() == ids
    assert _plan(write_campaign(folder, "seed", seeds=[2], **base)).ids() != ids
    assert _plan(write_campaign(folder, "param", params={**SHORT, "spf_delay_s": 0.5}, **base)).ids() != ids
    (folder / "later.json").write_text(json.dumps([{**CUTS["cut-denver.json"][0], "timestamp": 0.45}]))
    assert _plan(write_campaign(folder, "event", scenarios={"files": ["later.json"]})).ids() != ids
    spec = _plan(write_campaign(folder, "one", **base)).runs[0].spec
    assert spec.ns3_version and spec.template_digest and spec.graph_digest


@pytest.mark.parametrize(("fields", "needle"), [
    ({"topologies": []}, "topologies"),
    ({"colour": "red"}, "colour"),
    ({"params": {"seed": 3}}, "give seeds with `seeds:`"),
    ({"mitigations": [{"name": "none", "apply": [STEER]}]}, "not 'none'"),
    ({"mitigations": [{"name": "m", "apply": [{**STEER, "kind": "pray"}]}]}, "mitigations.0.apply.0.kind"),
    ({"retries": -1}, "retries"),
    ({"scenarios": {"files": []}}, "files"),
])
def test_invalid_campaign_files_name_the_file_and_the_field(folder: Path, fields: dict, needle: str) -> None:
    path = write_campaign(folder, "bad", **({"scenarios": {"files": ["scenarios/*.json"]}} | fields))
    with pytest.raises(CampaignError, match="bad.yaml") as info:
        load_campaign(path)
    assert needle in str(info.value)


def test_files_that_are_not_campaigns_are_refused(folder: Path) -> None:
    (folder / "c.json").write_text("{}")
    (folder / "broken.yaml").write_text("name: [unclosed\n")
    (folder / "list.yaml").write_text("- a\n- b\n")
    for name, needle in [("c.json", ".yaml, .yml or .toml"), ("broken.yaml", "not valid YAML"),
                         ("list.yaml", "mapping"), ("absent.yaml", "cannot read")]:
        with pytest.raises(CampaignError, match=needle):
            load_campaign(folder / name)


def test_planning_errors_name_the_pattern_the_parameter_or_the_generator(folder: Path) -> None:
    with pytest.raises(CampaignError, match="nothing-here"):
        _plan(write_campaign(folder, scenarios={"files": ["nothing-here/*.json"]}))
    with pytest.raises(TemplateError, match="warp_factor"):
        _plan(write_campaign(folder, scenarios={"files": ["scenarios/*.json"]}, params={"warp_factor": 9}))
    path = write_campaign(folder, scenarios={"generator": "no-such-generator", "n": 5})
    assert isinstance(load_campaign(path).scenarios[0], GeneratorSource)
    with pytest.raises(CampaignError, match="no-such-generator"):
        _plan(path)


def test_generated_scenarios_are_planned_and_frozen_in_the_store(folder: Path) -> None:
    pytest.importorskip("ani.llm.base", reason="the scenario generators (ani.llm) are not installed")
    path = write_campaign(folder, scenarios=[{"files": ["scenarios/cut-denver.json"]},
                                             {"generator": "random", "n": 3, "seed": 5}])
    snapshots = folder / "store" / "scenarios"
    plan = plan_campaign(load_campaign(path), folder, snapshots)
    generated = [r for r in plan.runs if r.scenario_source.startswith("random:5#")]
    # the random baseline generator keeps invalid scenarios on purpose: those are left out, with their reason
    assert len(generated) + len(plan.rejected) == 3 and len(plan.runs) == 1 + len(generated)
    assert all(line.startswith("abilene random:5#") for line in plan.rejected)
    (frozen,) = snapshots.glob("random-*.json")
    assert len(json.loads(frozen.read_text())) == 3
    assert plan_campaign(load_campaign(path), folder, snapshots).ids() == plan.ids(), "read back, not regenerated"


def test_each_mitigation_set_adds_a_counterfactual_run_of_each_scenario_sharing_its_baseline(folder: Path) -> None:
    sets = [{"name": "steer", "apply": [STEER]},
            {"name": "double", "apply": [{"kind": "scale_capacity", "target": "Denver-Kansas_City", "value": 2,
                                          "at_s": 0.5}]}]
    plan = _plan(write_campaign(folder, scenarios={"files": ["scenarios/*.json"]}, baseline=True, mitigations=sets))
    scenarios = [r for r in plan.runs if r.role == "scenario"]
    assert len(scenarios) == len(CUTS) * 3 and len({r.run_id for r in scenarios}) == len(scenarios)
    assert sorted(str(r.mitigation) for r in scenarios) == sorted(["None", "steer", "double"] * len(CUTS))
    assert len({r.baseline_run_id for r in scenarios}) == 1, "one unmitigated no-failure baseline"
    steered = next(r for r in scenarios if r.mitigation == "steer")
    assert "mitigation 0" in steered.spec.input_text() and "set_cost" in steered.spec.input_text()
    with pytest.raises(ProjectError, match="Nowhere"):
        _plan(write_campaign(folder, "typo", scenarios={"files": ["scenarios/*.json"]},
                             mitigations=[{"name": "m", "apply": [{**STEER, "target": "Nowhere-Denver"}]}]))


def test_seed_ranges_and_grids_expand_in_order() -> None:
    c = Campaign(name="x", topologies=["abilene"], scenarios={"files": ["*.json"]},
                 params={"b": [1, 2], "a": 0.5}, seeds={"start": 5, "count": 3})
    assert c.seed_list() == [5, 6, 7]
    assert c.grid() == [{"a": 0.5, "b": 1}, {"a": 0.5, "b": 2}]


def test_the_cli_plans_lists_and_refuses_a_bad_file_in_one_line(folder: Path) -> None:
    path = write_campaign(folder, scenarios={"files": ["scenarios/*.json"]}, seeds=[1, 2], baseline=True)
    proc = ani("campaign", "plan", str(path), "--list", "--store", str(folder / "store"), cwd=folder)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "6 runs (4 scenario, 2 baseline)" in lines[0] and "to run 6" in lines[0]
    assert len(lines) == 7 and all(" todo " in line for line in lines[1:])
    bad = write_campaign(folder, "bad", scenarios={"files": ["scenarios/*.json"]}, seeds="one")
    proc = ani("campaign", "plan", str(bad), cwd=folder)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "bad.yaml" in proc.stderr and "seeds" in proc.stderr
    assert isinstance(CampaignError("x"), ProjectError) and isinstance(CampaignError("x"), ValueError)


def test_a_project_yaml_topology_brings_its_declared_srlgs(folder: Path) -> None:
    """``topologies: [kg.yaml]``: the project's own format; an srlg_cut of a group it declares is planned."""
    from ani.kg.model import build_kg
    from ani.kg.srlg import Srlg
    from ani.kg.topology import load_topology
    from ani.kg.yamlio import write_kg

    kg = build_kg(load_topology("abilene"), srlgs=[Srlg(id="west", links=("Seattle-Sunnyvale", "Sunnyvale-Los_Angeles"))])
    write_kg(kg, folder / "kg.yaml")
    (folder / "cut.json").write_text(json.dumps([{"event_type": "srlg_cut", "target": "srlg:west", "timestamp": 0.3}]))
    plan = _plan(write_campaign(folder, topologies=["kg.yaml"], scenarios={"files": ["cut.json"]}))
    assert len(plan.runs) == 1 and not plan.rejected
    assert "srlg_cut 1.0 0.0 0.0 srlg:west link 2 0 2" in plan.runs[0].spec.input_text() and plan.runs[0].spec.graph_name == "Abilene"
