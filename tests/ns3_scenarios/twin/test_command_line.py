"""The compiled program driven by hand through ns-3's CommandLine, as SEM or a shell loop would."""

from __future__ import annotations

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
    program = set(options) - {"input", "out"}
    assert len(program) >= 16 and program <= set(MANIFEST), program - set(MANIFEST)
    for name in program:
        default = MANIFEST[name]["default"]
        shown = options[name]
        if isinstance(default, bool):
            assert shown == str(default).lower(), name
        else:
            assert float(shown) == float(default), name
    assert "--trace:" in proc.stdout  # the one option without a default


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


def test_rngrun_sets_the_seed_when_seed_is_not_given(folder: Path) -> None:
    for out, args in [("rng3", ["--RngRun=3"]), ("seed3", ["--seed=3"]), ("seed1", [])]:
        assert _run(folder, out, *args).returncode == 0
    flows = {out: pd.read_csv(folder / out / "flows.csv") for out in ("rng3", "seed3", "seed1")}
    pd.testing.assert_frame_equal(flows["rng3"], flows["seed3"])
    assert not flows["seed3"].equals(flows["seed1"])
    clash = _run(folder, "clash", "--seed=2", "--RngRun=3")
    assert clash.returncode == 2 and "disagree" in clash.stderr


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
