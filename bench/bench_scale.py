"""Benchmark: the twin per flow, the previous program against the current one, and ``ani run`` at 750 PoPs.

Part 1, **program against program**: one fiber cut rendered once per network
(the template's defaults, auto-sized), then run by the PREVIOUS template
program (``git show f584351:ns3_scenarios/ospf_failure/scenario.cc``, before
the traffic-sizing wave) and the CURRENT one, alternating, ``--rounds`` times
each. Both read the same ``input.txt``: the previous program predates the
``probe`` flow class, so its copy names the probe flows ``demand`` (same
packets; it only classifies them differently). Per run: events processed,
the program's own wall time (set-up + simulation + outputs), ``/usr/bin/time``
elapsed, CPU (user + sys) and peak RSS; packet-hops = the sum of
``links.csv`` ``tx_packets``. Reported: medians, and events/s and us per
packet-hop both per wall second and per CPU second (on a shared machine the
CPU figures are the stable ones).

Part 2, **``ani run`` end to end** on the synthetic 750-PoP backbone
(:mod:`synthetic_backbone`): one fiber cut with its baseline (the default,
``--jobs 2``), timed with ``/usr/bin/time -v`` (peak RSS = the largest single
process of the tree: ``ani`` or one of its workers or programs), plus where
the Python preparation goes (auto sizing, demand and probe selection,
rendering), measured in this process.

Usage::

    python bench/bench_scale.py [--rounds 3] [--jobs 1] [--networks TataNld,Synthetic750]
                                [--ani-run Synthetic750 ('' to skip)] [--output results/bench/scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_graphml
from ani.ns3_scenarios import sizing
from ani.ns3_scenarios.build import build_program, ns3_version
from ani.ns3_scenarios.render import RunSpec, program_command, render, write_run_folder
from ani.ns3_scenarios.templates import get_template

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PREVIOUS_COMMIT = "f584351"
TEMPLATE = "ospf_failure"
ZOO = Path(os.environ.get("ANI_TOPOLOGY_ZOO", "/work/shared/data/topologyzoo"))
DEFAULT_OUTPUT = REPO / "results" / "bench" / "scale.json"
TIME_FIELDS = {"Elapsed (wall clock) time (h:mm:ss or m:ss)": "elapsed_s", "User time (seconds)": "user_s",
               "System time (seconds)": "sys_s", "Maximum resident set size (kbytes)": "max_rss_kb"}


def network_file(name: str, work: Path) -> Path:
    """A Topology Zoo file by name, or the synthetic backbone ``Synthetic<N>`` (written to ``work``)."""
    match = re.fullmatch(r"Synthetic(\d+)", name)
    if match:
        sys.path.insert(0, str(HERE))
        from synthetic_backbone import write  # noqa: PLC0415 (a script beside this one)

        path = work / f"{name}.graphml"
        write(path, int(match.group(1)), seed=1)
        return path
    return ZOO / f"{name}.graphml"


def cut_scenario(g) -> Scenario:  # type: ignore[no-untyped-def]
    """One fiber cut at 1.0 s on the link in the middle of the graph's link list (reproducible)."""
    u, v = list(g.edges)[len(g.edges) // 2]
    return Scenario(name="cut", events=[Event(event_type="fiber_link_failure", target=f"{u}-{v}",
                                              timestamp=1.0, severity="high")])


def gnu_time(text: str) -> dict[str, float]:
    """The fields of ``/usr/bin/time -v`` this benchmark reports."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key in TIME_FIELDS:
            if ":" in value:  # h:mm:ss or m:ss
                parts = [float(x) for x in value.split(":")]
                value = str(sum(x * 60 ** i for i, x in enumerate(reversed(parts))))
            out[TIME_FIELDS[key]] = float(value)
    return out


def timed(cmd: list[str], cwd: Path) -> tuple[str, dict[str, float]]:
    """Run ``cmd`` under ``/usr/bin/time -v``; its stdout and the time fields."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: {cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout, gnu_time(proc.stderr)


def previous_source() -> str:
    """The template program before this wave."""
    path = f"{PREVIOUS_COMMIT}:ns3_scenarios/{TEMPLATE}/scenario.cc"
    return subprocess.run(["git", "show", path], cwd=REPO, capture_output=True, text=True, check=True).stdout


def previous_input(spec: RunSpec) -> str:
    """The input for the previous program: the same records, probe flows named ``demand``, and the
    parameters (today the program's command line) and the duration as the ``param`` records it reads."""
    params = [f"param {k} {float(v)!r}" for k, v in sorted(spec.params.items())]
    params.append(f"param duration_s {spec.duration_s!r}")
    text = re.sub(r"^duration .*\n", "", spec.input_text(), flags=re.M)
    return "\n".join(params) + "\n" + re.sub(r"^(flow .*) probe$", r"\1 demand", text, flags=re.M)


def program_run(binary: Path, folder: Path, spec: RunSpec, side: str) -> dict[str, float]:
    """One run of a template program on ``folder/input.txt``; its figures."""
    cmd = [str(binary), "--input=input.txt", "--out=."] if side == "previous" else program_command(binary, spec, ".")
    stdout, t = timed(cmd, folder)
    stats = dict(line.split() for line in stdout.splitlines() if len(line.split()) == 2)
    hops = int(pd.read_csv(folder / "links.csv")["tx_packets"].sum())
    events, wall = float(stats["events_processed"]), float(stats["wall_s"])
    cpu = t["user_s"] + t["sys_s"]
    return {**t, "events": events, "program_wall_s": wall, "packet_hops": hops, "cpu_s": cpu,
            "events_per_s": events / wall, "us_per_hop": 1e6 * wall / hops,
            "events_per_cpu_s": events / cpu, "cpu_us_per_hop": 1e6 * cpu / hops}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def prepare(name: str, work: Path) -> dict[str, object]:
    """Part 1 on one network: the cut rendered once, both programs compiled (cached)."""
    g = load_graphml(network_file(name, work))
    template = get_template(TEMPLATE)
    start = time.monotonic()
    spec = render(template, cut_scenario(g), g, template.params({}))
    render_s = time.monotonic() - start
    binaries = {"previous": build_program(previous_source(), spec.ns3_modules, name="previous"),
                "current": build_program(spec.program_source, spec.ns3_modules, name=TEMPLATE)}
    return {"network": name, "nodes": g.number_of_nodes(), "links": g.number_of_edges(), "spec": spec,
            "binaries": binaries, "flows": len(spec.flows), "render_s": render_s,
            "sizing": spec.sizing.line() if spec.sizing else "",
            "capacity_scale": spec.params["capacity_scale"], "packet_bytes": spec.params["packet_bytes"]}


def one_run(net: dict[str, object], side: str, r: int, work: Path) -> dict[str, float]:
    """One program run of part 1, in its own folder."""
    spec = net["spec"]
    folder = work / str(net["network"]) / side / str(r)
    write_run_folder(spec, folder)  # type: ignore[arg-type]
    if side == "previous":
        (folder / "input.txt").write_text(previous_input(spec))  # type: ignore[arg-type]
    m = program_run(net["binaries"][side], folder, spec, side)  # type: ignore[index,arg-type]
    print(f"  {net['network']} {side} round {r}: {m['program_wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, "
          f"{m['events_per_s'] / 1e3:.0f} k events/s, {m['us_per_hop']:.2f} us/hop, "
          f"{m['max_rss_kb'] / 1024:.0f} MB", flush=True)
    return m


def compare_programs(names: list[str], work: Path, rounds: int, jobs: int) -> list[dict[str, object]]:
    """Part 1: per network the previous and the current program, alternating (``jobs`` runs at a time)."""
    nets = [prepare(n, work) for n in names]
    plan = [(net, side, r) for r in range(rounds) for net in nets for side in ("previous", "current")]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda job: one_run(*job, work), plan))
    results = []
    for net in nets:
        runs = {side: [m for (n, sd, _), m in zip(plan, done) if n is net and sd == side]
                for side in ("previous", "current")}
        med = {side: median_of(rs) for side, rs in runs.items()}
        results.append({**{k: v for k, v in net.items() if k not in ("spec", "binaries")}, "runs": runs,
                        "median": med,
                        "speedup_wall": med["previous"]["program_wall_s"] / med["current"]["program_wall_s"],
                        "speedup_cpu": med["previous"]["cpu_s"] / med["current"]["cpu_s"]})
    return results


def python_phases(path: Path) -> dict[str, float]:
    """Where the Python preparation of one run goes, cold (fresh caches)."""
    sizing._CACHE.clear(), sizing._AUTO_CACHE.clear(), sizing._PREPARED.clear()
    template = get_template(TEMPLATE)
    t0 = time.monotonic()
    g = load_graphml(path)
    t1 = time.monotonic()
    params = sizing.auto_sized(g, template.params({}))
    t2 = time.monotonic()
    sizing.sized_traffic(g, params)
    t3 = time.monotonic()
    render(template, cut_scenario(g), g, template.params({}))  # uses the caches above
    t4 = time.monotonic()
    return {"load_graphml_s": t1 - t0, "auto_size_s": t2 - t1, "demands_and_probes_s": t3 - t2,
            "render_rest_s": t4 - t3}


def ani_run(name: str, work: Path, rounds: int) -> dict[str, object]:
    """Part 2: ``ani run`` of one cut with its baseline, end to end."""
    path = network_file(name, work)
    g = load_graphml(path)
    scenario_file = work / f"{name}-cut.json"
    scenario_file.write_text(cut_scenario(g).model_dump_json())
    ani = str(Path(sys.executable).parent / "ani")
    runs = []
    for r in range(rounds):
        phases = python_phases(path)
        out, t = timed([ani, "run", str(scenario_file), "--topology", str(path),
                        "--results", str(work / "ani" / name / str(r))], work)
        runs.append({**t, **phases})
        print(f"  ani run {name} round {r}: {t['elapsed_s']:.1f} s, {t['max_rss_kb'] / 1024:.0f} MB peak; "
              f"python: {json.dumps({k: round(v, 2) for k, v in phases.items()})}", flush=True)
    return {"network": name, "nodes": g.number_of_nodes(), "links": g.number_of_edges(), "runs": runs,
            "median": median_of(runs), "last_output_tail": out[-1500:]}


def table(results: list[dict[str, object]]) -> str:
    """The README table of part 1."""
    rows = ["| network | flows | side | events | packet-hops | wall s | CPU s | k events/s (wall / CPU) "
            "| us per packet-hop (wall / CPU) | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        for side, m in res["median"].items():  # type: ignore[union-attr]
            rows.append(f"| {res['network']} | {res['flows']} | {side} | {m['events'] / 1e6:.2f} M | "
                        f"{m['packet_hops'] / 1e6:.2f} M | {m['program_wall_s']:.1f} | {m['cpu_s']:.1f} | "
                        f"{m['events_per_s'] / 1e3:.0f} / {m['events_per_cpu_s'] / 1e3:.0f} | "
                        f"{m['us_per_hop']:.2f} / {m['cpu_us_per_hop']:.2f} | {m['max_rss_kb'] / 1024:.0f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1, help="program runs at a time in part 1 (CPU figures stay "
                    "comparable; wall figures only at 1 on an idle machine)")
    ap.add_argument("--networks", default="TataNld,Synthetic750")
    ap.add_argument("--ani-run", default="Synthetic750", help="network of part 2 ('' to skip)")
    ap.add_argument("--work", type=Path, default=REPO / "results" / "bench" / "scale")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = ap.parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    results = compare_programs([n for n in args.networks.split(",") if n], args.work, args.rounds, args.jobs)
    print(table(results))
    for res in results:
        print(f"{res['network']}: current is {res['speedup_wall']:.2f}x faster (wall), "
              f"{res['speedup_cpu']:.2f}x (CPU)")
    end_to_end = ani_run(args.ani_run, args.work, args.rounds) if args.ani_run else None
    if end_to_end:
        m = end_to_end["median"]
        print(f"ani run {args.ani_run} (cut + baseline): {m['elapsed_s']:.1f} s, "  # type: ignore[index]
              f"{m['max_rss_kb'] / 1024:.0f} MB peak (medians)")  # type: ignore[index]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.machine(),
        "cpus": os.cpu_count(), "load_before": load, "load_after": os.getloadavg(),
        "ns3": ns3_version(), "python": platform.python_version(), "rounds": args.rounds,
        "programs": results, "ani_run": end_to_end}, indent=1, default=str))
    print(f"load average before {load[0]:.1f}, after {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"written {args.output}")


if __name__ == "__main__":
    main()
