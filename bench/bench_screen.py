"""Screening rate of the fluid tier on a ~150-PoP network, single and double link failures.

``python bench/bench_screen.py [--topology FILE] [-n 1000] [--repeat 3] [--output FILE]``

For each workload (single fibre cuts; double cuts, the second 0-1 s after the
first) ``-n`` scenarios are drawn (seeded) and screened ``--repeat`` times, each
time on a **fresh** fluid twin, so the route and segment caches start empty
("cold": what a new screening job sees), then once more on the same twin
("warm": every state already seen). Set-up (traffic sizing, baseline routes)
is timed apart. Reports medians; ``--output`` writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
from ani.kg.io import load_network
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.fluid import FluidTwin
from ani.ns3_scenarios.templates import get_template

TATA = "/work/shared/data/topologyzoo/TataNld.graphml"


def workload(g: nx.Graph, n: int, cuts: int, seed: int) -> list[Scenario]:
    """``n`` scenarios of ``cuts`` fibre cuts each on random links (distinct within a scenario)."""
    rng = random.Random(seed)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    out = []
    for i in range(n):
        t, events = 1.0, []
        for target in rng.sample(links, cuts):
            events.append(Event(event_type="fiber_link_failure", target=target, timestamp=t))
            t += rng.uniform(0.0, 1.0)
        out.append(Scenario(name=f"cut{cuts}-{i}", events=events))
    return out


def rate(twin: FluidTwin, scenarios: list[Scenario]) -> tuple[float, float]:
    """Scenarios per second of wall time and of this process's CPU time (the machine may be shared)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for s in scenarios:
        twin.evaluate(s)
    return len(scenarios) / (time.perf_counter() - t0), len(scenarios) / (time.process_time() - c0)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topology", default=TATA)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", type=Path)
    a = ap.parse_args(argv)
    g = load_network(a.topology)
    params = get_template("ospf_failure").params({})
    report: dict[str, object] = {"topology": a.topology, "nodes": len(g), "links": g.number_of_edges(), "n": a.n}
    for cuts, name in ((1, "single"), (2, "double")):
        cold, cold_cpu, setups, warm = [], [], [], (0.0, 0.0)
        for r in range(a.repeat):
            scenarios = workload(g, a.n, cuts, seed=r)
            t0 = time.perf_counter()
            twin = FluidTwin(g, params)
            setups.append(time.perf_counter() - t0)
            wall, cpu = rate(twin, scenarios)
            cold.append(wall)
            cold_cpu.append(cpu)
            warm = rate(twin, scenarios)
        report[name] = {"cold_median_per_s": statistics.median(cold), "cold_per_s": cold,
                        "cold_cpu_median_per_s": statistics.median(cold_cpu), "warm_per_s": warm[0],
                        "warm_cpu_per_s": warm[1], "setup_median_s": statistics.median(setups),
                        "demand_flows": twin.n_demands, "flows": len(twin.flows.src),
                        "load_average": os.getloadavg()[0]}
        print(f"{name} cuts on {len(g)} PoPs / {g.number_of_edges()} links, {twin.n_demands} demand flows: "
              f"cold {statistics.median(cold):,.0f} scenarios/s wall, {statistics.median(cold_cpu):,.0f}/s "
              f"per CPU-second (medians of {a.repeat}); warm {warm[0]:,.0f}/s wall, {warm[1]:,.0f}/s CPU; "
              f"set-up {statistics.median(setups):.2f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
    if a.output:
        a.output.parent.mkdir(parents=True, exist_ok=True)
        a.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
