"""The executor options of ``ani campaign run``, ``ani loop`` and ``ani evaluate``: mistakes are one line.

No cluster is needed: every case is refused before anything starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ani.orchestrator.cli.main import main
from ani.orchestrator.execute.executors import ExecutorChoiceError, SlurmOptions, make_executor

COMMANDS = [["campaign", "run", "{campaign}"], ["loop", "--topology", "abilene"], ["evaluate", "--networks", "abilene"]]


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    (tmp_path / "cut.json").write_text(json.dumps([{"event_type": "fiber_link_failure",
                                                    "target": "Denver-Kansas_City", "timestamp": 0.2}]))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": "c", "topologies": ["abilene"], "seeds": [1],
                                    "scenarios": {"files": [str(tmp_path / "cut.json")]}}))
    return path


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("options", "needle"), [
    (["--partition", "debug"], "--partition applies to --slurm only"),
    (["--jobs", "3"], "--jobs applies to --slurm only"),
    (["--slurm", "--cluster", "tcp://127.0.0.1:1"], "not --cluster and --slurm"),
    (["--slurm", "--docker", "ani"], "not --slurm and --docker"),
    (["--slurm", "--walltime", "forever"], "'forever'"),
    (["--slurm", "--memory", "lots"], "'lots'"),
    (["--slurm", "--jobs", "0"], "--jobs"),
])
def test_executor_option_mistakes_are_one_line_naming_the_option(command: list[str], options: list[str], needle: str,
                                                                 campaign: Path, tmp_path: Path) -> None:
    args = [a.replace("{campaign}", str(campaign)) for a in command]
    result = CliRunner().invoke(main, [*args, *options])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and needle in errors[0], result.output
    assert isinstance(result.exception, SystemExit), "no traceback"


def test_make_executor_takes_one_place_to_run() -> None:
    with pytest.raises(ExecutorChoiceError, match="not a Dask cluster and SLURM"):
        make_executor("/tmp/x", cluster="tcp://127.0.0.1:1", slurm=SlurmOptions())


def test_slurm_without_sbatch_is_one_line(campaign: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = CliRunner().invoke(main, ["campaign", "run", str(campaign), "--store", str(tmp_path / "s"), "--slurm"])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == (
        "Error: the SLURM executor needs SLURM's `sbatch` command, which is not on PATH"), result.output
