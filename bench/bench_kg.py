"""Benchmark: building knowledge graphs and querying their causal frontier.

Two workloads, each run ``--repeat`` times in a **fresh subprocess** (so that
peak memory is the process's own, read by ``/usr/bin/time -v`` where it
exists, else ``getrusage``):

* ``caida``: the CAIDA AS graph of 2016-11-01 (55,809 ASes, 239,064 links):
  load (bz2 text -> graph), ``build_kg`` (resources, structural damage proxy,
  the dependency layer: 956,256 typed edges), then query latencies: frontier
  after one failed AS / one failed link (200 random each), the root frontier
  (first call, then cached), ``validate`` of a 6-event causal walk, ``digest``
  and ``cascade_depth`` of a hub;
* ``zoo``: the Topology Zoo graphs of 100-200 nodes in the data folder
  (Deltacom, DialtelecomCz, Ion, Pern, TataNld): ``build_kg`` with gravity
  demands (ECMP routing), derived SRLGs and reroute edges, and the frontier
  latency after one failed link.

The targets (issue #3): CAIDA build + dependency layer under 60 s and 4 GiB on
2 cores; a 100-200-node Zoo graph under 1 s. The table gives medians over the
runs (min-max in the JSON). Results go to ``results/bench/kg.json``.

Usage: ``python bench/bench_kg.py [--repeat N] [--data DIR] [--only caida|zoo] [--output PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
DEFAULT_OUTPUT = HERE.parent / "results" / "bench" / "kg.json"
ZOO = ("Deltacom", "DialtelecomCz", "Ion", "Pern", "TataNld")
CAIDA = "caida/20161101.as-rel.txt.bz2"


# --- child side: one measurement, JSON on stdout ---------------------------------
def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def _latencies(fn: Any, items: list[Any]) -> dict[str, float]:
    times = [_timed(fn, x)[1] for x in items]
    times.sort()
    return {"median_ms": 1e3 * statistics.median(times), "p95_ms": 1e3 * times[int(0.95 * (len(times) - 1))],
            "max_ms": 1e3 * times[-1], "n": len(times)}


def _walk(kg: Any, rng: random.Random, steps: int) -> Any:
    from ani.kg.scenario import Event, Scenario

    events: list[Any] = []
    for step in range(steps):
        choices = {t: ts for t, ts in kg.frontier(events).items() if "restore" not in ts[0].value}
        if not choices:
            break
        target = rng.choice(list(choices)[:10])
        events.append(Event(event_type=choices[target][0], target=target, timestamp=1.0 + step))
    return Scenario(events=events)


def child_caida(path: Path) -> dict[str, Any]:
    from ani.kg.caida import load_caida
    from ani.kg.model import build_kg

    g, load_s = _timed(load_caida, path)
    kg, build_s = _timed(build_kg, g)
    rng = random.Random(1)
    nodes, links = rng.sample(list(g.nodes), 200), rng.sample([d["link_id"] for *_, d in g.edges(data=True)], 200)
    out: dict[str, Any] = {"load_s": load_s, "build_s": build_s, "counts": kg.counts()}
    out["frontier_failed_as"] = _latencies(lambda c: kg.frontier(kg.failure_events([c])), nodes)
    out["frontier_failed_link"] = _latencies(lambda c: kg.frontier(kg.failure_events([c])), links)
    out["frontier_hub_AS3356_ms"] = 1e3 * _timed(lambda: kg.frontier(kg.failure_events(["AS3356"])))[1]
    out["root_frontier_first_s"] = _timed(kg.frontier, [])[1]
    out["root_frontier_cached_s"] = _timed(kg.frontier, [])[1]
    scenario = _walk(kg, rng, 6)
    out["validate_6_events_ms"] = 1e3 * _timed(kg.validate, scenario)[1]
    out["digest_s"] = _timed(lambda: kg.digest)[1]
    out["cascade_depth_hub_s"] = _timed(kg.cascade_depth, ["AS3356"])[1]
    return out


def child_zoo(data: Path) -> dict[str, Any]:
    from ani.kg.model import build_kg
    from ani.kg.topology import load_graphml

    out: dict[str, Any] = {}
    for name in ZOO:
        path = data / "topologyzoo" / f"{name}.graphml"
        if not path.is_file():
            continue
        g, load_s = _timed(load_graphml, path)
        kg, build_s = _timed(build_kg, g)
        links = [d["link_id"] for *_, d in g.edges(data=True)]
        out[name] = {"nodes": g.number_of_nodes(), "links": g.number_of_edges(), "load_s": load_s,
                     "build_s": build_s, "counts": kg.counts(),
                     "frontier_failed_link": _latencies(lambda c: kg.frontier(kg.failure_events([c])), links)}
    return out


# --- parent side -----------------------------------------------------------------
def _run_child(args: list[str]) -> tuple[dict[str, Any], float, float | None]:
    """Run one child; return its JSON, wall time and peak RSS in MiB."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    timer = shutil.which("time") and Path("/usr/bin/time").exists()
    if timer:
        cmd = ["/usr/bin/time", "-v", *cmd]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: child {args} failed:\n{proc.stderr[-3000:]}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss = int(match.group(1)) / 1024 if match else None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    own = result.pop("maxrss_mib", None)
    return result, wall, rss if rss is not None else own


def _median(runs: list[dict[str, Any]], *keys: str) -> float:
    values = []
    for r in runs:
        x: Any = r
        for k in keys:
            x = x[k]
        values.append(float(x))
    return statistics.median(values)


def _spread(runs: list[dict[str, Any]], *keys: str) -> dict[str, float]:
    values = []
    for r in runs:
        x: Any = r
        for k in keys:
            x = x[k]
        values.append(float(x))
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_caida(data: Path, repeat: int) -> dict[str, Any]:
    runs, rss = [], []
    for _ in range(repeat):
        result, wall, peak = _run_child(["caida", str(data / CAIDA)])
        result["process_wall_s"] = wall
        runs.append(result)
        rss.append(peak)
    keys = ["load_s", "build_s", "root_frontier_first_s", "root_frontier_cached_s", "validate_6_events_ms",
            "digest_s", "cascade_depth_hub_s", "frontier_hub_AS3356_ms", "process_wall_s"]
    summary = {k: _spread(runs, k) for k in keys}
    for q in ("frontier_failed_as", "frontier_failed_link"):
        summary[q] = {m: _median(runs, q, m) for m in ("median_ms", "p95_ms", "max_ms")}
    summary["peak_rss_mib"] = max(x for x in rss if x is not None) if any(rss) else None
    summary["counts"] = runs[0]["counts"]
    return {"summary": summary, "runs": runs}


def bench_zoo(data: Path, repeat: int) -> dict[str, Any]:
    runs = [_run_child(["zoo", str(data)])[0] for _ in range(repeat)]
    summary = {name: {"nodes": runs[0][name]["nodes"], "links": runs[0][name]["links"],
                      "build_s": _spread(runs, name, "build_s"), "load_s": _spread(runs, name, "load_s"),
                      "frontier_median_ms": _median(runs, name, "frontier_failed_link", "median_ms"),
                      "dependency_edges": runs[0][name]["counts"]["dependency_edges"],
                      "srlgs": runs[0][name]["counts"].get("srlg", 0), "demands": runs[0][name]["counts"]["demands"]}
               for name in runs[0]}
    return {"summary": summary, "runs": runs}


def _print(report: dict[str, Any]) -> None:
    if "caida" in report:
        s = report["caida"]["summary"]
        print(f"CAIDA 2016-11-01 ({s['counts']['router']} ASes, {s['counts']['link']} links, "
              f"{s['counts']['dependency_edges']} dependency edges), {report['repeat']} runs:")
        print(f"  load {s['load_s']['median']:.2f} s, build_kg {s['build_s']['median']:.2f} s "
              f"(min {s['build_s']['min']:.2f}, max {s['build_s']['max']:.2f}), peak RSS {s['peak_rss_mib']:.0f} MiB")
        for q in ("frontier_failed_as", "frontier_failed_link"):
            print(f"  {q}: median {s[q]['median_ms']:.3f} ms, p95 {s[q]['p95_ms']:.3f} ms, max {s[q]['max_ms']:.2f} ms")
        print(f"  frontier after AS3356 fails: {s['frontier_hub_AS3356_ms']['median']:.1f} ms; root frontier first "
              f"{s['root_frontier_first_s']['median']:.2f} s, cached {s['root_frontier_cached_s']['median']:.2f} s; "
              f"validate 6 events {s['validate_6_events_ms']['median']:.1f} ms; digest {s['digest_s']['median']:.2f} s")
    if "zoo" in report:
        print("Topology Zoo, 100-200 nodes (build_kg with gravity demands, SRLGs, reroute edges):")
        for name, s in report["zoo"]["summary"].items():
            print(f"  {name:14s} {s['nodes']:4d} nodes {s['links']:4d} links  build {s['build_s']['median']:.3f} s "
                  f"(max {s['build_s']['max']:.3f})  frontier {s['frontier_median_ms']:.2f} ms  "
                  f"{s['demands']} demands, {s['srlgs']} SRLGs, {s['dependency_edges']} dep. edges")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", choices=["caida", "zoo"])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import resource

        kind, target = args.child
        out = child_caida(Path(target)) if kind == "caida" else child_zoo(Path(target))
        out["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return
    if not args.data.is_dir():
        sys.exit(f"bench: data folder {args.data} not found (--data)")
    report: dict[str, Any] = {"repeat": args.repeat, "python": platform.python_version(),
                              "machine": platform.machine(), "cpus": os.cpu_count(),
                              "load_avg": os.getloadavg()[0]}
    if args.only in (None, "zoo"):
        report["zoo"] = bench_zoo(args.data, args.repeat)
    if args.only in (None, "caida"):
        report["caida"] = bench_caida(args.data, args.repeat)
    _print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
