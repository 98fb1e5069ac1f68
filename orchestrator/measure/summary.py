"""From a finished run folder to KPI tables on disk and the headline numbers in ``run.json``.

Per run: a :class:`RunKpis` and the KPI tables ``flow_kpis.parquet``,
``interval_kpis.parquet``, ``link_kpis.parquet``, ``link_interval_kpis.parquet``
and ``node_interval_kpis.parquet`` (definitions in :mod:`ani.orchestrator.measure.kpis`).
Per scenario against its baseline: ``comparison.parquet`` (flow by flow) and
``reroutes.parquet`` in the scenario's folder, and a
:class:`~ani.orchestrator.measure.kpis.ScenarioKpis`.

Two ways to the headline numbers, which agree (a test holds them to it):

* the **reference**: parse every file the program wrote (FlowMonitor XML, the
  CSVs) into tables and aggregate them (:func:`headline_from_tables`);
* the **fast path** for campaigns: the template program writes
  ``summary.json`` with the same aggregates computed from the counters it
  wrote the files from (:func:`headline_from_program`), so a short run is not
  dominated by parsing its own output. A template that does not write it (a
  researcher's own) falls back to the reference.

Campaign runs write their KPI tables on first use (:func:`ensure_kpi_tables`)
rather than as each run finishes; ``ani run`` writes them at once.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from ani.kg.errors import SimulationError
from ani.kg.event_types import REROUTES
from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.measure import kpis as K
from ani.orchestrator.measure.reroutes import reroute_times
from ani.orchestrator.measure.flowmon import RunTables, read_run_tables




class RunKpis(BaseModel):
    """Headline KPIs of a single run (no baseline needed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flows: int
    tx_packets: int
    rx_packets: int
    loss_ratio: float | None
    throughput_bps: float
    mean_delay_s: float | None
    max_p99_delay_s: float | None
    no_route_packets: int
    congested_links: int
    emerged_failures: int
    cascade_depth: int


def demand_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """The network's own traffic of a :func:`~ani.orchestrator.kpis.flow_kpis` frame: probe flows left out."""
    return flows[flows["class"] != "probe"].reset_index(drop=True) if "class" in flows.columns else flows


def traffic_span_s(tables: RunTables) -> float:
    """Seconds during which traffic was offered (first start to last stop)."""
    flows = tables.flows
    return float(flows["stop_s"].max() - flows["start_s"].min()) if len(flows) else 0.0


def network_throughput_bps(tables: RunTables, flow_ids: pd.Series | None = None) -> float:
    """Bits delivered per second of traffic span, over the whole network (or ``flow_ids``).

    Not the sum of per-flow throughputs: a short flow (a few replayed packets)
    has a tiny span and would inflate that sum.
    """
    flows = tables.flows if flow_ids is None else tables.flows[tables.flows["flow"].isin(flow_ids)]
    span = traffic_span_s(tables)
    return float(flows["rx_bytes"].sum() * 8 / span) if span > 0 else 0.0


def _opt(x: float) -> float | None:
    return float(x) if pd.notna(x) else None


#: what the template program writes for the fast path, and the format it must declare
PROGRAM_SUMMARY = "summary.json"
PROGRAM_SUMMARY_FORMAT = "ani-run-summary/1"
KPI_TABLES = ("flow_kpis.parquet", "link_kpis.parquet", "interval_kpis.parquet",
              "link_interval_kpis.parquet", "node_interval_kpis.parquet")


def _headline(flows: int, attempts: int, delivered: int, rx_bytes: float, delay_sum_s: float, span_s: float,
              max_p99_delay_s: float | None, no_route_packets: int, congested_links: int,
              emerged_failures: int, cascade_depth: int) -> RunKpis:
    """:class:`RunKpis` from a run's aggregates: the ratios are defined here once, for both paths."""
    return RunKpis(
        flows=flows, tx_packets=attempts, rx_packets=delivered,
        loss_ratio=(attempts - delivered) / attempts if attempts else None,
        throughput_bps=float(rx_bytes * 8 / span_s) if span_s > 0 else 0.0,
        mean_delay_s=_opt(delay_sum_s / delivered) if delivered else None,
        max_p99_delay_s=_opt(max_p99_delay_s) if max_p99_delay_s is not None else None,
        no_route_packets=no_route_packets, congested_links=congested_links,
        emerged_failures=emerged_failures, cascade_depth=cascade_depth)


def headline_from_tables(tables: RunTables, flows: pd.DataFrame | None = None,
                         links: pd.DataFrame | None = None) -> RunKpis:
    """The reference: :class:`RunKpis` aggregated from the parsed tables (and their
    :func:`~ani.orchestrator.measure.kpis.flow_kpis` / :func:`~ani.orchestrator.measure.kpis.link_kpis`, if already computed).
    Probe flows are left out of the traffic totals (links and cascades count everything)."""
    flows = demand_flows(K.flow_kpis(tables) if flows is None else flows)
    links = K.link_kpis(tables, traffic_span_s(tables)) if links is None else links
    own = tables.flows[tables.flows["flow"].isin(flows["flow"])]
    return _headline(
        flows=len(flows), attempts=int(flows["tx_packets"].sum()), delivered=int(flows["rx_packets"].sum()),
        rx_bytes=float(own["rx_bytes"].sum()), delay_sum_s=float(own["delay_sum_s"].sum()),
        span_s=traffic_span_s(tables), max_p99_delay_s=_opt(flows["p99_delay_s"].max()),
        no_route_packets=int(flows["no_route_packets"].sum()), congested_links=int(links["congested"].sum()),
        emerged_failures=int((tables.cascades["origin"] == "emerged").sum()),
        cascade_depth=K.cascade_depth(tables))


def headline_from_program(folder: Path) -> RunKpis | None:
    """:class:`RunKpis` from the program's ``summary.json``; None when the template writes none.

    Raises :class:`SimulationError` (naming the file) if it is there but unreadable or of another format.
    """
    path = Path(folder) / PROGRAM_SUMMARY
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SimulationError(f"{path}: not a readable run summary ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != PROGRAM_SUMMARY_FORMAT:
        raise SimulationError(f"{path}: expected format {PROGRAM_SUMMARY_FORMAT!r}, "
                              f"got {data.get('format') if isinstance(data, dict) else type(data).__name__!r}")
    try:
        p99 = data["max_p99_delay_s"]
        return _headline(
            flows=int(data["flows"]), attempts=int(data["tx_packets"]), delivered=int(data["rx_packets"]),
            rx_bytes=float(data["rx_bytes"]), delay_sum_s=float(data["delay_sum_s"]),
            span_s=float(data["span_s"]), max_p99_delay_s=None if p99 is None else float(p99),
            no_route_packets=int(data["no_route_packets"]), congested_links=int(data["congested_links"]),
            emerged_failures=int(data["emerged_failures"]), cascade_depth=int(data["cascade_depth"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SimulationError(f"{path}: missing or malformed field ({exc!r})") from exc


def write_kpi_tables(folder: Path, interval_s: float) -> RunKpis:
    """Parse ``folder``'s outputs, write its KPI tables as Parquet, return the reference headline KPIs."""
    tables = read_run_tables(folder)
    flows = K.flow_kpis(tables)
    links = K.link_kpis(tables, traffic_span_s(tables))
    K.interval_kpis(tables, interval_s).to_parquet(folder / "interval_kpis.parquet", index=False)
    K.link_interval_kpis(tables, interval_s).to_parquet(folder / "link_interval_kpis.parquet", index=False)
    tables.node_timeseries.to_parquet(folder / "node_interval_kpis.parquet", index=False)
    links.to_parquet(folder / "link_kpis.parquet", index=False)
    flows.to_parquet(folder / "flow_kpis.parquet", index=False)  # last: its presence means "all written"
    return headline_from_tables(tables, flows, links)


def ensure_kpi_tables(folder: str | Path) -> Path:
    """Write ``folder``'s KPI tables if they are not there yet (a campaign run's, on first use); return it.

    The bin width is the run's ``interval_s`` from its ``spec.json``.
    """
    folder = Path(folder)
    if not (folder / "flow_kpis.parquet").is_file():
        spec = folder / "spec.json"
        try:
            interval = float(json.loads(spec.read_text())["params"]["interval_s"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SimulationError(f"{spec}: cannot read the run's interval_s ({exc})") from exc
        if not math.isfinite(interval):
            raise SimulationError(f"{spec}: interval_s is {interval}")
        write_kpi_tables(folder, interval)
    return folder


def kpi_differences(expected: dict[str, Any], actual: dict[str, Any], rel_tol: float) -> list[str]:
    """``key: expected …, got …`` for each KPI that differs (floats within ``rel_tol`` are equal)."""
    out = []
    for key in sorted(set(expected) | set(actual)):
        a, b = expected.get(key), actual.get(key)
        same = (math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)
                if isinstance(a, float) and isinstance(b, float) else a == b)
        if not same:
            out.append(f"{key}: expected {a!r}, got {b!r}")
    return out


def program_summary_differences(folder: str | Path, rel_tol: float = 1e-9) -> list[str]:
    """Where the program's ``summary.json`` disagrees with the reference parse of the same run
    (empty: they agree, or the template writes no summary). ``ani templates validate`` reports these."""
    fast = headline_from_program(Path(folder))
    if fast is None:
        return []
    reference = headline_from_tables(read_run_tables(Path(folder)))
    return [f"{PROGRAM_SUMMARY}: {d}" for d in kpi_differences(reference.model_dump(), fast.model_dump(), rel_tol)]


def summarize_run(folder: Path, spec: RunSpec, tables: bool = True) -> RunKpis:
    """The headline KPIs of the finished run in ``folder``.

    With ``tables`` (``ani run``), parse everything, write the KPI tables and
    return the reference numbers. Without (campaign runs), take the program's
    ``summary.json`` when the template writes one, else parse without writing.
    """
    if tables:
        return write_kpi_tables(folder, float(spec.params["interval_s"]))
    fast = headline_from_program(folder)
    return fast if fast is not None else headline_from_tables(read_run_tables(folder))


def compare_runs(baseline_folder: Path, scenario_folder: Path) -> K.ScenarioKpis:
    """Scenario against baseline: writes ``comparison.parquet`` and ``reroutes.parquet``."""
    base, scen = read_run_tables(baseline_folder), read_run_tables(scenario_folder)
    base_flows, scen_flows = demand_flows(K.flow_kpis(base)), K.flow_kpis(scen)
    # a scenario may add flows (a traffic_spike's attack flows): compare the network's own traffic
    scen_flows = scen_flows[scen_flows["flow"].isin(base_flows["flow"])].reset_index(drop=True)
    reroutes = reroute_times(scen.event_probes, scen.events, base.event_probes, flows=scen.flows,
                               event_types=REROUTES)
    links = K.link_kpis(scen, traffic_span_s(scen))
    K.compare(base_flows, scen_flows).to_parquet(scenario_folder / "comparison.parquet", index=False)
    reroutes.to_parquet(scenario_folder / "reroutes.parquet", index=False)
    gaps = (scen.flows["packet_bytes"] * 8 / scen.flows["rate_bps"]).set_axis(scen.flows["flow"])
    summary = K.scenario_summary(base_flows, scen_flows, reroutes, links, gaps)
    return summary.model_copy(update={
        "baseline_throughput_bps": network_throughput_bps(base, base_flows["flow"]),
        "scenario_throughput_bps": network_throughput_bps(scen, base_flows["flow"])})
