"""Every file in ``examples/`` runs as it is, through the command line (with short simulation times)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ani.kg.event_types import EventType
from ani.kg.scenario import load_scenario
from ani.orchestrator.cli import main

pytestmark = [pytest.mark.ns3, pytest.mark.slow]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCENARIOS = sorted((EXAMPLES / "scenarios").glob("*.json"))
ON_ABILENE = [p for p in SCENARIOS if p.stem not in ("srlg_cut", "alpine_tunnel_cut")]
SHORT = {"warmup_s": 0.2, "observe_s": 0.4, "drain_s": 0.2}
SHORT_ARGS = [a for k, v in SHORT.items() for a in ("--param", f"{k}={v}")]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("example-runs")


def ani(*args: str) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, f"ani {' '.join(args)}:\n{res.output}"
    return res.output


def test_there_is_a_scenario_for_every_event_type() -> None:
    types = {e.event_type for p in SCENARIOS for e in load_scenario(p).events}
    assert types == set(EventType)


@pytest.mark.parametrize("path", ON_ABILENE, ids=[p.stem for p in ON_ABILENE])
def test_each_abilene_scenario_runs(path: Path, results: Path) -> None:
    out = ani("run", str(path), "--topology", "abilene", "--no-baseline", "--results", str(results), *SHORT_ARGS)
    assert f"scenario {load_scenario(path).name} on Abilene" in out and "scenario  ok" in out


def test_the_fibre_cut_runs_against_its_baseline_with_a_map(results: Path) -> None:
    out = ani("run", str(EXAMPLES / "scenarios" / "fiber_link_failure.json"), "--topology", "abilene", "--map",
              "--results", str(results), *SHORT_ARGS)
    assert "impacted flows" in out and "map: " in out
    png = Path(out.split("map: ")[1].split()[0])
    assert png.is_file() and png.parent.name.startswith("fiber-cut-denver-kansas-city")


def test_the_demand_matrix_replaces_the_gravity_traffic(results: Path) -> None:
    out = ani("run", str(EXAMPLES / "scenarios" / "fiber_link_failure.json"), "--topology", "abilene",
              "--demands", str(EXAMPLES / "demands-abilene.csv"), "--no-baseline", "--results", str(results),
              *SHORT_ARGS)
    assert "10 demand flows" in out and "as given" in out


def test_declared_srlgs_make_the_srlg_cut_runnable(results: Path, tmp_path: Path) -> None:
    kg = tmp_path / "abilene-srlgs.yaml"
    ani("kg", "build", "abilene", "--srlgs", str(EXAMPLES / "srlgs.yaml"), "-o", str(kg))
    assert "i70-corridor" in ani("kg", "show", str(kg))
    out = ani("run", str(EXAMPLES / "scenarios" / "srlg_cut.json"), "--topology", str(kg), "--no-baseline",
              "--results", str(results), *SHORT_ARGS)
    assert "scenario  ok" in out


def test_the_own_network_shows_its_links_and_runs_its_srlg_cut(results: Path) -> None:
    net = str(EXAMPLES / "own-network.yaml")
    shown = ani("kg", "show", net, "--links")
    assert "Zurich-Milan" in shown and "alps-tunnel" in shown
    out = ani("run", str(EXAMPLES / "scenarios" / "alpine_tunnel_cut.json"), "--topology", net, "--results",
              str(results), *SHORT_ARGS)
    assert "scenario alpine-tunnel-cut on Alpine" in out and "impacted flows" in out


def test_the_campaign_plans_and_a_short_copy_of_it_runs(tmp_path: Path) -> None:
    assert "32 runs (24 scenario, 8 baseline)" in ani("campaign", "plan", str(EXAMPLES / "campaign.yaml"),
                                                      "--store", str(tmp_path / "plan-store"))
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy)
    data = yaml.safe_load((copy / "campaign.yaml").read_text())
    data.update(params={**SHORT, "load_factor": 0.4}, seeds=[1])
    data["scenarios"] = [{"files": ["scenarios/fiber_link_failure.json"]}]
    (copy / "campaign.yaml").write_text(yaml.safe_dump(data))
    out = ani("campaign", "run", str(copy / "campaign.yaml"), "--store", str(tmp_path / "store"), "--no-progress")
    assert "failed 0" in out or "ok 3" in out, out
    assert "ok 3" in ani("campaign", "status", str(tmp_path / "store"))
