"""A misspelt template parameter gets close matches, as unknown links and nodes do: in the library, in
every command that takes ``--param`` and in a campaign file."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ani.kg.errors import TemplateError
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.cli import main


def test_a_typo_names_the_parameter_meant() -> None:
    with pytest.raises(TemplateError, match=r"obsreve_s: did you mean observe_s\?"):
        get_template("ospf_failure").params({"obsreve_s": 1.0})


def test_a_name_like_nothing_gets_no_guess_but_the_known_list() -> None:
    with pytest.raises(TemplateError) as info:
        get_template("ospf_failure").params({"zzz": 1})
    assert "did you mean" not in str(info.value) and "known: auto_size" in str(info.value)


# Every command that takes --param, with the fewest arguments that reach the template; a command added
# later without a row here fails the first test, so the suggestion is checked for it too.
PARAM_COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("demo",): [],
    ("run",): ["{scenario}", "--topology", "abilene"],
    ("screen",): ["--topology", "abilene", "--generator", "random", "-n", "2"],
    ("loop",): ["--topology", "abilene", "--generator", "random", "--iterations", "1", "--budget", "1",
                "--no-report"],
    ("evaluate",): ["--networks", "abilene", "--seeds", "1", "--generators", "random", "--iterations", "1",
                    "--budget", "1", "--no-report"],
}


def _commands_with_param(group: click.Group, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out |= _commands_with_param(command, (*path, name))
        elif any("--param" in p.opts for p in command.params):
            out.add((*path, name))
    return out


def test_the_table_names_every_command_that_takes_param() -> None:
    assert _commands_with_param(main) == set(PARAM_COMMANDS)


@pytest.mark.parametrize("command", sorted(PARAM_COMMANDS), ids=" ".join)
def test_every_command_that_takes_param_suggests_the_name_meant(command: tuple[str, ...], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # whatever a command would write goes here (nothing runs: the name is refused first)
    scenario = tmp_path / "s.json"
    scenario.write_text('[{"event_type": "fiber_link_failure", "target": "Denver-Kansas_City", "timestamp": 0.4}]')
    args = [a.format(scenario=scenario) for a in PARAM_COMMANDS[command]]
    result = CliRunner().invoke(main, [*command, *args, "--param", "obsreve_s=0.5"])
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert "obsreve_s: did you mean observe_s?" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.rglob("run.json")), "no run started before the name was checked"


def test_a_campaign_file_parameter_gets_the_suggestion_too(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('[{"event_type": "fiber_link_failure", "target": "Denver-Kansas_City", '
                                     '"timestamp": 0.4}]')
    (tmp_path / "c.yaml").write_text('name: c\ntopologies: [abilene]\nscenarios: {files: ["s.json"]}\n'
                                     "params: {obsreve_s: [0.5, 1.0]}\n")
    result = CliRunner().invoke(main, ["campaign", "plan", str(tmp_path / "c.yaml"), "--store",
                                       str(tmp_path / "store")])
    assert result.exit_code == 1 and "c.yaml" in result.output
    assert "obsreve_s: did you mean observe_s?" in result.output
