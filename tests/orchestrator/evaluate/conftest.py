"""Fixtures of the map and report tests: a real fibre cut on Abilene against its baseline, and a small campaign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_helpers import write_campaign
from loop_helpers import SHORT

from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_topology
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.scenario_run import ScenarioResult, run_scenario

CUT = Scenario(name="cut", events=[Event(event_type="fiber_link_failure", target="Denver-Kansas_City",
                                         timestamp=0.4)])


@pytest.fixture(scope="session")
def cut_run(tmp_path_factory: pytest.TempPathFactory) -> ScenarioResult:
    """The Denver-Kansas City fibre cut and its baseline (short runs, a few seconds)."""
    template = get_template("ospf_failure")
    result = run_scenario(load_topology("abilene"), CUT, template, template.params(SHORT),
                          tmp_path_factory.mktemp("map-runs"))
    assert result.scenario.status == "ok" and result.baseline is not None and result.baseline.status == "ok"
    return result


@pytest.fixture(scope="session")
def cut_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A campaign store: two fibre cuts on Abilene, one seed, with their shared baseline (3 runs)."""
    from ani.orchestrator.campaign.driver import run_campaign
    from ani.orchestrator.campaign.progress import NullProgress
    from ani.orchestrator.campaign.store import CampaignStore
    from ani.orchestrator.execute.executors import LocalExecutor

    root = tmp_path_factory.mktemp("campaign")
    (root / "scenarios").mkdir()
    for i, link in enumerate(["Denver-Kansas_City", "Chicago-New_York"]):
        (root / "scenarios" / f"cut{i}.json").write_text(json.dumps(
            [{"event_type": "fiber_link_failure", "target": link, "timestamp": 0.4}]))
    path = write_campaign(root, scenarios={"files": ["scenarios/*.json"]}, baseline=True)
    store = CampaignStore(root / "store")
    with LocalExecutor(store.runs_root, 120, workers=2) as executor:
        summary = run_campaign(path, store, executor, NullProgress())
    assert summary.ok == 3
    return root / "store"
