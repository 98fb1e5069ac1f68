"""Benchmark: the twin per flow, the previous program against the current one, and ``ani run`` from 11 to 5,000 PoPs.

Part 1, **program against program**: one fiber cut rendered once per network
(the template's defaults, auto-sized), then run by the PREVIOUS template
program (the ``ospf_failure`` program and its headers at commit
``PREVIOUS_COMMIT``, inlined as ``ani`` does) and the CURRENT one,
``--rounds`` times each. Both read the same ``input.txt``. After each pair of
runs the KPI tables (``flow_kpis``) and ``summary.json`` of the two are
compared (the previous program writes ``flowmon.xml``, the current one its own
counters): the largest relative difference per column is reported. Per run: events processed,
the program's own wall time (set-up + simulation + outputs), ``/usr/bin/time``
elapsed, CPU (user + sys) and peak RSS; packet-hops = the sum of
``links.csv`` ``tx_packets``. Reported: medians, and events/s and us per
packet-hop both per wall second and per CPU second (on a shared machine the
CPU figures are the stable ones).

Part 2, **cost growth, ``ani run`` end to end** on each network of
``--ani-run`` (Topology Zoo names, ``abilene``, or ``Synthetic<N>``, the
synthetic backbone of :mod:`synthetic_backbone`): one fiber cut with its
baseline (the default, ``--jobs 2``), timed with ``/usr/bin/time -v`` (wall,
user + sys CPU of the whole process tree, peak RSS = the largest single
process of the tree: ``ani`` or one of its workers or programs), plus where
the Python preparation goes (auto sizing, demand and probe selection,
rendering), measured in this process; and the fluid tier on the same network
(``ani screen -n --screen-n`` random scenarios, wall and peak RSS). With
``--previous-ani`` (the ``ani`` of another checkout, e.g. main's venv), each
round first runs the previous code the same way (``ani run`` and its Python
phases, in that checkout's interpreter), so both are measured side by side.

Usage::

    python bench/bench_scale.py [--rounds 3] [--jobs 1] [--networks TataNld,Synthetic750,Synthetic5000]
                                [--ani-run abilene,Geant2010,TataNld,Synthetic750,Synthetic5000 ('' to skip)]
                                [--previous-ani /work/main/.venv/bin/ani]
                                [--output results/bench/scale.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_graphml, load_topology
from ani.ns3_scenarios import sizing
from ani.ns3_scenarios.build import build_program, ns3_version
from ani.ns3_scenarios.program_source import inline_source
from ani.ns3_scenarios.render import RunSpec, program_command, render, write_run_folder
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.measure.flowmon import read_run_tables
from ani.orchestrator.measure.kpis import flow_kpis

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PREVIOUS_COMMIT = "8b9eea1"  # main before this wave: FlowMonitor, one SPF Dijkstra per neighbour
TEMPLATE = "ospf_failure"
ZOO = Path(os.environ.get("ANI_TOPOLOGY_ZOO", "/work/shared/data/topologyzoo"))
DEFAULT_OUTPUT = REPO / "results" / "bench" / "scale.json"
TIME_FIELDS = {"Elapsed (wall clock) time (h:mm:ss or m:ss)": "elapsed_s", "User time (seconds)": "user_s",
               "System time (seconds)": "sys_s", "Maximum resident set size (kbytes)": "max_rss_kb"}


def network_file(name: str, work: Path) -> Path | str:
    """A Topology Zoo file by name, ``abilene``, or the synthetic backbone ``Synthetic<N>`` (written to ``work``)."""
    match = re.fullmatch(r"Synthetic(\d+)", name)
    if match:
        sys.path.insert(0, str(HERE))
        from synthetic_backbone import write  # noqa: PLC0415 (a script beside this one)

        path = work / f"{name}.graphml"
        if not path.is_file():
            write(path, int(match.group(1)), seed=1)
        return path
    return "abilene" if name.lower() == "abilene" else ZOO / f"{name}.graphml"


def load_network(name: str, work: Path):  # type: ignore[no-untyped-def]
    path = network_file(name, work)
    return load_topology(path) if path == "abilene" else load_graphml(path)


def cut_scenario(g, cut: str = "middle") -> Scenario:  # type: ignore[no-untyped-def]
    """One fiber cut at 1.0 s: on the link in the middle of the graph's link list (``middle``; reproducible,
    but it may carry little traffic), or on the link, not a bridge, that most demand flows cross on the
    twin's routes (``busiest``; the packet tier's own traffic, taken from the fluid twin, which sizes it
    the same way)."""
    u, v = list(g.edges)[len(g.edges) // 2] if cut == "middle" else busiest_link(g)
    return Scenario(name="cut", events=[Event(event_type="fiber_link_failure", target=f"{u}-{v}",
                                              timestamp=1.0, severity="high")])


def busiest_link(g) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The link, not a bridge, the most demand flows of the default traffic cross (the fluid twin's routes).

    The same link as :func:`ani.orchestrator.measure.checks.busiest_cut` (checked on TataNld), without its
    networkx routes to every destination, which take minutes at 5,000 PoPs."""
    from ani.ns3_scenarios.fluid import FluidTwin
    from ani.ns3_scenarios.templates import get_template

    twin = FluidTwin(g, get_template("ospf_failure").params({}))
    on = twin.base_fast.on_arc
    bridges = {frozenset(map(str, b)) for b in nx.bridges(g)}
    n = twin.n_demands
    best = max((k for k in range(twin.net.L)
                if frozenset((twin.net.nodes[twin.net.tail[2 * k]], twin.net.nodes[twin.net.head[2 * k]]))
                not in bridges),
               key=lambda k: (np.count_nonzero(on[2 * k] < n) + np.count_nonzero(on[2 * k + 1] < n), -k))
    return twin.net.nodes[twin.net.tail[2 * best]], twin.net.nodes[twin.net.head[2 * best]]


def fresh(folder: Path) -> Path:
    """``folder`` emptied: ``ani run`` reuses the runs already in its results folder, and a benchmark that
    timed those would time nothing."""
    shutil.rmtree(folder, ignore_errors=True)
    return folder


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


def timed(cmd: list[str], cwd: Path, must_succeed: bool = True) -> tuple[str, dict[str, float]]:
    """Run ``cmd`` under ``/usr/bin/time -v``; its stdout and the time fields (a failure that need not
    stop the benchmark gives NaN fields)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        if must_succeed:
            sys.exit(f"bench: {cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        own = proc.stderr.split("\tCommand being timed")[0].strip()  # the command's own stderr, before time -v's
        print(f"  ({' '.join(cmd[:2])} failed ({proc.returncode}): {own[-300:]})", flush=True)
        return proc.stdout, {k: math.nan for k in TIME_FIELDS.values()}
    return proc.stdout, gnu_time(proc.stderr)


def previous_source(commit: str = PREVIOUS_COMMIT) -> str:
    """The template program before this wave: its scenario.cc and headers at ``commit``, inlined."""
    folder = f"ns3_scenarios/{TEMPLATE}"
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{commit}:{folder}"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name == "scenario.cc" or name.endswith(".h"):
                text = subprocess.run(["git", "show", f"{commit}:{folder}/{name}"], cwd=REPO,
                                      capture_output=True, text=True, check=True).stdout
                (Path(tmp) / name).write_text(text)
        return inline_source(Path(tmp) / "scenario.cc")


def previous_input(spec: RunSpec) -> str:
    """The input for the previous program (PREVIOUS_COMMIT, before the command-line parameters): the same
    records, and the parameters and the duration as the ``param`` records it reads."""
    params = [f"param {k} {float(v)!r}" for k, v in sorted(spec.params.items())]
    params.append(f"param duration_s {spec.duration_s!r}")
    text = re.sub(r"^(duration .*|#.*)\n", "", spec.input_text(), flags=re.M)
    return "\n".join(params) + "\n" + text


def kpi_differences(previous: Path, current: Path) -> dict[str, object]:
    """The two runs' KPI tables and summary.json compared: per column the largest relative difference."""
    a, b = (flow_kpis(read_run_tables(f)) for f in (previous, current))
    out: dict[str, object] = {"flows": len(a), "same_shape": list(a.columns) == list(b.columns) and len(a) == len(b)}
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype.kind in "fi":
            x, y = x.to_numpy(float), y.to_numpy(float)
            if np.array_equal(x, y, equal_nan=True):
                out[c] = 0.0
            elif not np.array_equal(np.isnan(x), np.isnan(y)):
                out[c] = math.inf
            else:
                out[c] = float(np.nanmax(np.abs(x - y) / np.maximum(np.abs(x), 1e-300)))
        else:
            out[c] = 0.0 if (x.astype(str) == y.astype(str)).all() else math.inf
    out["summary_json_identical"] = (previous / "summary.json").read_text() == (current / "summary.json").read_text()
    return out


def params_in_input(source: str) -> bool:
    """Whether a program reads its parameters as ``param`` records of its input (before the command-line
    parameters, e.g. 8b9eea1), not from its command line."""
    return "AddParameters(" not in source


def program_run(binary: Path, folder: Path, spec: RunSpec, old_input: bool) -> dict[str, float]:
    """One run of a template program on ``folder/input.txt``; its figures."""
    cmd = [str(binary), "--input=input.txt", "--out=."] if old_input else program_command(binary, spec, ".")
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


def prepare(name: str, work: Path, commit: str = PREVIOUS_COMMIT) -> dict[str, object]:
    """Part 1 on one network: the cut rendered once, both programs compiled (cached)."""
    g = load_network(name, work)
    template = get_template(TEMPLATE)
    start = time.monotonic()
    spec = render(template, cut_scenario(g), g, template.params({}))
    render_s = time.monotonic() - start
    source = previous_source(commit)
    binaries = {"previous": build_program(source, spec.ns3_modules, name="previous"),
                "current": build_program(spec.program_source, spec.ns3_modules, name=TEMPLATE)}
    return {"network": name, "nodes": g.number_of_nodes(), "links": g.number_of_edges(), "spec": spec,
            "binaries": binaries, "flows": len(spec.flows), "render_s": render_s, "previous_commit": commit,
            "old_input": params_in_input(source),
            "sizing": spec.sizing.line() if spec.sizing else "",
            "capacity_scale": spec.params["capacity_scale"], "packet_bytes": spec.params["packet_bytes"]}


def one_run(net: dict[str, object], side: str, r: int, work: Path) -> dict[str, float]:
    """One program run of part 1, in its own folder."""
    spec = net["spec"]
    folder = work / str(net["network"]) / side / str(r)
    write_run_folder(spec, folder)  # type: ignore[arg-type]
    old_input = side == "previous" and bool(net["old_input"])
    if old_input:
        (folder / "input.txt").write_text(previous_input(spec))  # type: ignore[arg-type]
    m = program_run(net["binaries"][side], folder, spec, old_input)  # type: ignore[index,arg-type]
    print(f"  {net['network']} {side} round {r}: {m['program_wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, "
          f"{m['events_per_s'] / 1e3:.0f} k events/s, {m['us_per_hop']:.2f} us/hop, "
          f"{m['max_rss_kb'] / 1024:.0f} MB", flush=True)
    return m


def compare_programs(names: list[str], work: Path, rounds: int, jobs: int, commit: str = PREVIOUS_COMMIT
                     ) -> list[dict[str, object]]:
    """Part 1: per network the previous and the current program, alternating (``jobs`` runs at a time)."""
    nets = [prepare(n, work, commit) for n in names]
    plan = [(net, side, r) for r in range(rounds) for net in nets for side in ("previous", "current")]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda job: one_run(*job, work), plan))
    results = []
    for net in nets:
        runs = {side: [m for (n, sd, _), m in zip(plan, done) if n is net and sd == side]
                for side in ("previous", "current")}
        med = {side: median_of(rs) for side, rs in runs.items()}
        base = work / str(net["network"])
        same = kpi_differences(base / "previous" / "0", base / "current" / "0")
        print(f"  {net['network']}: KPI tables previous vs current, largest relative difference per column: "
              f"{json.dumps(same)}", flush=True)
        results.append({**{k: v for k, v in net.items() if k not in ("spec", "binaries")}, "runs": runs,
                        "median": med, "kpi_differences": same,
                        "speedup_wall": med["previous"]["program_wall_s"] / med["current"]["program_wall_s"],
                        "speedup_cpu": med["previous"]["cpu_s"] / med["current"]["cpu_s"]})
    return results


def python_phases(name: str, work: Path) -> dict[str, float]:
    """Where the Python preparation of one run goes, cold (fresh caches), in CPU seconds of this process."""
    for cache in (sizing._CACHE, sizing._AUTO_CACHE, sizing._PREPARED, sizing._MATRICES, sizing._SETTLED):
        cache.clear()
    template = get_template(TEMPLATE)
    clock = time.process_time
    t0 = clock()
    g = load_network(name, work)
    t1 = clock()
    params = sizing.auto_sized(g, template.params({}))
    t2 = clock()
    sizing.sized_traffic(g, params)
    t3 = clock()
    render(template, cut_scenario(g), g, template.params({}))  # uses the caches above
    t4 = clock()
    return {"load_graph_cpu_s": t1 - t0, "auto_size_cpu_s": t2 - t1, "demands_and_probes_cpu_s": t3 - t2,
            "render_rest_cpu_s": t4 - t3}


def previous_phases(previous_ani: Path, name: str, work: Path) -> dict[str, float]:
    """:func:`python_phases` of the previous code: that checkout's interpreter and its own bench_scale."""
    repo = Path(subprocess.run([str(previous_ani.parent / "python"), "-c", "import ani.kg, pathlib; "
                                "print(pathlib.Path(ani.kg.__file__).resolve().parents[1])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    code = (f"import sys, json, pathlib; sys.path.insert(0, {str(repo / 'bench')!r}); import bench_scale; "
            f"print(json.dumps(bench_scale.python_phases({name!r}, pathlib.Path({str(work)!r}))))")
    out = subprocess.run([str(previous_ani.parent / "python"), "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ani_run(name: str, work: Path, rounds: int, screen_n: int, previous_ani: Path | None = None,
            cut: str = "middle") -> dict[str, object]:
    """Part 2 on one network: ``ani run`` of one cut with its baseline, end to end; the fluid tier's screen.
    With ``previous_ani`` (the ``ani`` of a checkout of the previous code), each round first runs that one
    the same way (its Python phases with its own code), so the two are measured side by side."""
    path = network_file(name, work)
    g = load_network(name, work)
    scenario_file = work / f"{name}-cut{'' if cut == 'middle' else '-' + cut}.json"
    scenario_file.write_text(cut_scenario(g, cut).model_dump_json())
    ani = str(Path(sys.executable).parent / "ani")
    runs = []
    for r in range(rounds):
        before = None
        if previous_ani:
            phases = previous_phases(previous_ani, name, work)
            _, t = timed([str(previous_ani), "run", str(scenario_file), "--topology", str(path),
                          "--results", str(fresh(work / "ani-previous" / name / str(r)))], work)
            before = {**t, **phases, "cpu_s": t["user_s"] + t["sys_s"]}
            print(f"  previous ani run {name} round {r}: {t['elapsed_s']:.1f} s wall, {before['cpu_s']:.1f} s CPU, "
                  f"{t['max_rss_kb'] / 1024:.0f} MB peak; python: "
                  f"{json.dumps({k: round(v, 2) for k, v in phases.items()})}", flush=True)
        phases = python_phases(name, work)
        out, t = timed([ani, "run", str(scenario_file), "--topology", str(path),
                        "--results", str(fresh(work / "ani" / name / str(r)))], work)
        run = {**t, **phases, "cpu_s": t["user_s"] + t["sys_s"], **({"previous": before} if before else {})}
        if screen_n:
            screen, ts = timed([ani, "screen", "--topology", str(path), "--generator", "random",
                                "-n", str(screen_n), "--seed", str(r)], work, must_succeed=False)
            rate = re.search(r"([\d.]+)\s*scenarios/s", screen)
            run |= {"screen_elapsed_s": ts["elapsed_s"], "screen_cpu_s": ts["user_s"] + ts["sys_s"],
                    "screen_max_rss_kb": ts["max_rss_kb"], "screen_rate": float(rate[1]) if rate else math.nan}
        runs.append(run)
        print(f"  ani run {name} round {r}: {t['elapsed_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU, "
              f"{t['max_rss_kb'] / 1024:.0f} MB peak; python: "
              f"{json.dumps({k: round(v, 2) for k, v in phases.items()})}"
              + (f"; screen {screen_n}: {run['screen_elapsed_s']:.1f} s, {run['screen_max_rss_kb'] / 1024:.0f} MB"
                 if screen_n else ""), flush=True)
    sized = [line for line in out.splitlines() if line.strip().startswith("traffic:")]
    previous = [run.pop("previous") for run in runs if "previous" in run]
    return {"network": name, "nodes": g.number_of_nodes(), "links": g.number_of_edges(), "runs": runs,
            "median": median_of(runs), "traffic": sized[0].strip() if sized else "", "last_output_tail": out[-1500:],
            **({"previous_runs": previous, "previous_median": median_of(previous)} if previous else {})}


def growth_table(results: list[dict[str, object]]) -> str:
    """The README's cost-growth table (medians)."""
    rows = ["| network | PoPs | links | `ani run` cut + baseline: wall s | CPU s | peak RSS MB "
            "| Python preparation CPU s | fluid `ani screen`: wall s | peak RSS MB | scenarios/s |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        for label, key in (("previous: ", "previous_median"), ("", "median")):
            if key not in res:
                continue
            m = res[key]  # type: ignore[literal-required]
            prep = sum(m[k] for k in ("auto_size_cpu_s", "demands_and_probes_cpu_s", "render_rest_cpu_s"))
            fluid = (f"{m['screen_elapsed_s']:.1f} | {m['screen_max_rss_kb'] / 1024:.0f} | {m['screen_rate']:.0f}"
                     if "screen_elapsed_s" in m else "- | - | -")
            rows.append(f"| {label}{res['network']} | {res['nodes']} | {res['links']} | {m['elapsed_s']:.1f} "
                        f"| {m['cpu_s']:.1f} | {m['max_rss_kb'] / 1024:.0f} | {prep:.1f} | {fluid} |")
    return "\n".join(rows)


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
    ap.add_argument("--networks", default="TataNld,Synthetic750,Synthetic5000")
    ap.add_argument("--ani-run", default="abilene,Geant2010,TataNld,Synthetic750,Synthetic5000",
                    help="networks of part 2, comma-separated ('' to skip)")
    ap.add_argument("--screen-n", type=int, default=200, help="fluid-tier scenarios per network in part 2 (0: none)")
    ap.add_argument("--previous-commit", default=PREVIOUS_COMMIT,
                    help="part 1: the commit whose template program is the previous one")
    ap.add_argument("--previous-ani", type=Path, default=None,
                    help="part 2 side by side: the `ani` of a checkout of the previous code (e.g. main's venv)")
    ap.add_argument("--cut", choices=["middle", "busiest"], default="middle",
                    help="part 2's cut: the middle link of the list, or the non-bridge link most demand flows cross")
    ap.add_argument("--work", type=Path, default=REPO / "results" / "bench" / "scale")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = ap.parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    results = compare_programs([n for n in args.networks.split(",") if n], args.work, args.rounds, args.jobs,
                               args.previous_commit)
    print(table(results))
    for res in results:
        print(f"{res['network']}: current is {res['speedup_wall']:.2f}x faster (wall), "
              f"{res['speedup_cpu']:.2f}x (CPU)")
    end_to_end = [ani_run(n, args.work, args.rounds, args.screen_n, args.previous_ani, args.cut)
                  for n in args.ani_run.split(",") if n]
    if end_to_end:
        print(growth_table(end_to_end))
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
