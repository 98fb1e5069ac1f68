"""Templates researchers edit: discovery, extends, validation, golden outputs, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ani.kg.errors import TemplateError
from ani.kg.topology import load_topology
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.templates import discover, get_template, load_template
from ani.orchestrator.measure.golden import check_golden

ANI = [sys.executable, "-m", "ani.orchestrator.cli"]


def ani(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ANI, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_bundled_templates_are_discovered_and_complete() -> None:
    found = discover()
    assert {"ospf_failure", "ddos_overload"} <= set(found)
    for t in found.values():
        assert (t.folder / "README.md").is_file() and (t.folder / "golden" / "expected.json").is_file()
        assert t.program_path.is_file()


def test_extends_inherits_program_and_changes_defaults_only() -> None:
    base, stress = get_template("ospf_failure"), get_template("ddos_overload")
    assert stress.program_path == base.program_path
    assert stress.params()["cascades"] is True and base.params()["cascades"] is False
    assert set(stress.manifest.parameters) == set(base.manifest.parameters)
    assert set(stress.manifest.events) < set(base.manifest.events)
    assert stress.digest() != base.digest()


@pytest.mark.parametrize("extra, message", [
    ('[defaults]\nno_such = 1\n', "unknown parameter"),
    ('[defaults]\nspf_delay_s = -3\n', "minimum"),
    ('events = ["meteor"]\n', "unknown event type"),
    ('[parameters.x]\ntype = "int"\ndefault = 1\ndescription = "x"\n', "changes 'defaults'"),
])
def test_bad_extending_manifests_are_refused_with_the_file_named(tmp_path: Path, extra: str, message: str) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "manifest.toml").write_text(
        f'name = "mine"\nversion = 1\ndescription = "d"\nextends = "ospf_failure"\n{extra}')
    with pytest.raises(TemplateError, match=message) as err:
        load_template(folder)
    assert "manifest.toml" in str(err.value)


def test_a_manifest_is_data_never_code(tmp_path: Path) -> None:
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "manifest.toml").write_text('name = "__import__(\'os\').system(\'touch pwned\')"\nversion = 1\n')
    with pytest.raises(TemplateError, match="invalid manifest"):
        load_template(folder)
    assert not (tmp_path / "pwned").exists()


def test_rendering_is_the_same_whatever_the_python_hash_seed() -> None:
    """Set iteration order changes with PYTHONHASHSEED; a run id must not."""
    code = ("from ani.kg.topology import load_topology; from ani.kg.scenario import Scenario, Event;"
            "from ani.ns3_scenarios.render import render; from ani.ns3_scenarios.templates import get_template;"
            "g = load_topology('abilene'); g.graph['srlgs'] = {'x': ['Denver-Kansas_City', 'Chicago-New_York']};"
            "t = get_template('ospf_failure');"
            "s = Scenario(events=[Event(event_type='traffic_spike', target='Denver', timestamp=1),"
            " Event(event_type='srlg_cut', target='srlg:x', timestamp=2)]);"
            "print(render(t, s, g, t.params()).run_id)")
    ids = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": str(seed)},
                          capture_output=True, text=True, check=True).stdout for seed in (1, 2, 3)}
    assert len(ids) == 1


def test_a_template_change_changes_the_run_id(tmp_path: Path) -> None:
    proc = ani("templates", "new", "mine", "--dest", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    mine = load_template(tmp_path / "mine")
    scenario = Scenario(events=[Event(event_type="fiber_link_failure", target="Denver-Kansas_City", timestamp=1)])
    g = load_topology("abilene")
    before = render(mine, scenario, g, mine.params()).run_id
    assert before == render(get_template("ospf_failure"), scenario, g, mine.params()).run_id
    header = tmp_path / "mine" / "input.h"  # a header of the program counts as much as the program
    header.write_text(header.read_text().replace("std::exit(2);", "std::exit(3);", 1))
    assert render(load_template(tmp_path / "mine"), scenario, g, mine.params()).run_id != before


def test_templates_cli_list_show_validate_new(tmp_path: Path) -> None:
    listing = ani("templates", "list", cwd=tmp_path)
    assert listing.returncode == 0 and "ospf_failure" in listing.stdout and "ddos_overload" in listing.stdout
    shown = ani("templates", "show", "ddos_overload", cwd=tmp_path)
    assert shown.returncode == 0 and "cascades" in shown.stdout and "detect_delay_s" in shown.stdout
    made = ani("templates", "new", "stress2", "--from", "ddos_overload", "--dest", str(tmp_path), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "stress2" / "scenario.cc").is_file()
    checked = ani("templates", "validate", str(tmp_path / "stress2"), cwd=tmp_path)
    assert checked.returncode == 0 and "program compiles" in checked.stdout
    listed = ani("templates", "list", "--dir", str(tmp_path), cwd=tmp_path)
    assert "stress2" in listed.stdout
    again = ani("templates", "new", "stress2", "--dest", str(tmp_path), cwd=tmp_path)
    assert again.returncode != 0 and "already exists" in again.stderr
    missing = ani("templates", "show", "nope", cwd=tmp_path)
    assert missing.returncode != 0 and "unknown template" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.ns3
@pytest.mark.parametrize("name", ["ospf_failure", "ddos_overload"])
def test_golden_output_reproduces(name: str, tmp_path: Path) -> None:
    assert check_golden(get_template(name), tmp_path) == []


@pytest.mark.ns3
def test_golden_check_notices_a_changed_result(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "ospf_failure"
    shutil.copytree(get_template("ospf_failure").folder, copy)
    params = json.loads((copy / "golden" / "params.json").read_text())
    (copy / "golden" / "params.json").write_text(json.dumps({**params, "seed": params["seed"] + 1}))
    assert check_golden(load_template(copy), tmp_path / "r") != []
