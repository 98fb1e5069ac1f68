"""Benchmark: a campaign of short Abilene scenarios through ``ani campaign run`` against the bare programs.

Three questions, one campaign of ``--n`` (default 200) single-fibre-cut
scenarios on the embedded Abilene network (each of the 14 links cut at a
different time, ``warmup_s=0.2 observe_s=0.5 drain_s=0.2``, no baselines):

1. **overhead**: the wall time of ``ani campaign run --workers 1`` (end to end:
   Python start-up, planning, store, the warm worker, the program, KPI parsing,
   Parquet) over the *sum* of the same runs as bare ns-3 programs (the same
   compiled binary on the same ``input.txt``, timed around the process alone);
2. **parallel speed-up**: ``--workers 1`` over ``--workers 2``;
3. **Dask**: the same campaign through a 2-worker ``LocalCluster`` (worker
   processes, one thread each) with ``--cluster tcp://…``.

Each campaign run starts with an empty store; the program is compiled before
anything is timed. The runs' KPIs are checked to be identical across the three
campaign runs. Results go to ``results/bench/campaign.json``.

Usage: ``python bench/bench_campaign.py [--n 200] [--rounds 3] [--output PATH]``; each round runs
the four sides once, in an order rotated from round to round, and the ratios
are medians of the per-round ratios (the machine's load drifts between rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from ani.kg.topology import load_topology
from ani.ns3_scenarios.build import build_program, ns3_version
from ani.ns3_scenarios.render import program_command, write_run_folder
from ani.orchestrator.campaign.plan import load_campaign, plan_campaign

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE.parent / "results" / "bench" / "campaign.json"
PARAMS = {"warmup_s": 0.2, "observe_s": 0.5, "drain_s": 0.2}


def write_campaign(work: Path, n: int) -> Path:
    """``n`` distinct fibre cuts (14 links x cut times 0.30, 0.31, ... s) and the campaign file naming them."""
    links = [d["link_id"] for _, _, d in load_topology("abilene").edges(data=True)]
    scenarios = work / "scenarios"
    scenarios.mkdir()
    for i in range(n):
        event = {"event_type": "fiber_link_failure", "target": links[i % len(links)],
                 "timestamp": round(0.3 + 0.01 * (i // len(links)), 3)}
        (scenarios / f"cut-{i:04d}.json").write_text(json.dumps([event]))
    path = work / "campaign.toml"
    params = "".join(f"{k} = {v}\n" for k, v in PARAMS.items())
    path.write_text(f'name = "bench"\ntopologies = ["abilene"]\nseeds = [1]\nbaseline = false\n'
                    f'[scenarios]\nfiles = ["scenarios/*.json"]\n[params]\n{params}')
    return path


def bare_runs(campaign: Path, work: Path) -> dict[str, float]:
    """Each planned run as the bare program, one after another; returns the summed process wall time."""
    plan = plan_campaign(load_campaign(campaign), campaign.parent)
    binary = build_program(plan.runs[0].spec.program_source, plan.runs[0].spec.ns3_modules,
                           name=plan.runs[0].spec.template)
    total, events = 0.0, 0
    for run in plan.runs:
        folder = work / run.run_id
        write_run_folder(run.spec, folder)
        start = time.perf_counter()
        proc = subprocess.run(program_command(binary, run.spec, "."), cwd=folder, capture_output=True,
                              text=True)
        total += time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"bench: bare run {run.run_id} failed:\n{proc.stderr[-2000:]}")
        events += next(int(x.split()[1]) for x in proc.stdout.splitlines() if x.startswith("events_processed "))
    return {"runs": len(plan.runs), "sum_s": total, "events_processed": events}


def campaign_run(campaign: Path, store: Path, *extra: str) -> dict[str, object]:
    """``ani campaign run`` into a fresh store, timed end to end."""
    ani = str(Path(sys.executable).parent / "ani")
    cmd = [ani, "campaign", "run", str(campaign), "--store", str(store), "--no-progress", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    frame = pd.read_parquet(store / "kpis.parquet")
    if set(frame["status"]) != {"ok"}:
        sys.exit(f"bench: not every run is ok in {store}")
    return {"wall_s": wall, "sum_program_s": float(frame["wall_s"].sum()), "sum_kpi_s": float(frame["kpi_s"].sum()),
            "frame": frame}


def dask_run(campaign: Path, store: Path, workers: int) -> dict[str, object]:
    """The campaign through a ``LocalCluster`` of ``workers`` processes (started before timing)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        return campaign_run(campaign, store, "--cluster", cluster.scheduler_address)


def same_kpis(*frames: pd.DataFrame) -> bool:
    """True when every campaign run gave every run the same KPIs."""
    cols = ["run_id", "flows", "tx_packets", "rx_packets", "loss_ratio", "throughput_bps", "mean_delay_s"]
    first = frames[0][cols].sort_values("run_id").reset_index(drop=True)
    return all(first.equals(f[cols].sort_values("run_id").reset_index(drop=True)) for f in frames[1:])


SIDES = ["bare", "1 worker", "2 workers", "dask 2 workers"]


def measure_round(campaign: Path, work: Path, order: list[str]) -> dict[str, dict[str, object]]:
    """Each side once, in ``order``, each into fresh folders."""
    out: dict[str, dict[str, object]] = {}
    for side in order:
        print(f"  {side} ...", end=" ", flush=True)
        if side == "bare":
            bare = bare_runs(campaign, work / "bare")
            out[side] = {"wall_s": bare["sum_s"], "events_processed": bare["events_processed"]}
        elif side == "dask 2 workers":
            out[side] = dask_run(campaign, work / "dask", 2)
        else:
            out[side] = campaign_run(campaign, work / side.replace(" ", "-"), "--workers", side.split()[0])
        print(f"{out[side]['wall_s']:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    return out


def summarize(rounds: list[dict[str, dict[str, object]]]) -> dict[str, object]:
    """Medians over rounds; the ratios are medians of the per-round ratios (robust to load drifting between rounds)."""
    med = lambda xs: float(statistics.median(xs))  # noqa: E731
    wall = {side: [float(r[side]["wall_s"]) for r in rounds] for side in SIDES}
    ratio = lambda a, b: med([x / y for x, y in zip(wall[a], wall[b])])  # noqa: E731
    one = rounds[-1]["1 worker"]
    return {
        "walls_s": wall, "median_s": {side: med(w) for side, w in wall.items()},
        "overhead_ratio_1_worker_vs_bare_sum": ratio("1 worker", "bare"),
        "speedup_2_workers": ratio("1 worker", "2 workers"),
        "speedup_dask_2_workers": ratio("1 worker", "dask 2 workers"),
        "last_round_1_worker_in_worker_program_s": one["sum_program_s"],
        "last_round_1_worker_in_worker_kpi_s": one["sum_kpi_s"],
        "last_round_orchestration_ratio": float(one["wall_s"]) / (float(one["sum_program_s"]) + float(one["sum_kpi_s"])),
        "events_processed": rounds[0]["bare"]["events_processed"],
        "same_kpis_everywhere": all(same_kpis(*(r[s]["frame"] for s in SIDES[1:])) for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="scenarios in the campaign")
    parser.add_argument("--rounds", type=int, default=1, help="each side this many times, order rotated")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="ani-bench-campaign-") as tmp:
        campaign = write_campaign(Path(tmp), args.n)
        for i in range(args.rounds):
            print(f"round {i + 1}/{args.rounds} ({args.n} runs per side)", flush=True)
            order = SIDES[i % len(SIDES):] + SIDES[:i % len(SIDES)]
            rounds.append(measure_round(campaign, Path(tmp) / f"round-{i}", order))
        load.append(os.getloadavg()[0])
    report = {"n": args.n, "rounds": args.rounds, "params": PARAMS, **summarize(rounds),
              "ns3": ns3_version(), "python": platform.python_version(), "cpus": os.cpu_count(),
              "load_average_1min_start_end": load}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
