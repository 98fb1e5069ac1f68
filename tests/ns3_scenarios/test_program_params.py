"""The program's scalar parameters: one table in input.h, equal to the manifest, passed as --name=value.

The table and the program's reads are taken from the C++ text here (as
tests/kg/test_event_catalogue.py reads the program's event list) and the
manifest with tomllib, independently of ani.ns3_scenarios.program_params.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest

from ani.kg.errors import TemplateError
from ani.kg.scenario import Event, EventType, Scenario
from ani.kg.topology import load_topology
from ani.ns3_scenarios.program_params import format_value, program_args, program_parameters
from ani.ns3_scenarios.render import program_command, render, write_run_folder
from ani.ns3_scenarios.templates import get_template, load_template

ROOT = Path(__file__).resolve().parents[2]
PROGRAM_DIR = ROOT / "ns3_scenarios" / "ospf_failure"
MANIFEST = tomllib.loads((PROGRAM_DIR / "manifest.toml").read_text())["parameters"]
TYPES = {"Float": "float", "Int": "int", "Bool": "bool"}


def table_rows() -> dict[str, tuple[str, float, float, float, str]]:
    """``kParameters`` of input.h: name -> (type, default, min, max, unit), read from the C++ text."""
    text = (PROGRAM_DIR / "input.h").read_text()
    body = text[text.index("// ani:parameters begin"):text.index("// ani:parameters end")]
    rows = re.findall(r'\{"(\w+)", ParamType::(\w+), ([^,]+), ([^,]+), ([^,]+), "([^"]*)"', body)
    assert rows, "no table rows found in input.h"
    return {n: (TYPES[t], float(d), float(lo), float(hi), u) for n, t, d, lo, hi, u in rows}


def parameters_read() -> set[str]:
    """Every name the program reads: Param("...") in the model, values["..."] in the seed's set-up."""
    names: set[str] = set()
    for path in sorted(PROGRAM_DIR.glob("*.h")) + sorted(PROGRAM_DIR.glob("*.cc")):
        names |= set(re.findall(r'(?:Param\(|values\[)"(\w+)"[)\]]', path.read_text()))
    return names


def test_the_table_declares_exactly_what_the_program_reads() -> None:
    assert set(table_rows()) == parameters_read()


def test_the_table_equals_the_manifest() -> None:
    for name, (kind, default, low, high, unit) in table_rows().items():
        spec = MANIFEST[name]  # a KeyError names a program parameter the manifest lacks
        assert (spec["type"], spec.get("unit", "")) == (kind, unit), name
        assert float(spec["default"]) == default, name
        if kind != "bool":
            assert (float(spec["min"]), float(spec["max"])) == (low, high), name


def test_ani_reads_the_same_table() -> None:
    source = get_template("ospf_failure").source()
    parsed = {p.name: (p.type, p.default, p.min, p.max, p.unit) for p in program_parameters(source)}
    assert parsed == table_rows()


def test_the_template_readme_lists_every_option() -> None:
    readme = (PROGRAM_DIR / "README.md").read_text()
    sentence = readme[readme.index("registered with ns-3's `CommandLine` in `main()`:"):]
    listed = set(re.findall(r"`--(\w+)`", sentence[:sentence.index(". Their names")]))
    assert listed == set(table_rows())


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    shutil.copytree(PROGRAM_DIR, folder)
    (folder / "manifest.toml").write_text((PROGRAM_DIR / "manifest.toml").read_text().replace(
        'name = "ospf_failure"', 'name = "mine"'))
    return folder


@pytest.mark.parametrize("old, new, message", [
    ('{"detect_delay_s", ParamType::Float, 0.05,', '{"detect_delay_s", ParamType::Float, 0.07,', "defaults to 0.07"),
    ('{"ecmp", ParamType::Bool,', '{"ecmq", ParamType::Bool,', "ecmq is not a manifest parameter"),
    ('{"queue_packets", ParamType::Int,', '{"queue_packets", ParamType::Float,', "queue_packets is float"),
    ('{"interval_s", ParamType::Float, 0.05, 0.001, 60,', '{"interval_s", ParamType::Float, 0.05, 0, 60,',
     "interval_s ranges 0 to 60"),
    ("    // ani:parameters end\n", "", "one parameter table"),
    ('{"seed", ParamType::Int, 1,', '{"seed" ParamType::Int, 1,', "not one entry"),
])
def test_a_table_that_drifts_from_the_manifest_is_refused_at_load(tmp_path: Path, old: str, new: str,
                                                                   message: str) -> None:
    folder = _copy(tmp_path)
    header = folder / "input.h"
    assert old in header.read_text()
    header.write_text(header.read_text().replace(old, new))
    with pytest.raises(TemplateError, match=re.escape(message)):
        load_template(folder)


def test_an_extending_template_changes_defaults_on_purpose(tmp_path: Path) -> None:
    ddos = get_template("ddos_overload")
    assert ddos.manifest.parameters["cascades"].default is True
    assert "--cascades=true" in program_args(ddos.source(), ddos.params())


def test_values_are_written_as_the_program_parses_them() -> None:
    table = {p.name: p for p in program_parameters(get_template("ospf_failure").source())}
    assert format_value(table["ecmp"], True) == "true" and format_value(table["cascades"], False) == "false"
    assert format_value(table["queue_packets"], 250) == "250"
    assert format_value(table["histogram_bin_s"], 1e-6) == "1e-06"
    assert float(format_value(table["detect_delay_s"], 0.1 + 0.2)) == 0.1 + 0.2  # round-trips exactly
    with pytest.raises(TemplateError, match="detect_delay_s"):
        program_args(get_template("ospf_failure").source(), {"seed": 1})


@pytest.fixture(scope="module")
def abilene():
    return load_topology("abilene")


CUT = Scenario(name="cut", events=[Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City",
                                         timestamp=0.4)])


def _spec(g, **overrides):
    template = get_template("ospf_failure")
    return render(template, CUT, g, template.params({"observe_s": 0.3, **overrides}))


def test_the_input_file_has_no_parameter_records_and_one_duration(abilene) -> None:
    spec = _spec(abilene)
    lines = spec.input_text().splitlines()
    assert not [line for line in lines if line.startswith("param ")]
    assert [line for line in lines if line.startswith("duration ")] == [f"duration {spec.duration_s!r}"]
    made = next(line for line in lines if line.startswith("# made with "))
    assert "load_factor=0.6" in made and "detect_delay_s" not in made


def test_a_program_parameter_changes_the_arguments_and_the_id_not_the_input(abilene) -> None:
    base, slow = _spec(abilene), _spec(abilene, detect_delay_s=0.5)
    assert base.input_text() == slow.input_text()
    assert "--detect_delay_s=0.5" in program_command("scenario", slow, ".")
    assert "--detect_delay_s=0.05" in program_command("scenario", base, ".")
    assert base.run_id != slow.run_id


def test_a_shaping_parameter_changes_the_input_not_the_arguments(abilene) -> None:
    base, loaded = _spec(abilene), _spec(abilene, load_factor=0.3)
    assert base.input_text() != loaded.input_text() and base.run_id != loaded.run_id
    assert program_command("s", base, ".") == program_command("s", loaded, ".")


def test_run_sh_runs_the_same_command_every_word_quoted(abilene, tmp_path: Path) -> None:
    spec = _spec(abilene, detect_delay_s=0.125, ecmp=True)
    write_run_folder(spec, tmp_path)
    line = next(x for x in (tmp_path / "run.sh").read_text().splitlines() if x.startswith("./scenario "))
    assert shlex.split(line) == program_command("./scenario", spec, "${1:-.}")
    assert '--out="${1:-.}"' in line
