"""Plain-text rendering of results for the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.measure.run_csv import read_run_csv


def _ms(x: float | None) -> str:
    return "-" if x is None or pd.isna(x) else f"{x * 1e3:.1f} ms"


def _pct(x: float | None) -> str:
    return "-" if x is None or pd.isna(x) else f"{x * 100:.2f} %"


def _mbps(x: float | None) -> str:
    return "-" if x is None or pd.isna(x) else f"{x / 1e6:.1f} Mb/s"


def _run_line(label: str, rec: RunRecord) -> str:
    k = rec.kpis
    if k is None:
        return f"{label:<9} {rec.status:<7} loss {'-':>9}  throughput {'-':>12}  mean delay {'-':>9}  " \
               f"p99 max {'-':>9}  congested links -"
    return (f"{label:<9} {rec.status:<7} loss {_pct(k.loss_ratio):>9}  "
            f"throughput {_mbps(k.throughput_bps):>12}  mean delay {_ms(k.mean_delay_s):>9}  "
            f"p99 max {_ms(k.max_p99_delay_s):>9}  congested links {k.congested_links}")


def _failure(rec: RunRecord) -> str:
    return f"run {rec.run_id} {rec.status} (exit {rec.returncode}):\n{rec.stderr_tail}\nreproduce: {rec.repro_cmd}"


def _impacted_table(folder: Path, limit: int = 10) -> str:
    path = folder / "reroutes.parquet"
    if not path.exists():
        return ""
    r = pd.read_parquet(path)
    hit = r[r["disrupted"]].sort_values("reroute_time_s", ascending=False).head(limit)
    if hit.empty:
        return "no flow was disrupted"
    flows = read_run_csv(folder / "flows.csv", ["flow", "src", "dst"])
    hit = hit.merge(flows, on="flow")
    kinds = hit["class"] if "class" in hit.columns else pd.Series("demand", index=hit.index)
    rows = [f"  {k:<6} {s:>13} -> {d:<13} reroute {_ms(t):>9}  outage {_ms(o):>9}"
            for k, s, d, t, o in zip(kinds, hit["src"], hit["dst"], hit["reroute_time_s"], hit["outage_s"])]
    return f"disrupted flows and probes (worst {len(rows)}):\n" + "\n".join(rows)


def _sizing_line(folder: Path) -> str:
    """The run's traffic sizing, from its ``spec.json`` (empty when it has none)."""
    from ani.ns3_scenarios.sizing import TrafficSizing

    try:
        spec = json.loads((folder / "spec.json").read_text())
        sizing, params = spec.get("sizing"), spec.get("params", {})
    except (OSError, ValueError):
        return ""
    if not sizing:
        return ""
    return (TrafficSizing.model_validate(sizing).line()
            + f" (capacity_scale {params.get('capacity_scale')}, packet_bytes {params.get('packet_bytes')})")


def format_result(result) -> str:
    """Summary of a :class:`~ani.orchestrator.execute.scenario_run.ScenarioResult` for the terminal."""
    scen, base = result.scenario, result.baseline
    lines = [f"scenario {scen.scenario_name} on {scen.graph_name} (template {scen.template}, seed {scen.seed})",
             f"run folder: {scen.folder}", _sizing_line(Path(scen.folder))]
    if base is not None:
        lines.append(_run_line("baseline", base))
    lines.append(_run_line("scenario", scen))
    for rec in (base, scen):
        if rec is not None and rec.status != "ok":
            lines.append(_failure(rec))
    c = scen.comparison
    if c:
        lines += [
            f"impacted flows {c.impacted_flows}/{c.flows} (lost all: {c.lost_all_flows}; "
            f"not measurable: {c.not_measurable_flows}), "
            f"impacted nodes {len(c.impacted_nodes)}: {', '.join(c.impacted_nodes) or '-'}",
            f"delta latency mean {_ms(c.mean_delta_delay_s)}, max {_ms(c.max_delta_delay_s)}; "
            f"demand loss {_pct(c.baseline_loss_ratio)} -> {_pct(c.scenario_loss_ratio)}",
            f"disrupted flows {c.disrupted_flows} (unrecovered {c.unrecovered_flows}), reroute time "
            f"median {_ms(c.reroute_time_median_s)}, max {_ms(c.reroute_time_max_s)}"
            + (f" (probes, resolution {_ms(c.reroute_resolution_s)})" if c.reroute_resolution_s else ""),
            _impacted_table(Path(scen.folder)),
        ]
    return "\n".join(line for line in lines if line)
