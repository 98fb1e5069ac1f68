"""Screening rate of the fluid tier on a ~150-PoP network, single and double link failures.

``python bench/bench_screen.py [--topology FILE] [-n 1000] [--repeat 3] [--workers W] [--against REF]
[--output FILE]``

For each workload (single fibre cuts; double cuts, the second 0-1 s after the
first) ``-n`` scenarios are drawn (seeded by the repeat) and screened on a
**fresh** fluid twin in a fresh process, so the route and segment caches start
empty ("cold": what a new screening job sees), then once more on the same twin
("warm": every state already seen, of which the twin keeps every single
failure's and the last few hundred others), in blocks as ``ani screen`` does
(``FluidTwin.evaluate_many``; one at a time for code without it). Set-up (traffic sizing, baseline routes)
is timed apart. Rates are given per second of wall time and per second of the
process's CPU time (the machine may be shared), its workers' included.

``--workers W`` (W > 1) also screens each workload on W processes
(:func:`~ani.ns3_scenarios.fluid.parallel.evaluate_parallel`, as ``ani screen
--workers W`` does: the twin set up, then forked), interleaved with the
one-process runs, and compares its KPIs with theirs. Its "warm" pass forks
again from the parent, which kept only the single-link routing states.

``--against REF`` runs every repeat twice, interleaved: with this tree's code
and with the code of git revision ``REF`` (its ``kg``, ``llm``,
``ns3_scenarios`` and ``orchestrator`` extracted to a temporary folder and put
first on ``PYTHONPATH``), on the same scenarios, and compares every scenario's
KPIs: fields other than floats must be equal; floats may differ in the last
bits when the two add the same numbers in another order (the largest relative
difference is reported). Reports medians; ``--output``
writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
from ani.kg.io import load_network
from ani.kg.scenario import Event, Scenario

TATA = "/work/shared/data/topologyzoo/TataNld.graphml"
ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kg", "llm", "ns3_scenarios", "orchestrator")


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


def cpu_s() -> float:
    """CPU seconds of this process and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def rate(twin: object, scenarios: list[Scenario], workers: int = 1) -> tuple[float, float, list[object]]:
    """Scenarios per second of wall time and of CPU time (workers included), and the KPIs.

    Screened as ``ani screen`` does: in blocks (``evaluate_many``) where the code has it, else one at a time;
    on ``workers`` processes if more than one.
    """
    t0, c0 = time.perf_counter(), cpu_s()
    if workers > 1:
        from ani.ns3_scenarios.fluid.parallel import evaluate_parallel

        kpis = evaluate_parallel(twin, scenarios, workers)
    else:
        many = getattr(twin, "evaluate_many", None)
        kpis = many(scenarios) if many else [twin.evaluate(s) for s in scenarios]  # type: ignore[attr-defined]
    wall = time.perf_counter() - t0
    for p in multiprocessing.active_children():   # workers not waited for: their CPU counts once they end
        p.join()
    return len(scenarios) / wall, len(scenarios) / (cpu_s() - c0), kpis


def one(topology: str, n: int, cuts: int, seed: int, workers: int = 1) -> dict[str, object]:
    """One cold and one warm pass on a fresh twin (run in its own process)."""
    from ani.ns3_scenarios.fluid import FluidTwin
    from ani.ns3_scenarios.templates import get_template

    g = load_network(topology)
    params = get_template("ospf_failure").params({})
    scenarios = workload(g, n, cuts, seed)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    twin = FluidTwin(g, params)
    setup = time.perf_counter() - t0
    wall, cpu, kpis = rate(twin, scenarios, workers)
    warm_wall, warm_cpu, _ = rate(twin, scenarios, workers)
    return {"cold_per_s": wall, "cold_cpu_per_s": cpu, "warm_per_s": warm_wall, "warm_cpu_per_s": warm_cpu,
            "setup_s": setup, "kpis": [k.model_dump() for k in kpis], "demand_flows": twin.n_demands,
            "nodes": len(g), "links": g.number_of_edges(), "load_average": [load0, os.getloadavg()[0]]}


def differences(a: list[dict[str, object]], b: list[dict[str, object]]) -> tuple[int, float]:
    """KPIs of the same scenarios from two runs: fields that differ other than in floats, and the largest
    relative difference of a float field."""
    other, worst = 0, 0.0
    for x, y in zip(a, b, strict=True):
        for k, u in x.items():
            v = y[k]
            if isinstance(u, float) and isinstance(v, float):
                worst = max(worst, abs(u - v) / max(abs(u), abs(v), 1e-300))
            else:
                other += u != v
    return other, worst


def extract(ref: str, into: Path) -> Path:
    """The packages of git revision ``ref`` under ``into/src``, importable as ``ani.*`` from ``into/root``."""
    src, root = into / "src", into / "root" / "ani"
    src.mkdir(parents=True)
    root.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, *PACKAGES], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    for p in PACKAGES:
        (root / p).symlink_to(src / p)
    return into / "root"


def run_one(topology: str, n: int, cuts: int, seed: int, pythonpath: Path | None, workers: int = 1
            ) -> dict[str, object]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    cmd = [sys.executable, __file__, "--one", "--topology", topology, "-n", str(n), "--cuts", str(cuts),
           "--seed", str(seed), "--workers", str(workers)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)


def summary(runs: list[dict[str, object]]) -> dict[str, float]:
    keys = ("cold_per_s", "cold_cpu_per_s", "warm_per_s", "warm_cpu_per_s", "setup_s")
    return {k: statistics.median(float(r[k]) for r in runs) for k in keys}  # type: ignore[arg-type]


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topology", default=TATA)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", metavar="REF", help="git revision to compare with, interleaved")
    ap.add_argument("--workers", type=int, default=1, help="also screen on this many processes (if > 1)")
    ap.add_argument("--output", type=Path)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cuts", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.topology, a.n, a.cuts, a.seed, a.workers)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = extract(a.against, Path(tmp)) if a.against else None
        report: dict[str, object] = {"topology": a.topology, "n": a.n, "repeat": a.repeat, "against": a.against,
                                     "workers": a.workers,
                                     "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        many = f"this x{a.workers}"
        for cuts, name in ((1, "single"), (2, "double")):
            runs: dict[str, list[dict[str, object]]] = {"this": [], many: [], a.against or "": []}
            for r in range(a.repeat):
                runs["this"].append(run_one(a.topology, a.n, cuts, r, None))
                if a.workers > 1:
                    runs[many].append(run_one(a.topology, a.n, cuts, r, None, a.workers))
                if ref_path is not None:
                    runs[a.against].append(run_one(a.topology, a.n, cuts, r, ref_path))
            report[name] = {k: {"median": summary(v), "runs": v} for k, v in runs.items() if v}
            for k, v in runs.items():
                if v:
                    m, loads = summary(v), [x for r_ in v for x in r_["load_average"]]  # type: ignore[union-attr]
                    print(f"{name} cuts, {k:>9}: cold {m['cold_per_s']:,.0f}/s wall, {m['cold_cpu_per_s']:,.0f}/s "
                          f"per CPU-second; warm {m['warm_per_s']:,.0f}/s wall, {m['warm_cpu_per_s']:,.0f}/s CPU; "
                          f"set-up {m['setup_s']:.2f} s (medians of {len(v)}; load average "
                          f"{min(loads):.1f}-{max(loads):.1f})", flush=True)
            if a.workers > 1:
                diffs = [differences(x["kpis"], y["kpis"]) for x, y in zip(runs["this"], runs[many])]
                other, worst = sum(d[0] for d in diffs), max(d[1] for d in diffs)
                ratio = summary(runs[many])["cold_per_s"] / summary(runs["this"])["cold_per_s"]
                report[name]["parallel_kpi_differences"] = {"non_float_fields": other, "max_relative_float": worst}
                print(f"{name} cuts on {a.workers} processes against one: {other} KPI fields differ other than "
                      f"in floats, floats by at most {worst:.1e} (relative); cold wall rate x{ratio:.2f}", flush=True)
            if ref_path is not None:
                diffs = [differences(x["kpis"], y["kpis"]) for x, y in zip(runs["this"], runs[a.against])]
                other, worst = sum(d[0] for d in diffs), max(d[1] for d in diffs)
                ratio = summary(runs["this"])["cold_cpu_per_s"] / summary(runs[a.against])["cold_cpu_per_s"]
                report[name]["kpi_differences"] = {"non_float_fields": other, "max_relative_float": worst}
                print(f"{name} cuts against {a.against}: {other} KPI fields differ other than in floats, floats "
                      f"by at most {worst:.1e} (relative); cold CPU rate x{ratio:.2f}", flush=True)
            for v in runs.values():
                for r_ in v:
                    r_.pop("kpis")
    if a.output:
        a.output.parent.mkdir(parents=True, exist_ok=True)
        a.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
