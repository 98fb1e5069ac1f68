"""The compiled program driven by hand through ns-3's CommandLine, as SEM or a shell loop would."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_topology
from ani.ns3_scenarios.build import build_program
from ani.ns3_scenarios.render import render, write_run_folder
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.run import execute_run
from ani.orchestrator.measure.summary import summarize_run

pytestmark = [pytest.mark.ns3]

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = tomllib.loads((ROOT / "ns3_scenarios" / "ospf_failure" / "manifest.toml").read_text())["parameters"]
SHORT = {"warmup_s": 0.2, "observe_s": 0.6, "drain_s": 0.2, "load_factor": 0.5}
CUT = Scenario(name="cut", events=[Event(event_type="fiber_link_failure", target="Chicago-New_York",
                                         timestamp=0.4)])


def _spec(**overrides):
    template = get_template("ospf_failure")
    return render(template, CUT, load_topology("abilene"), template.params({**SHORT, **overrides}))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of the default cut, with the compiled program as ./scenario (as run.sh leaves it)."""
    spec = _spec()
    out = tmp_path_factory.mktemp("hand")
    write_run_folder(spec, out)
    (out / "scenario").symlink_to(build_program(spec.program_source, spec.ns3_modules, name=spec.template))
    return out


def _run(folder: Path, out: str, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / out).mkdir(exist_ok=True)
    return subprocess.run(["./scenario", "--input=input.txt", f"--out={out}", *args], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_print_help_lists_every_program_parameter_with_the_manifests_default(folder: Path) -> None:
    proc = subprocess.run(["./scenario", "--PrintHelp"], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    options = dict(re.findall(r"^\s+--(\w+):.*\[([^\]]*)\]\s*$", proc.stdout, re.M))
    program = set(options) - {"input", "out", "trace"}
    assert len(program) >= 16 and program <= set(MANIFEST), program - set(MANIFEST)
    for name in program:
        default = MANIFEST[name]["default"]
        shown = options[name]
        if isinstance(default, bool):
            assert shown == str(default).lower(), name
        else:
            assert float(shown) == float(default), name
    assert options["trace"] == "none"  # every option has a default SEM can read back and pass on


@pytest.mark.parametrize("arg, message", [
    ("--detect_delay_s=-1", "--detect_delay_s=-1: below the minimum 0"),
    ("--queue_packets=1.5", "--queue_packets=1.5: not an integer"),
    ("--ecmp=maybe", "--ecmp=maybe: not a bool"),
    ("--spf_delay_s=1e9", "--spf_delay_s=1e9: above the maximum 60"),
    ("--interval_s=nan", "--interval_s=nan: not a number"),
])
def test_a_bad_value_is_one_line_naming_it(folder: Path, arg: str, message: str) -> None:
    proc = _run(folder, "bad", arg)
    assert proc.returncode == 2 and proc.stderr.startswith(message), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_an_unknown_option_is_refused_by_ns3(folder: Path) -> None:
    proc = _run(folder, "bad", "--detect_delaay_s=1")
    assert proc.returncode != 0 and "Invalid command-line argument: --detect_delaay_s" in proc.stderr


def test_a_param_record_is_refused_with_where_it_went(folder: Path) -> None:
    text = (folder / "input.txt").read_text()
    (folder / "old.txt").write_text(text + "param detect_delay_s 0.5\n")
    proc = subprocess.run(["./scenario", "--input=old.txt", "--out=bad"], cwd=folder, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "command-line arguments now" in proc.stderr


def test_a_hand_run_matches_ani_run_with_the_same_parameter(folder: Path, tmp_path: Path) -> None:
    ani = execute_run(_spec(detect_delay_s=0.5), tmp_path / "ani")
    assert ani.status == "ok", ani.stderr_tail
    assert (Path(ani.folder) / "input.txt").read_text() == (folder / "input.txt").read_text()
    slow = _run(folder, "slow", "--detect_delay_s=0.5")
    fast = _run(folder, "fast")
    assert slow.returncode == fast.returncode == 0, slow.stderr + fast.stderr
    spec = _spec(detect_delay_s=0.5)
    by_hand = summarize_run(folder / "slow", spec)
    assert by_hand == ani.kpis
    pd.testing.assert_frame_equal(pd.read_csv(folder / "slow" / "flows.csv"),
                                  pd.read_csv(Path(ani.folder) / "flows.csv"))
    default = summarize_run(folder / "fast", _spec())
    assert default.loss_ratio < by_hand.loss_ratio, "a 10x slower detection must lose more"


def test_rngrun_sets_the_seed_unless_seed_is_set_otherwise(folder: Path) -> None:
    runs = {"rng3": ["--RngRun=3"], "seed3": ["--seed=3"], "sem3": ["--seed=1.0", "--RngRun=3"],
            "env3": [], "seed1": []}
    for out, args in runs.items():
        (folder / out).mkdir()
        env = dict(os.environ, NS_GLOBAL_VALUE="RngRun=3") if out == "env3" else None
        proc = subprocess.run(["./scenario", "--input=input.txt", f"--out={out}", *args], cwd=folder,
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
    flows = {out: pd.read_csv(folder / out / "flows.csv") for out in runs}
    for same in ("rng3", "sem3", "env3"):
        pd.testing.assert_frame_equal(flows[same], flows["seed3"])
    assert not flows["seed3"].equals(flows["seed1"])
    clash = _run(folder, "clash", "--seed=2", "--RngRun=3")
    assert clash.returncode == 2 and "disagree" in clash.stderr


def _sem_defaults(help_text: str) -> dict[str, object]:
    """Options and defaults read back from --PrintHelp the way SEM's runner does (its documented behaviour,
    reimplemented): the "Program Options" block, ``[default]`` as bool, else float, else string."""
    block = help_text.split("Program Options:")[1].split("General Arguments:")[0]
    out: dict[str, object] = {}
    for key, default in re.findall(r"^\s+--(\w+):.*\[([^\]]*)\]\s*$", block, re.M):
        if default.lower() in ("true", "false"):
            out[key] = default.lower() == "true"
            continue
        try:
            out[key] = float(default)
        except ValueError:
            out[key] = default
    return out


def test_sem_style_every_option_at_its_help_default_and_repetitions_by_rngrun(folder: Path, tmp_path: Path) -> None:
    """A stand-in for SEM, which needs an ns-3 source tree this machine lacks: it passes every option it read
    from --PrintHelp as --name=str(value) (so --seed=1.0, --ecmp=False), numbers repetitions with --RngRun
    and runs each simulation in a fresh folder of its own, with the input given as an absolute path."""
    help_text = subprocess.run(["./scenario", "--PrintHelp"], cwd=folder, capture_output=True, text=True).stdout
    params = {**_sem_defaults(help_text), "input": str(folder / "input.txt"), "detect_delay_s": 0.2}
    assert params["seed"] == 1.0 and params["trace"] == "none" and params["out"] == "."
    for rng in (2, 3):
        cwd = tmp_path / f"sem-{rng}"
        cwd.mkdir()
        cmd = [str(folder / "scenario")] + [f"--{k}={v}" for k, v in params.items()] + [f"--RngRun={rng}"]
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert _run(folder, "hand2", "--seed=2", "--detect_delay_s=0.2").returncode == 0
    sem2, sem3 = (pd.read_csv(tmp_path / f"sem-{r}" / "flows.csv") for r in (2, 3))
    pd.testing.assert_frame_equal(sem2, pd.read_csv(folder / "hand2" / "flows.csv"))
    assert not sem2.equals(sem3)


@pytest.mark.slow
def test_the_readme_shell_loop_runs_as_written(folder: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Drive the program like SEM"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    loop = block[block.index("for d in"):]
    proc = subprocess.run(["sh", "-e", "-c", loop], cwd=folder, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = sorted(p.parent.name for p in (folder / "sweep").glob("*/summary.json"))
    assert len(runs) == 12, runs
    loss = {d: summarize_run(folder / "sweep" / f"d{d}-s1", _spec(detect_delay_s=float(d))).loss_ratio
            for d in ("0.01", "1")}
    assert loss["0.01"] < loss["1"]
