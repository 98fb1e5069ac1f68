"""Nothing escapes the results folder: names from data become safe, bounded path components (issue 16)."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from ani.kg.errors import ProjectError, SimulationError, TemplateError, UnsafePathError
from ani.kg.safety import MAX_NAME_CHARS, ensure_under, safe_name, shorten
from ani.kg.scenario import Event, EventType, Scenario
from ani.kg.topology import load_topology
from ani.ns3_scenarios.build import check_modules, wheel_modules
from ani.ns3_scenarios.render import render, write_run_folder
from ani.ns3_scenarios.templates import get_template, load_template
from ani.orchestrator.execute.records import load_record
from ani.orchestrator.execute.run import failure_record, run_folder

HOSTILE_NAMES = ["../../../x", "/etc/passwd", "a/b/c", "..", ".", "line\nbreak", "nul\0byte", "x" * 5000,
                 "-rf", " ", "ünïcödé", "a\\..\\b", "$(touch pwned)", "~root", "ok.name"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_name_is_one_bounded_component(name: str) -> None:
    out = safe_name(name)
    assert 1 <= len(out) <= MAX_NAME_CHARS
    assert out not in (".", "..") and "/" not in out and "\0" not in out and "\n" not in out
    assert out[0] not in ".-"
    assert Path(out).name == out


def test_safe_names_keep_safe_names_and_separate_distinct_ones() -> None:
    assert safe_name("abilene-fiber-cut") == "abilene-fiber-cut"
    assert safe_name("a/b") != safe_name("a_b") and safe_name("a/b") != safe_name("a:b")
    assert safe_name("x" * 5000) != safe_name("x" * 5001)


def test_ensure_under_refuses_paths_outside_the_root(tmp_path: Path) -> None:
    ensure_under(tmp_path / "a" / "b", tmp_path)
    for bad in (tmp_path / ".." / "x", Path("/etc/x")):
        with pytest.raises(UnsafePathError, match="outside the results folder"):
            ensure_under(bad, tmp_path)
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(UnsafePathError):
        ensure_under(tmp_path / "link" / "x", tmp_path)


def test_shorten_bounds_long_values() -> None:
    assert len(shorten("x" * 10_000)) < 120 and "10002 chars" in shorten("x" * 10_000)


@pytest.fixture(scope="module")
def abilene():
    return load_topology("abilene")


def _spec(g, name: str):
    scenario = Scenario(events=[Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City",
                                      timestamp=1.0)])
    scenario = scenario.model_copy(update={"name": name})  # past validation: the path is safe anyway
    template = get_template("ospf_failure")
    return render(template, scenario, g, template.params({"observe_s": 0.2}))


@pytest.mark.parametrize("name", ["../../../x", "/abs/olute", "new\nline", "nul\0", "y" * 200])
def test_a_hostile_scenario_name_stays_under_the_results_folder(tmp_path: Path, abilene, name: str) -> None:
    results = tmp_path / "results"
    spec = _spec(abilene, name)
    folder = run_folder(spec, results)
    assert results.resolve() in folder.resolve().parents
    record = failure_record(spec, results, "refused")
    written = {p for p in tmp_path.rglob("*")}
    assert all(results in p.parents or p == results for p in written), written
    assert load_record(Path(record.folder)).scenario_name == name  # the original is kept in the record


@pytest.mark.parametrize("graph_name", ["../../up", "/root/x", "a/b/c", "tab\tand\nnewline"])
def test_a_hostile_graph_name_stays_one_folder_under_the_results(tmp_path: Path, abilene, graph_name: str) -> None:
    g = abilene.copy()
    g.graph["name"] = graph_name
    results = tmp_path / "results"
    folder = run_folder(_spec(g, "s"), results)
    assert folder.parent.parent == results and "\n" not in str(folder)


def test_modules_are_those_the_wheel_ships() -> None:
    assert {"core", "network", "internet", "point-to-point"} <= wheel_modules()
    for bad in ["core $(touch /tmp/x)", "-fplugin=/tmp/evil.so", "core;id", "../core", "nonexistent-module", ""]:
        with pytest.raises(SimulationError, match="unknown ns-3 module"):
            check_modules([bad])


@pytest.mark.parametrize("modules", ['["core $(touch /tmp/ani_pwned)"]', '["-fplugin=/tmp/evil.so"]'])
def test_a_manifest_module_that_is_not_a_module_is_refused(tmp_path: Path, modules: str) -> None:
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "scenario.cc").write_text("int main() {}\n")
    (folder / "manifest.toml").write_text(
        f'name = "evil"\nversion = 1\ndescription = "d"\nevents = ["router_failure"]\nns3_modules = {modules}\n'
        '[parameters.seed]\ntype = "int"\ndefault = 1\ndescription = "s"\n')
    with pytest.raises(TemplateError, match="unknown ns-3 module") as err:
        load_template(folder)
    assert "manifest.toml" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("field, value, message", [
    ("min", "nan", "finite"), ("max", "inf", "finite"), ("default", "nan", "not a valid"),
    ("min", "5.0\nmax = 1.0", "above max"),
])
def test_manifest_numbers_are_finite_and_ordered(tmp_path: Path, field: str, value: str, message: str) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "scenario.cc").write_text("int main() {}\n")
    default = value if field == "default" else "1.0"
    extra = f"{field} = {value}\n" if field != "default" else ""
    (folder / "manifest.toml").write_text(
        'name = "t"\nversion = 1\ndescription = "d"\nevents = ["router_failure"]\nns3_modules = ["core"]\n'
        f'[parameters.x]\ntype = "float"\ndefault = {default}\ndescription = "x"\n{extra}')
    with pytest.raises(TemplateError, match=message):
        load_template(folder)


def test_unknown_event_types_in_a_manifest_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "scenario.cc").write_text("int main() {}\n")
    (folder / "manifest.toml").write_text(
        'name = "t"\nversion = 1\ndescription = "d"\nevents = ["meteor_strike"]\nns3_modules = ["core"]\n'
        '[parameters.x]\ntype = "float"\ndefault = 1.0\ndescription = "x"\n')
    with pytest.raises(TemplateError, match="unknown event type"):
        load_template(folder)


def test_a_long_extends_chain_is_refused(tmp_path: Path) -> None:
    for i in range(1, 40):
        (tmp_path / f"t{i}").mkdir()
        (tmp_path / f"t{i}" / "manifest.toml").write_text(
            f'name = "t{i}"\nversion = 1\ndescription = "d"\nextends = "{"t" + str(i - 1) if i > 1 else "ospf_failure"}"\n')
    with pytest.raises(TemplateError, match="chain longer than"):
        load_template(tmp_path / "t39")
    load_template(tmp_path / "t10")  # a reasonable chain still works


def test_run_sh_quotes_every_word(tmp_path: Path, abilene) -> None:
    spec = _spec(abilene, "s")
    write_run_folder(spec, tmp_path)
    script = (tmp_path / "run.sh").read_text()
    compile_line = next(line for line in script.splitlines() if "-std=c++20" in line).strip()
    words = shlex.split(compile_line)
    assert any(w.startswith("-I$NS3") or w == '-I"$NS3"/include' or "$NS3" in w for w in words)
    assert "$(" not in script.replace('"$(dirname "$0")"', "")
    assert os.stat(tmp_path / "run.sh").st_mode & stat.S_IXUSR
    proc = subprocess.run(["sh", "-n", str(tmp_path / "run.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_errors_are_project_errors() -> None:
    assert issubclass(UnsafePathError, ProjectError) and issubclass(UnsafePathError, ValueError)


@pytest.mark.parametrize("name", ["../../escape", "/tmp/abs", "a/b", "x" * 300])
def test_generated_scenario_files_stay_in_their_folder(tmp_path: Path, name: str) -> None:
    from ani.orchestrator.cli.generate import _write
    from ani.orchestrator.evaluate.networks import write_incidents

    scenario = Scenario().model_copy(update={"name": name})  # as a generator might hand it over
    out = tmp_path / "out"
    _write(out, [scenario], {})
    paths = write_incidents([scenario], tmp_path / "incidents")
    written = [p for p in tmp_path.rglob("*.json")]
    assert len(written) == 3 and all(p.parent in (out, tmp_path / "incidents") for p in written)
    assert all(len(p.name) < 100 for p in written) and paths[0].parent == tmp_path / "incidents"
    assert json.loads((paths[0]).read_text())["name"] == name


@pytest.mark.parametrize("network", ["../../../up", "/abs/net", "a/b/c", "line\nbreak", "n" * 400])
def test_a_graphml_network_name_is_one_safe_folder_under_the_results(tmp_path: Path, network: str) -> None:
    from xml.sax.saxutils import escape

    nodes = "".join(f'<node id="{i}"><data key="l">{x}</data></node>' for i, x in enumerate("ABC"))
    edges = "".join(f'<edge source="{i}" target="{(i + 1) % 3}"/>' for i in range(3))
    (tmp_path / "g.graphml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key attr.name="label" attr.type="string" for="node" id="l"/>'
        '<key attr.name="Network" attr.type="string" for="graph" id="g"/>'
        f'<graph edgedefault="undirected"><data key="g">{escape(network)}</data>{nodes}{edges}</graph></graphml>')
    from ani.kg.topology import load_graphml

    g = load_graphml(tmp_path / "g.graphml")
    template = get_template("ospf_failure")
    spec = render(template, Scenario(name="s"), g, template.params({"observe_s": 0.2}))
    results = tmp_path / "results"
    record = failure_record(spec, results, "refused")
    folder = Path(record.folder)
    assert folder.parent.parent == results and len(folder.parent.name) <= MAX_NAME_CHARS
    assert "\n" not in str(folder) and record.graph_name == g.graph["name"]
    assert not (tmp_path / "up").exists() and not Path("/abs/net").exists()


@pytest.mark.parametrize("field", ["extends", "program", "name"])
def test_over_long_names_in_a_manifest_are_manifest_errors(tmp_path: Path, field: str) -> None:
    """Found by the fuzz sweep: 300-character names made the file lookups raise ENAMETOOLONG."""
    long = "x" * 300 + (".cc" if field == "program" else "")
    fields = {"name": "mine", "extends": "ospf_failure", field: long}
    (tmp_path / "manifest.toml").write_text(
        "version = 1\ndescription = 'd'\n" + "".join(f'{k} = "{v}"\n' for k, v in fields.items()))
    with pytest.raises(TemplateError, match=field):
        load_template(tmp_path)
