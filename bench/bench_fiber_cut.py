"""Benchmark: the Abilene fiber cut through ``ani run`` versus a hand-written ns-3 program.

Both sides simulate the same network, traffic and timed convergence (see
``handwritten_fiber_cut.cc``) and each runs exactly one simulation: ``ani run``
is called with ``--no-baseline`` (by default it also runs the no-failure
baseline in parallel). The ``ani`` side is timed end to end — Python start-up,
topology import, rendering, the (cached) program, FlowMonitor/KPI parsing and
the report — the hand-written side is the bare binary. Runs alternate between
the two sides; the table gives median, min and max wall time and the ratio of
the medians. Results go to ``results/bench/fiber_cut.json``.

Usage: ``python bench/bench_fiber_cut.py [--repeat N] [--output PATH]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from ani.kg.scenario import Event, EventType, Scenario
from ani.ns3_scenarios.build import compile_command, ns3_version

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "handwritten_fiber_cut.cc"
MODULES = ["core", "network", "internet", "point-to-point", "applications", "flow-monitor", "traffic-control"]
DEFAULT_OUTPUT = HERE.parent / "results" / "bench" / "fiber_cut.json"
SCENARIO = Scenario(
    name="abilene-fiber-cut",
    description="Denver-Kansas City fibre cut at t=1.0 s (benchmark)",
    events=[Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City", timestamp=1.0)],
)


def ani_executable() -> str:
    """The ``ani`` script next to this interpreter, else the one on PATH."""
    local = Path(sys.executable).parent / "ani"
    found = str(local) if local.exists() else shutil.which("ani")
    if found is None:
        sys.exit("bench: the `ani` command is not installed (make venv)")
    return found


def compile_handwritten(workdir: Path) -> Path:
    """Build ``handwritten_fiber_cut.cc`` against the ns3 wheel; return the binary."""
    binary = workdir / "handwritten_fiber_cut"
    proc = subprocess.run(compile_command(SOURCE, binary, MODULES), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: compiling {SOURCE.name} failed:\n{proc.stderr[-3000:]}")
    return binary


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Run ``cmd`` in ``cwd``; return (wall seconds, stdout). Exits on failure."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return wall, proc.stdout


def program_stats(stdout: str) -> dict[str, float]:
    """``events_processed``, ``wall_s`` and ``simulated_s`` as the ns-3 program printed them."""
    stats = {}
    for line in stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("events_processed", "wall_s", "simulated_s"):
            stats[key] = float(value)
    return stats


def flowmon_totals(path: Path) -> dict[str, int]:
    """Flows, transmitted and received packets in a FlowMonitor XML file."""
    flows = ET.parse(path).getroot().find("FlowStats")
    rows = [] if flows is None else flows.findall("Flow")
    return {"flows": len(rows), "tx_packets": sum(int(f.get("txPackets", 0)) for f in rows),
            "rx_packets": sum(int(f.get("rxPackets", 0)) for f in rows)}


def run_totals(folder: Path) -> dict[str, int]:
    """:func:`flowmon_totals` of a template run: from ``flowmon.xml`` when the program wrote one, else from
    ``flows.csv`` (the program counts per flow itself; FlowMonitor would know the flows that sent)."""
    if (folder / "flowmon.xml").is_file():
        return flowmon_totals(folder / "flowmon.xml")
    flows = pd.read_csv(folder / "flows.csv")
    sent = flows[flows["tx_packets"] > 0]
    return {"flows": len(sent), "tx_packets": int(sent["tx_packets"].sum()), "rx_packets": int(sent["rx_packets"].sum())}


def ani_run_folder(results: Path) -> Path:
    """The single run folder ``ani run`` created under ``results``."""
    folders = [p.parent for p in results.glob("*/*/run.json")]
    if len(folders) != 1:
        sys.exit(f"bench: expected one run folder under {results}, found {len(folders)}")
    return folders[0]


class Side:
    """One way of running the scenario: its command, where it runs, its measurements."""

    def __init__(self, name: str, work: Path) -> None:
        self.name, self.work = name, work
        self.walls: list[float] = []
        self.stats: dict[str, float] = {}
        self.totals: dict[str, int] = {}

    def command(self, rep: int) -> tuple[list[str], Path]:
        raise NotImplementedError

    def run_once(self, rep: int) -> None:
        cmd, cwd = self.command(rep)
        wall, stdout = timed(cmd, cwd)
        self.walls.append(wall)
        self.collect(rep, stdout)

    def collect(self, rep: int, stdout: str) -> None:
        raise NotImplementedError

    def median(self) -> float:
        return statistics.median(self.walls)

    def summary(self) -> dict[str, object]:
        s: dict[str, object] = {"median_s": self.median(), "min_s": min(self.walls), "max_s": max(self.walls),
             "walls_s": self.walls, **self.stats, **self.totals}
        if self.stats.get("wall_s"):  # the program's own timing of set-up + simulation
            s["events_per_s"] = self.stats["events_processed"] / self.stats["wall_s"]
        return s


class AniSide(Side):
    """``ani run SCENARIO --topology abilene --no-baseline --results <fresh folder>``."""

    def __init__(self, work: Path, scenario_file: Path) -> None:
        super().__init__("ani run", work)
        self.base = [ani_executable(), "run", str(scenario_file), "--topology", "abilene", "--no-baseline"]

    def command(self, rep: int) -> tuple[list[str], Path]:
        return [*self.base, "--results", str(self.work / f"ani-{rep}")], self.work

    def collect(self, rep: int, stdout: str) -> None:
        folder = ani_run_folder(self.work / f"ani-{rep}")
        self.stats = program_stats((folder / "stdout.txt").read_text())
        self.totals = run_totals(folder)


class HandwrittenSide(Side):
    """The bare hand-written binary, writing flowmon.xml into a fresh folder."""

    def __init__(self, work: Path, binary: Path) -> None:
        super().__init__("hand-written", work)
        self.binary = binary

    def command(self, rep: int) -> tuple[list[str], Path]:
        out = self.work / f"hand-{rep}"
        out.mkdir(exist_ok=True)
        return [str(self.binary), f"--out={out}"], out

    def collect(self, rep: int, stdout: str) -> None:
        self.stats = program_stats(stdout)
        self.totals = flowmon_totals(self.work / f"hand-{rep}" / "flowmon.xml")


def print_table(ani: Side, hand: Side, ratio: float) -> None:
    """The human-readable result."""
    print(f"\n{'side':<14}{'median s':>10}{'min s':>9}{'max s':>9}{'events':>10}{'events/s':>12}{'tx pkts':>10}")
    for side in (ani, hand):
        s = side.summary()
        print(f"{side.name:<14}{s['median_s']:>10.3f}{s['min_s']:>9.3f}{s['max_s']:>9.3f}"
              f"{s.get('events_processed', 0):>10.0f}{s.get('events_per_s', 0):>12.0f}{s['tx_packets']:>10}")
    print(f"\nratio of medians (ani run / hand-written): {ratio:.2f}x")


def check_same_workload(ani: Side, hand: Side) -> float:
    """Relative difference of transmitted packets; warns when the sides drifted apart."""
    a, h = ani.totals["tx_packets"], hand.totals["tx_packets"]
    diff = abs(a - h) / max(a, h)
    if ani.totals["flows"] != hand.totals["flows"] or diff > 0.01:
        print(f"WARNING: the two programs no longer simulate the same workload ({ani.totals} vs "
              f"{hand.totals}); re-transcribe handwritten_fiber_cut.cc from the rendered input.txt")
    return diff


def hyperfine_hint(ani: AniSide, hand: HandwrittenSide, repeat: int) -> None:
    """Print the equivalent hyperfine command when hyperfine is installed."""
    if shutil.which("hyperfine"):
        a = shlex.join([*ani.base, "--results", str(ani.work / "hyperfine")])
        h = shlex.join([str(hand.binary), f"--out={hand.work / 'hand-0'}"])
        print(f"\nequivalent: hyperfine --warmup 1 --runs {repeat} {shlex.quote(a)} {shlex.quote(h)}")


def measure(ani: Side, hand: Side, repeat: int) -> None:
    """One untimed warm-up run per side, then ``repeat`` timed runs, alternating."""
    print("warming up (ani run builds or reuses the template program; one run each side, untimed) ...")
    ani.run_once(-1)
    hand.run_once(-1)
    ani.walls.clear()
    hand.walls.clear()
    for rep in range(repeat):
        ani.run_once(rep)
        hand.run_once(rep)
        print(f"  run {rep + 1}/{repeat}: ani run {ani.walls[-1]:.3f} s, hand-written {hand.walls[-1]:.3f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per side (default 5)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="ani-bench-") as tmp:
        work = Path(tmp)
        scenario_file = work / "fiber_cut.json"
        scenario_file.write_text(SCENARIO.model_dump_json(indent=1))
        print(f"compiling {SOURCE.name} ...")
        hand = HandwrittenSide(work, compile_handwritten(work))
        ani = AniSide(work, scenario_file)
        measure(ani, hand, args.repeat)
        ratio = ani.median() / hand.median()
        print_table(ani, hand, ratio)
        diff = check_same_workload(ani, hand)
        hyperfine_hint(ani, hand, args.repeat)
        write_results(args.output, ani, hand, ratio, diff, args.repeat)


def write_results(path: Path, ani: Side, hand: Side, ratio: float, tx_diff: float, repeat: int) -> None:
    """Save the figures with what produced them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "abilene fiber cut: ani run --no-baseline vs hand-written ns-3",
           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "repeat": repeat, "ns3_version": ns3_version(),
           "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "ani_run": ani.summary(), "handwritten": hand.summary(),
           "ratio_of_medians": ratio, "tx_packets_rel_diff": tx_diff}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
