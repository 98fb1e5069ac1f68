"""``ani run --check``: the run and its baseline against the independent computations, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ani.orchestrator.cli.main import main
from ani.orchestrator.measure import check_run

pytestmark = [pytest.mark.ns3, pytest.mark.slow]
ANI = [sys.executable, "-m", "ani.orchestrator.cli"]


def _scenario(path: Path, event_type: str, target: str) -> Path:
    path.write_text(json.dumps({"name": "s", "events": [{"event_type": event_type, "target": target,
                                                         "timestamp": 1.0, "severity": "high"}]}))
    return path


def test_a_cut_that_congests_sunet_is_confirmed(tmp_path: Path, shared_data: Path) -> None:
    """Default parameters on a Topology Zoo network where the cut overloads the detour: both runs confirmed."""
    graphml = shared_data / "topologyzoo" / "Sunet.graphml"
    if not graphml.is_file():
        pytest.skip(f"{graphml} is absent (Topology Zoo data)")
    s = _scenario(tmp_path / "cut.json", "fiber_link_failure", "Stockholm-Uppsala")
    proc = subprocess.run([*ANI, "run", str(s), "--topology", str(graphml), "--results", str(tmp_path / "r"),
                           "--check"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check baseline: confirmed" in proc.stdout
    assert "check scenario: confirmed (packet balance, probes' reroute times" in proc.stdout


def test_other_scenarios_get_the_packet_balance_and_say_so(tmp_path: Path) -> None:
    s = _scenario(tmp_path / "r.json", "router_failure", "Denver")
    proc = subprocess.run([*ANI, "run", str(s), "--topology", "abilene", "--results", str(tmp_path / "r"),
                           "--check"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check scenario: confirmed (packet balance only" in proc.stdout


def test_a_disagreement_is_printed_and_exits_1(tmp_path: Path, monkeypatch) -> None:
    """The verdict's wiring (the checks themselves can fail: tests/ns3_scenarios/twin/test_validation*.py):
    a disagreement (here injected by replacing the cut checks: a stand-in) prints and exits 1."""
    monkeypatch.setattr(check_run, "cut_checks", lambda *a, **k: ["probe X -> Y: injected disagreement"])
    res = CliRunner().invoke(main, ["demo", "--results", str(tmp_path / "r"), "--check"])
    assert res.exit_code == 1
    assert "check scenario: DISAGREES: probe X -> Y: injected disagreement" in res.output
