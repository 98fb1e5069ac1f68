"""``ani kg build|show|export|frontier|schema`` as a user runs them: subprocesses, exit codes, output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ani.kg.topology import load_graphml
from ani.kg.yamlio import read_kg

ANI = [sys.executable, "-m", "ani.orchestrator.cli", "kg"]


def ani(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ANI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_build_show_export_frontier(tmp_path: Path) -> None:
    (tmp_path / "srlgs.yaml").write_text("- {id: west, links: [Seattle-Sunnyvale, Sunnyvale-Los_Angeles]}\n")
    (tmp_path / "inc.csv").write_text("incident_id,component,event_type,start\n"
                                      "i1,Seattle-Sunnyvale,fiber_link_failure,0\ni1,Denver,router_overload,30\n")
    proc = ani("build", "abilene", "-o", "kg.yaml", "--srlgs", "srlgs.yaml", "--incidents", "inc.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote kg.yaml: Abilene: 11 nodes, 14 links, 1 SRLGs, 110 demands, 2 incidents" in proc.stdout
    kg = read_kg(tmp_path / "kg.yaml")
    assert kg.digest in proc.stdout and [s.id for s in kg.srlgs] == ["srlg:west"]

    show = ani("show", "kg.yaml", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "components: router 11, link 14, srlg 1" in show.stdout
    assert "SRLGs: 1, declared 1" in show.stdout and "historical 1" in show.stdout
    info = json.loads(ani("show", "kg.yaml", "--json", cwd=tmp_path).stdout)
    assert info["digest"] == kg.digest and info["counts"]["demands"] == 110

    for fmt in ("json", "graphml"):
        out = ani("export", "kg.yaml", "--format", fmt, "-o", f"out.{fmt}", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    assert read_kg(tmp_path / "out.json").digest == kg.digest
    assert load_graphml(tmp_path / "out.graphml").number_of_edges() == 14
    assert ani("export", "kg.yaml", cwd=tmp_path).stdout.startswith("name: Abilene")

    front = ani("frontier", "kg.yaml", "--failed", "Kansas_City-Denver", "--failed", "Seattle-Sunnyvale",
                "--top", "3", cwd=tmp_path)
    assert front.returncode == 0, front.stderr
    lines = front.stdout.splitlines()
    assert lines[0].startswith("frontier of Kansas_City-Denver, Seattle-Sunnyvale:")
    assert lines[1].startswith("  1. ") and len(lines) == 5 and lines[-1].startswith("... ")
    ranked = json.loads(ani("frontier", "kg.yaml", "--failed", "Seattle-Sunnyvale", "--json", cwd=tmp_path).stdout)
    assert ranked["Denver"] == ["router_overload"]  # historical edge from the incident file
    assert ranked["Seattle-Sunnyvale"] == ["link_restore"]


def test_build_from_caida_and_demand_options(tmp_path: Path) -> None:
    (tmp_path / "r.as-rel.txt").write_text("1|2|-1\n2|3|0\n3|1|-1\n")
    (tmp_path / "m.csv").write_text("src,dst,rate_bps\nAS1,AS3,1e6\n")
    proc = ani("build", "r.as-rel.txt", "-o", "as.json", "--demands", "m.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3 nodes, 3 links, 0 SRLGs, 1 demands" in proc.stdout
    none = ani("build", "abilene", "-o", "plain.yaml", "--demands", "none", "--no-derive-srlgs", cwd=tmp_path)
    assert none.returncode == 0 and "0 demands" in none.stdout
    schema = json.loads(ani("schema", cwd=tmp_path).stdout)
    assert schema["title"] == "KgFile"


@pytest.mark.parametrize(("args", "needles"), [
    (("show", "missing.graphml"), ("missing.graphml", "no such file")),
    (("show", "net.csv"), ("net.csv", "unknown network")),
    (("frontier", "abilene", "--failed", "Denvr"), ("unknown component 'Denvr'", "close matches: Denver")),
    (("frontier", "abilene"), ("give at least one --failed",)),
    (("build", "abilene", "-o", "kg.txt"), ("kg.txt: give a .yaml",)),
    (("build", "abilene", "-o", "kg.yaml", "--demands", "nope.csv"), ("nope.csv", "cannot read")),
    (("show", "bad.yaml"), ("bad.yaml: line 2: nodes[0].id",)),
    (("export", "abilene", "--format", "dot"), ("Invalid value for '--format'",)),
])
def test_mistakes_exit_non_zero_with_one_line(tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\nnodes: [{id: 'a-b'}]\nlinks: [{a: a, b: b}]\n")
    clean_error(ani(*args, cwd=tmp_path), *needles)
