"""Helpers of the campaign tests: short Abilene scenarios, a template with injected faults, campaign files.

The fault template is the bundled ``ospf_failure`` program with two faults
injected for chosen seeds — seed 13 aborts (``NS_FATAL_ERROR``), seed 14 spins
forever — so crashes and hangs are real ns-3 processes crashing and hanging.
Every other seed runs the bundled program unchanged; all tests share its one
compilation (the session's build cache).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ani.ns3_scenarios.templates import PACKAGE_DIR

CRASH_SEED, HANG_SEED = 13, 14
SHORT = {"observe_s": 0.5, "warmup_s": 0.2, "drain_s": 0.2}
ANI = [sys.executable, "-m", "ani.orchestrator.cli"]
READ_INPUT = "twin.in.params = params.values;"  # the line after which the parameters are set
FAULTS = (READ_INPUT + f' if (twin.in.Param("seed") == {CRASH_SEED}) {{ NS_FATAL_ERROR("injected fault: seed '
          f'{CRASH_SEED}"); }} if (twin.in.Param("seed") == {HANG_SEED}) {{ volatile bool forever = true; '
          "while (forever) {} }")
CUTS = {
    "cut-denver.json": [{"event_type": "fiber_link_failure", "target": "Denver-Kansas_City", "timestamp": 0.4}],
    "cut-chicago.json": [{"event_type": "fiber_link_failure", "target": "Chicago-New_York", "timestamp": 0.4}],
}


def make_fault_template(parent: Path) -> Path:
    """A copy of the bundled template in ``parent`` whose program crashes for seed 13 and hangs for seed 14."""
    folder = parent / "ospf_failure_faults"
    shutil.copytree(PACKAGE_DIR / "ospf_failure", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    program = folder / "scenario.cc"
    source = program.read_text()
    assert READ_INPUT in source, "the bundled template changed: update the fault injection of the tests"
    program.write_text(source.replace(READ_INPUT, FAULTS, 1))
    manifest = folder / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('name = "ospf_failure"', 'name = "ospf_failure_faults"', 1))
    return folder


def make_scenarios(folder: Path) -> Path:
    """Two fibre cuts on Abilene at the same time (so they share one baseline per seed)."""
    for name, events in CUTS.items():
        (folder / name).write_text(json.dumps(events))
    return folder


def write_campaign(folder: Path, name: str = "test", suffix: str = ".yaml", **fields: Any) -> Path:
    """A campaign file in ``folder`` (YAML or TOML), short Abilene runs unless ``fields`` say otherwise."""
    data: dict[str, Any] = {"name": name, "topologies": ["abilene"], "params": dict(SHORT), "seeds": [1],
                            "baseline": False, "timeout_s": 60} | fields
    path = folder / f"{name}{suffix}"
    if suffix == ".toml":
        path.write_text(_toml(data))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _toml(data: dict[str, Any]) -> str:
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(f"\n[{key}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in value.items()))
        else:
            lines.append(f"{key} = {json.dumps(value)}\n")
    return "".join(lines) + "".join(tables)


def ani(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``ani ARGS`` as a user runs it (a subprocess), with its output captured."""
    return subprocess.run([*ANI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
