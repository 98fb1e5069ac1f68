"""``ani generate``: exit codes, files written, metrics printed, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ani.kg.scenario import load_scenario
from ani.orchestrator.cli import main


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["generate", *args])
    return result.exit_code, result.output


def test_writes_one_runnable_file_per_scenario_and_prints_metrics(tmp_path: Path) -> None:
    code, out = _invoke("--generator", "causal-walk", "--topology", "abilene", "-n", "4", "--seed", "2",
                        "--max-events", "3", "--out", str(tmp_path / "out"))
    assert code == 0, out
    assert "generator causal-walk: requested 4, returned 4, first-try valid 4/4" in out
    assert "causal_valid_rate      1.000" in out and "mean_jaccard_distance" in out
    files = sorted((tmp_path / "out").glob("walk-*.json"))
    assert len(files) == 4
    for f in files:
        s = load_scenario(f)
        assert 1 <= len(s.events) <= 3 and s.provenance.generator == "causal-walk"
    summary = json.loads((tmp_path / "out" / "generation.json").read_text())
    assert summary["report"]["returned"] == 4 and summary["metrics"]["causal_valid_rate"] == 1.0
    assert summary["constraints"]["seed"] == 2 and summary["graph_digest"]


def test_random_baseline_reports_its_invalid_scenarios(tmp_path: Path) -> None:
    code, out = _invoke("--generator", "random", "--topology", "abilene", "-n", "10", "--out", str(tmp_path))
    assert code == 0, out
    assert "issues:" in out and "wrong_kind" in out


def test_template_restricts_event_types(tmp_path: Path) -> None:
    code, out = _invoke("--generator", "rule-based", "--topology", "abilene", "-n", "40", "--template",
                        "ospf_failure", "--event-type", "router_failure", "--out", str(tmp_path))
    assert code == 0, out
    kinds = {e.event_type.value for f in tmp_path.glob("rule-*.json") for e in load_scenario(f).events}
    assert kinds == {"router_failure"}


def test_replay_with_an_incident_file(tmp_path: Path) -> None:
    incidents = tmp_path / "incidents.csv"
    incidents.write_text("incident_id,component,event_type,start,end\n"
                         "i1,Denver-Kansas_City,fiber_link_failure,10,70\n")
    code, out = _invoke("--generator", "replay", "--topology", "abilene", "--incidents", str(incidents),
                        "--out", str(tmp_path / "o"))
    assert code == 0, out
    assert load_scenario(tmp_path / "o" / "incident-i1.json").events[-1].event_type.value == "link_restore"


@pytest.mark.parametrize(("args", "needle"), [
    (["--generator", "nope", "--topology", "abilene"], "Invalid value for '--generator'"),
    (["--generator", "replay", "--topology", "abilene"], "no historical incidents"),
    (["--generator", "causal-walk", "--topology", "nowhere.graphml"], "nowhere.graphml"),
    (["--generator", "causal-walk", "--topology", "abilene", "--min-events", "5", "--max-events", "2"],
     "--min-events 5 exceeds --max-events 2"),
    (["--generator", "llm", "--provider", "llamacpp", "--topology", "abilene", "-n", "1"], "needs --model PATH"),
    (["--generator", "composer", "--topology", "abilene", "--feedback", "missing.json"], "missing.json"),
])
def test_mistakes_exit_non_zero_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    code, out = _invoke(*args, "--out", str(tmp_path / "o"))
    assert code != 0
    assert needle in out and "Traceback" not in out


def test_feedback_file_feeds_the_composer(tmp_path: Path) -> None:
    feedback = tmp_path / "feedback.json"
    feedback.write_text(json.dumps({"past": [{"name": "p", "impact": 3.0, "kpis": {"loss_pct": 5.0}, "events": [
        {"event_type": "fiber_link_failure", "target": "Denver-Kansas_City", "timestamp": 1.0}]}]}))
    code, out = _invoke("--generator", "composer", "--topology", "abilene", "-n", "3", "--feedback", str(feedback),
                        "--out", str(tmp_path / "o"))
    assert code == 0, out
    assert "first-try valid 3/3" in out


@pytest.mark.ns3
@pytest.mark.slow
def test_a_generated_scenario_runs_in_the_twin(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "ani.orchestrator.cli"]
    gen = subprocess.run([*cmd, "generate", "--generator", "worst-case", "--topology", "abilene", "-n", "1",
                          "--max-events", "2", "--template", "ospf_failure", "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    [scenario] = (tmp_path / "s").glob("worst-*.json")
    run = subprocess.run([*cmd, "run", str(scenario), "--topology", "abilene", "--no-baseline",
                          "--param", "capacity_scale=0.01", "--results", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "scenario  ok" in run.stdout
