"""Benchmark: trace replay on a Topology Zoo network, the template versus a hand-written ns-3 program.

Issue #5: replay throughput (packets/s) and events/s on a 100-200-node
Topology Zoo network, as ratios against a hand-written ns-3 C++ program doing
the same work. The MAWI sample is mapped onto Ion (125 routers, 146 links,
full capacities), looped over a 2 s window at ×4 intensity (86 k packets) and
replayed by

- the ``ospf_failure`` template's program (``AniRouting``, its per-flow
  measurements, flows.csv and the other result files), rendered and built as
  ``ani run`` would, run bare on its ``input.txt`` and ``trace.bin``;
- ``handwritten_replay.cc``: stock ns-3 (global routing, PacketSink,
  FlowMonitor), reading the same ``trace.bin`` and a text topology written
  from the same graph.

Both run the same calm network (no failure). Runs alternate; the table gives
median, min and max wall time of the bare programs, packets replayed and
delivered, replay rate (packets / median wall), events/s and the ratio of
medians. ``--with-ani`` also times the whole ``ani run`` path for the template
side; ``--loopbacks`` adds the hand-written program with the template's /32
loopback addressing. Results go to ``results/bench/replay.json``.

Usage: ``python bench/bench_replay.py [--repeat N] [--intensity X] [--with-ani] [--loopbacks]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ani.ns3_scenarios.render import RunSpec

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "handwritten_replay.cc"
MODULES = ["core", "network", "internet", "point-to-point", "applications", "flow-monitor", "traffic-control"]
DEFAULT_OUTPUT = HERE.parent / "results" / "bench" / "replay.json"
SHARED = Path(os.environ.get("ANI_SHARED", "/work/shared"))
DEFAULT_GRAPHML = SHARED / "data" / "topologyzoo" / "Ion.graphml"
DEFAULT_PCAP = SHARED / "data" / "mawi" / "mawi-samplepointB-200601051400-first10k.pcap"
PARAMS = {"gravity_traffic": False, "warmup_s": 0.1, "observe_s": 2.0, "drain_s": 0.2, "capacity_scale": 1.0}

# `ani run` has no intensity option: this runs the real CLI with prepare_trace's
# intensity preset (cli._run imports prepare_trace from its module at call time).
ANI_DRIVER = """
import functools, sys
import ani.ns3_scenarios.traffic as traffic
traffic.prepare_trace = functools.partial(traffic.prepare_trace, intensity=float(sys.argv[1]))
from ani.orchestrator.cli import main
main(sys.argv[2:], prog_name="ani")
"""


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Run ``cmd`` in ``cwd``; return (wall seconds, stdout). Exits on failure."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return wall, proc.stdout


def program_stats(stdout: str) -> dict[str, float]:
    """The ``key value`` lines an ns-3 program printed (events_processed, wall_s, ...)."""
    stats = {}
    for line in stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("events_processed", "wall_s", "simulated_s", "rx_packets", "rx_bytes", "trace_packets",
                   "skipped_packets"):
            stats[key] = float(value)
    return stats


def flowmon_totals(path: Path) -> dict[str, int]:
    """Flows, transmitted and received packets in a FlowMonitor XML file."""
    flows = ET.parse(path).getroot().find("FlowStats")
    rows = [] if flows is None else flows.findall("Flow")
    return {"flowmon_flows": len(rows), "flowmon_tx_packets": sum(int(f.get("txPackets", 0)) for f in rows),
            "flowmon_rx_packets": sum(int(f.get("rxPackets", 0)) for f in rows)}


def template_totals(folder: Path) -> dict[str, int]:
    """Sent, refused and delivered packets of the replayed flows in the template's flows.csv."""
    tot = {"tx_packets": 0, "tx_failed": 0, "delivered_packets": 0}
    with open(folder / "flows.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["class"] == "trace":
                tot["tx_packets"] += int(row["tx_packets"])
                tot["tx_failed"] += int(row["tx_failed"])
                tot["delivered_packets"] += int(row["rx_packets"])
    return tot


def trace_packets(path: Path) -> tuple[int, int]:
    """(flows, packets) from a trace file's header (kg/traces.py format)."""
    with open(path, "rb") as fh:
        _, flows, _, packets = struct.unpack("<8sIIQ", fh.read(24))
    return flows, packets


class Side:
    """One program replaying the trace: its command, its measurements."""

    def __init__(self, name: str, work: Path, packets: int) -> None:
        self.name, self.work, self.packets = name, work, packets
        self.walls: list[float] = []
        self.program_walls: list[float] = []
        self.stats: dict[str, float] = {}
        self.totals: dict[str, int] = {}

    def command(self, out: Path) -> tuple[list[str], Path]:
        raise NotImplementedError

    def collect(self, out: Path, stdout: str) -> None:
        raise NotImplementedError

    def run_once(self, rep: int) -> None:
        out = self.work / f"{self.slug}-{rep}"
        out.mkdir(parents=True, exist_ok=True)
        cmd, cwd = self.command(out)
        wall, stdout = timed(cmd, cwd)
        self.walls.append(wall)
        self.collect(out, stdout)
        if "wall_s" in self.stats:
            self.program_walls.append(self.stats["wall_s"])
        shutil.rmtree(out, ignore_errors=True)  # 4 k flows: the result files are tens of MB per run

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "-").replace("/", "")

    def median(self) -> float:
        return statistics.median(self.walls)

    def summary(self) -> dict[str, object]:
        med = self.median()
        s: dict[str, object] = {"median_s": med, "min_s": min(self.walls), "max_s": max(self.walls),
                                "walls_s": self.walls, "packets_replayed": self.packets,
                                "replay_packets_per_s": self.packets / med, **self.stats, **self.totals}
        if "events_processed" in self.stats:
            s["events_per_s"] = self.stats["events_processed"] / med
        if self.program_walls:  # the program's own timing of set-up + simulation (no file reading)
            s["program_wall_median_s"] = statistics.median(self.program_walls)
            s["program_walls_s"] = self.program_walls
        return s


class TemplateSide(Side):
    """The template's compiled program, bare, in its rendered run folder."""

    def __init__(self, work: Path, packets: int, binary: Path, folder: Path, spec: RunSpec) -> None:
        super().__init__("template", work, packets)
        self.binary, self.folder, self.spec = binary, folder, spec

    def command(self, out: Path) -> tuple[list[str], Path]:
        from ani.ns3_scenarios.render import program_command

        return program_command(self.binary, self.spec, out), self.folder

    def collect(self, out: Path, stdout: str) -> None:
        self.stats = program_stats(stdout)
        fm = flowmon_totals(out / "flowmon.xml") if (out / "flowmon.xml").is_file() else {}  # the template: none now
        self.totals = {**template_totals(out), **fm}


class HandwrittenSide(Side):
    """``handwritten_replay`` on the same trace.bin and a text topology of the same graph."""

    def __init__(self, work: Path, packets: int, binary: Path, args: list[str], loopbacks: bool) -> None:
        super().__init__("hand-written /32" if loopbacks else "hand-written", work, packets)
        self.binary = binary
        self.args = args + (["--loopbacks=1"] if loopbacks else [])

    def command(self, out: Path) -> tuple[list[str], Path]:
        return [str(self.binary), *self.args, f"--out={out}"], out

    def collect(self, out: Path, stdout: str) -> None:
        self.stats = program_stats(stdout)
        self.totals = {"delivered_packets": int(self.stats.get("rx_packets", 0)),
                       **flowmon_totals(out / "flowmon.xml")}


class AniSide(Side):
    """The whole ``ani run --no-baseline --trace ...`` path (the CLI, with the intensity preset)."""

    def __init__(self, work: Path, packets: int, args: list[str], intensity: float) -> None:
        super().__init__("ani run", work, packets)
        self.base = [sys.executable, "-c", ANI_DRIVER, repr(intensity), "run", *args]

    def command(self, out: Path) -> tuple[list[str], Path]:
        return [*self.base, "--results", str(out)], self.work

    def collect(self, out: Path, stdout: str) -> None:
        folders = [p.parent for p in out.glob("*/*/run.json")]
        if len(folders) != 1:
            sys.exit(f"bench: expected one run folder under {out}, found {len(folders)}")
        self.stats = program_stats((folders[0] / "stdout.txt").read_text())
        self.totals = template_totals(folders[0])


def write_topology(g, spec, scale: float, path: Path) -> None:
    """The hand-written program's topology, from the graph (and checked against what the template got)."""
    index = {n: i for i, n in enumerate(g.nodes)}
    lines = [f"# {g.graph.get('name', 'graph')}: nodes, then link u v capacity_bps delay_s cost",
             f"nodes {g.number_of_nodes()}"]
    rows = []
    for u, v, d in g.edges(data=True):
        rows.append((index[u], index[v], d["capacity_bps"] * scale, d["delay_s"], int(d["ospf_cost"])))
        lines.append("link {} {} {!r} {!r} {}".format(*rows[-1]))
    rendered = [(l.u, l.v, l.capacity_bps, l.delay_s, l.ospf_cost) for l in spec.links]
    if rows != rendered or len(spec.nodes) != g.number_of_nodes():
        sys.exit("bench: the topology file differs from the template's input.txt")
    path.write_text("\n".join(lines) + "\n")


def print_table(sides: list[Side], ratio: float, ratios: dict[str, float]) -> None:
    """The human-readable result."""
    print(f"\n{'side':<18}{'median s':>9}{'min s':>8}{'max s':>8}{'replayed':>10}{'delivered':>10}"
          f"{'pkts/s':>9}{'events':>10}{'events/s':>10}")
    for side in sides:
        s = side.summary()
        print(f"{side.name:<18}{s['median_s']:>9.3f}{s['min_s']:>8.3f}{s['max_s']:>8.3f}{s['packets_replayed']:>10}"
              f"{s.get('delivered_packets', 0):>10}{s['replay_packets_per_s']:>9.0f}"
              f"{s.get('events_processed', 0):>10.0f}{s.get('events_per_s', 0):>10.0f}")
    print(f"\nratio of medians (template / hand-written): {ratio:.3f}x "
          f"(< 1: the template is faster; hand-written / template = {1 / ratio:.2f}x)")
    for name, r in ratios.items():
        print(f"ratio of medians ({name}): {r:.3f}x")


def check_same_work(template: Side, others: list[Side]) -> dict[str, float]:
    """Relative difference of delivered packets per side; warns beyond 1 %."""
    t = template.totals["delivered_packets"]
    diffs = {}
    for side in others:
        h = side.totals["delivered_packets"]
        diffs[side.name] = abs(t - h) / max(t, h, 1)
        if diffs[side.name] > 0.01:
            print(f"WARNING: {side.name} delivered {h} packets, the template {t}: "
                  "the two programs no longer do the same work")
    if template.totals.get("tx_failed"):
        print(f"WARNING: the template refused {template.totals['tx_failed']} sends (no route)")
    return diffs


def hyperfine_hint(template: TemplateSide, hand: HandwrittenSide, repeat: int) -> None:
    """Print the equivalent hyperfine command when hyperfine is installed."""
    if shutil.which("hyperfine"):
        out = template.work / "hyperfine"
        t = f"cd {shlex.quote(str(template.folder))} && " + shlex.join(template.command(out)[0])
        h = shlex.join([str(hand.binary), *hand.args, f"--out={out}"])
        print(f"\nequivalent (mkdir {out} first): hyperfine --warmup 1 --runs {repeat} {shlex.quote(t)} {shlex.quote(h)}")


def measure(sides: list[Side], repeat: int) -> None:
    """One untimed warm-up run per side, then ``repeat`` timed runs, alternating."""
    print("warming up (one untimed run per side) ...")
    for side in sides:
        side.run_once(-1)
        side.walls.clear()
        side.program_walls.clear()
    for rep in range(repeat):
        for side in sides:
            side.run_once(rep)
        print(f"  run {rep + 1}/{repeat}: " + ", ".join(f"{s.name} {s.walls[-1]:.3f} s" for s in sides))


def prepare(work: Path, args: argparse.Namespace):
    """Render the template run folder, build both programs, write the topology; return the sides."""
    from ani.kg.topology import load_graphml
    from ani.kg.scenario import Scenario
    from ani.ns3_scenarios.build import build_program, compile_command
    from ani.ns3_scenarios.render import render, timeline, write_run_folder
    from ani.ns3_scenarios.templates import get_template
    from ani.ns3_scenarios.traffic import prepare_trace

    g = load_graphml(args.graphml)
    template = get_template("ospf_failure")
    params = template.params(PARAMS)
    scenario = Scenario(name="calm", description="trace replay, no failure (benchmark)")
    print(f"{g.graph.get('name', args.graphml.stem)}: {g.number_of_nodes()} nodes, {g.number_of_edges()} links; "
          f"preparing the trace (intensity {args.intensity:g}) ...")
    trace = prepare_trace(args.pcap, g, timeline(params, scenario), work / "traces", intensity=args.intensity,
                          seed=int(params["seed"]))
    spec = render(template, scenario, g, params, trace_file=trace)
    folder = work / "template-run"
    write_run_folder(spec, folder)
    n_flows, n_packets = trace_packets(folder / "trace.bin")
    print(f"trace: {n_flows} flows, {n_packets} packets; building the template program and {SOURCE.name} ...")
    tpl_binary = build_program(spec.program_source, spec.ns3_modules, name=spec.template)
    hand_binary = work / "handwritten_replay"
    proc = subprocess.run(compile_command(SOURCE, hand_binary, MODULES), capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        sys.exit(f"bench: compiling {SOURCE.name} failed:\n{proc.stderr[-3000:]}")
    topo = work / "topology.txt"
    write_topology(g, spec, float(params["capacity_scale"]), topo)
    hand_args = [f"--topology={topo}", f"--trace={folder / 'trace.bin'}", f"--stop={spec.duration_s!r}",
                 f"--queue={int(params['queue_packets'])}", f"--histogramBin={float(params['histogram_bin_s'])!r}"]
    sides: list[Side] = [TemplateSide(work, n_packets, tpl_binary, folder, spec),
                         HandwrittenSide(work, n_packets, hand_binary, hand_args, loopbacks=False)]
    if args.loopbacks:
        sides.append(HandwrittenSide(work, n_packets, hand_binary, hand_args, loopbacks=True))
    if args.with_ani:
        scenario_file = work / "calm.json"
        scenario_file.write_text(scenario.model_dump_json(indent=1))
        ani_args = [str(scenario_file), "--topology", str(args.graphml), "--no-baseline", "--trace", str(args.pcap)]
        ani_args += [a for k, v in PARAMS.items() for a in ("--param", f"{k}={str(v).lower()}")]
        sides.append(AniSide(work, n_packets, ani_args, args.intensity))
    info = {"graph": str(g.graph.get("name", "")), "graphml": str(args.graphml), "nodes": g.number_of_nodes(),
            "links": g.number_of_edges(), "pcap": str(args.pcap), "intensity": args.intensity,
            "trace_flows": n_flows, "trace_packets": n_packets, "params": PARAMS, "duration_s": spec.duration_s}
    return sides, info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per side (default 5)")
    parser.add_argument("--intensity", type=float, default=4.0, help="trace intensity (default 4.0)")
    parser.add_argument("--with-ani", action="store_true", help="also time the whole `ani run` path")
    parser.add_argument("--loopbacks", action="store_true",
                        help="also run the hand-written program with /32 loopbacks (the template's addressing)")
    parser.add_argument("--graphml", type=Path, default=DEFAULT_GRAPHML, help="Topology Zoo file (default Ion)")
    parser.add_argument("--pcap", type=Path, default=DEFAULT_PCAP, help="capture to replay (default: MAWI sample)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    missing = [p for p in (args.graphml, args.pcap) if not p.is_file()]
    if missing:
        print(f"bench_replay: skipped, input data not found: {', '.join(map(str, missing))} "
              f"(the shared data folder {SHARED} is absent here; set ANI_SHARED or --graphml/--pcap)")
        return
    with tempfile.TemporaryDirectory(prefix="ani-bench-replay-") as tmp:
        work = Path(tmp)
        sides, info = prepare(work, args)
        measure(sides, args.repeat)
        template, hand = sides[0], sides[1]
        ratio = template.median() / hand.median()
        ratios = {f"{s.name} / hand-written": s.median() / hand.median() for s in sides[2:]}
        print_table(sides, ratio, ratios)
        diffs = check_same_work(template, sides[1:])
        hyperfine_hint(template, hand, args.repeat)
        write_results(args.output, sides, ratio, ratios, diffs, args.repeat, info)


def write_results(path: Path, sides: list[Side], ratio: float, ratios: dict[str, float],
                  diffs: dict[str, float], repeat: int, info: dict) -> None:
    """Save the figures with what produced them."""
    from ani.ns3_scenarios.build import ns3_version

    path.parent.mkdir(parents=True, exist_ok=True)
    t, h = sides[0].summary(), sides[1].summary()
    doc = {"benchmark": "trace replay on a Topology Zoo network: ospf_failure template vs hand-written ns-3",
           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "repeat": repeat, "ns3_version": ns3_version(),
           "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "load_average": os.getloadavg(), **info,
           "sides": {s.name: s.summary() for s in sides},
           "ratio_of_medians": ratio,
           "replay_rate_ratio": t["replay_packets_per_s"] / h["replay_packets_per_s"],
           "events_per_s_ratio": (t["events_per_s"] / h["events_per_s"]
                                  if "events_per_s" in t and "events_per_s" in h else None),
           "other_ratios_of_medians": ratios, "delivered_rel_diff": diffs}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
