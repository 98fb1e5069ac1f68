"""The ``ani`` command line, run as a user runs it: a subprocess, exit codes and output."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANI = [sys.executable, "-m", "ani.orchestrator.cli"]


def ani(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ANI, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def write_scenario(path: Path, events: list[dict]) -> Path:
    path.write_text(json.dumps(events))
    return path


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.mark.ns3
@pytest.mark.slow
def test_demo_prints_the_kpi_table(tmp_path: Path) -> None:
    proc = ani("demo", "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "scenario abilene-fiber-cut on Abilene" in out
    assert "baseline  ok" in out and "scenario  ok" in out
    assert "reroute time median" in out and "disrupted flows" in out
    runs = list((tmp_path / "results" / "Abilene").glob("*/run.json"))
    assert len(runs) == 2


@pytest.mark.ns3
def test_run_paper_encoded_scenario_on_a_zoo_graphml(tmp_path: Path, shared_data: Path) -> None:
    """The paper's appendix A.2 encoding, on a real Topology Zoo file, without a baseline."""
    graphml = shared_data / "topologyzoo" / "Abilene.graphml"
    scenario = write_scenario(tmp_path / "s.json", [
        {"event_type": "router_failure", "target": "Denver", "timestamp": 0.4, "severity": "high"}])
    proc = ani("run", str(scenario), "--topology", str(graphml), "--no-baseline", "--results",
               str(tmp_path / "r"), "--param", "observe_s=0.5", "--param", "warmup_s=0.2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "scenario  ok" in proc.stdout
    record = json.loads(next((tmp_path / "r").glob("*/*/run.json")).read_text())
    assert record["status"] == "ok" and record["kpis"]["no_route_packets"] > 0


@pytest.mark.ns3
def test_run_reuses_a_finished_run_and_refuses_two_executors(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "s.json", [
        {"event_type": "fiber_link_failure", "target": "Denver-Kansas_City", "timestamp": 0.4}])
    args = ["run", str(scenario), "--topology", "abilene", "--results", str(tmp_path / "r"),
            "--param", "observe_s=0.5", "--param", "warmup_s=0.2"]
    first = ani(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    records = {p: p.read_text() for p in (tmp_path / "r").glob("*/*/run.json")}
    assert len(records) == 2
    again = ani(*args, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert {p: p.read_text() for p in records} == records  # nothing ran again (wall times unchanged)
    assert_clean_error(ani(*args, "--cluster", "tcp://x:1", "--docker", "img", cwd=tmp_path), "not both")


def test_unknown_link_is_a_clear_error(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "s.json", [
        {"event_type": "fiber_link_failure", "target": "Denver-Boston", "timestamp": 1.0, "severity": "high"}])
    proc = ani("run", str(scenario), "--topology", "abilene", "--results", str(tmp_path), cwd=tmp_path)
    assert_clean_error(proc, "unknown link 'Denver-Boston'", "Denver-")


def test_malformed_graphml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.graphml"
    bad.write_text('<?xml version="1.0"?>\n<graphml><graph edgedefault="undirected"><node id="a"/>\n<edge')
    scenario = write_scenario(tmp_path / "s.json", [])
    proc = ani("run", str(scenario), "--topology", str(bad), "--results", str(tmp_path), cwd=tmp_path)
    assert_clean_error(proc, "broken.graphml", "line")


@pytest.mark.parametrize("content, needle", [
    ("{not json", "not valid JSON"),
    ('[{"event_type": "meteor_strike", "target": "Denver", "timestamp": 1}]', "event_type"),
    ('[{"event_type": "router_failure", "target": "Denver", "timestamp": 2},'
     ' {"event_type": "router_restore", "target": "Denver", "timestamp": 1}]', "must not decrease"),
    ('[{"event_type": "router_failure", "target": "Denver", "timestamp": 1, "code": "rm -rf /"}]', "code"),
])
def test_invalid_scenario_files_are_clear_errors(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    proc = ani("run", str(path), "--topology", "abilene", "--results", str(tmp_path), cwd=tmp_path)
    assert_clean_error(proc, "s.json", needle)


def test_unexecutable_event_type_and_bad_parameter_are_clear_errors(tmp_path: Path) -> None:
    # a user template (a copy of the bundled one) that executes link failures only
    import ani.ns3_scenarios as pkg

    user = tmp_path / "links_only"
    shutil.copytree(Path(pkg.__file__).parent / "ospf_failure", user)
    manifest = (user / "manifest.toml").read_text()
    start = manifest.index("events = [")
    end = manifest.index("]", start) + 1
    (user / "manifest.toml").write_text(manifest[:start] + 'events = ["fiber_link_failure"]' + manifest[end:])
    scenario = write_scenario(tmp_path / "s.json", [
        {"event_type": "traffic_spike", "target": "Denver", "timestamp": 1.0, "severity": "high"}])
    proc = ani("run", str(scenario), "--topology", "abilene", "--template", str(user), "--results",
               str(tmp_path), cwd=tmp_path)
    assert_clean_error(proc, "traffic_spike", "executes only")
    ok = write_scenario(tmp_path / "ok.json", [])
    proc = ani("run", str(ok), "--topology", "abilene", "--param", "spf_delay_s=-1", cwd=tmp_path)
    assert_clean_error(proc, "spf_delay_s", "minimum")
    proc = ani("run", str(ok), "--topology", "abilene", "--param", "nonsense=1", cwd=tmp_path)
    assert_clean_error(proc, "unknown parameter", "nonsense")


def test_missing_topology_file(tmp_path: Path) -> None:
    ok = write_scenario(tmp_path / "ok.json", [])
    proc = ani("run", str(ok), "--topology", str(tmp_path / "nope.graphml"), cwd=tmp_path)
    assert_clean_error(proc, "nope.graphml")


def test_console_script_is_installed() -> None:
    exe = shutil.which("ani", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "demo" in proc.stdout and "run" in proc.stdout


@pytest.mark.ns3
def test_run_on_a_project_yaml_cuts_its_declared_srlg(tmp_path: Path) -> None:
    """`ani run --topology kg.yaml`: the project's own format, with an SRLG declared in it."""
    (tmp_path / "srlgs.yaml").write_text("- {id: west, links: [Seattle-Sunnyvale, Sunnyvale-Los_Angeles]}\n")
    build = ani("kg", "build", "abilene", "-o", "kg.yaml", "--srlgs", "srlgs.yaml", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    scenario = write_scenario(tmp_path / "s.json", [
        {"event_type": "srlg_cut", "target": "srlg:west", "timestamp": 0.3, "severity": "high"}])
    proc = ani("run", str(scenario), "--topology", "kg.yaml", "--no-baseline", "--results", str(tmp_path / "r"),
               "--param", "observe_s=0.5", "--param", "warmup_s=0.2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = next((tmp_path / "r").glob("*/*/run.json")).parent
    assert "srlg_cut,srlg:west,reconverge" in (folder / "events.csv").read_text()
    link_ids = [line.split()[-1] for line in (folder / "input.txt").read_text().splitlines()
                if line.startswith("link ")]
    event = next(line.split() for line in (folder / "input.txt").read_text().splitlines()
                 if line.startswith("event "))
    assert event[8:10] == ["link", "2"], event  # both member links
    assert {link_ids[int(i)] for i in event[10:]} == {"Seattle-Sunnyvale", "Sunnyvale-Los_Angeles"}
    # an SRLG the file does not declare is a clear error naming it
    bad = write_scenario(tmp_path / "bad.json", [{"event_type": "srlg_cut", "target": "srlg:east", "timestamp": 0.3}])
    assert_clean_error(ani("run", str(bad), "--topology", "kg.yaml", "--no-baseline", "--results",
                           str(tmp_path / "r"), cwd=tmp_path), "east")


@pytest.mark.ns3
def test_run_with_a_demand_matrix_uses_exactly_those_demands(tmp_path: Path) -> None:
    """--demands replaces the gravity traffic: one flow per matrix entry (rates scaled like the links), plus
    the probes; the run says so; a demand naming an unknown PoP is a one-line error."""
    scenario = write_scenario(tmp_path / "s.json", [
        {"event_type": "fiber_link_failure", "target": "Denver-Kansas_City", "timestamp": 0.4}])
    matrix = tmp_path / "tm.csv"
    matrix.write_text("src,dst,rate_bps\nSeattle,New_York,2e9\nAtlanta,Denver,1e9\n")
    args = ["run", str(scenario), "--topology", "abilene", "--results", str(tmp_path / "r"), "--demands",
            str(matrix), "--param", "observe_s=0.5", "--param", "warmup_s=0.2"]
    proc = ani(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "traffic: 2 demand flows (as given)" in proc.stdout
    with next((tmp_path / "r").glob("*/s-*/flows.csv")).open(newline="") as f:
        flows = list(csv.DictReader(f))
    demand = sorted((f["src"], f["dst"], float(f["rate_bps"])) for f in flows if f["class"] == "demand")
    assert demand == [("Atlanta", "Denver", 1e9 * 0.01), ("Seattle", "New_York", 2e9 * 0.01)]
    matrix.write_text("src,dst,rate_bps\nSeattle,Atlantis,2e9\n")
    assert_clean_error(ani(*args, cwd=tmp_path), "Atlantis", "tm.csv")
