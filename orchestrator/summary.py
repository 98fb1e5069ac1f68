"""From a finished run folder to KPI tables on disk and the headline numbers in ``run.json``.

Per run: ``flow_kpis.parquet``, ``interval_kpis.parquet``,
``link_kpis.parquet``, ``link_interval_kpis.parquet`` and ``node_interval_kpis.parquet`` (definitions in :mod:`ani.orchestrator.kpis`) and a
:class:`RunKpis`. Per scenario against its baseline: ``comparison.parquet``
(flow by flow) and ``reroutes.parquet`` in the scenario's folder, and a
:class:`~ani.orchestrator.kpis.ScenarioKpis`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict

from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator import kpis as K
from ani.orchestrator.flowmon import RunTables, read_run_tables


#: events after which traffic is rerouted: reroute time is measured for these only
REROUTE_EVENTS = ("fiber_link_failure", "router_failure", "srlg_cut", "misconfiguration")


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


def summarize_run(folder: Path, spec: RunSpec) -> RunKpis:
    """Parse ``folder``'s outputs, write its KPI tables as Parquet, return the headline KPIs."""
    tables = read_run_tables(folder)
    flows = K.flow_kpis(tables)
    links = K.link_kpis(tables, traffic_span_s(tables))
    flows.to_parquet(folder / "flow_kpis.parquet", index=False)
    links.to_parquet(folder / "link_kpis.parquet", index=False)
    interval = float(spec.params["interval_s"])
    K.interval_kpis(tables, interval).to_parquet(folder / "interval_kpis.parquet", index=False)
    K.link_interval_kpis(tables, interval).to_parquet(folder / "link_interval_kpis.parquet", index=False)
    tables.node_timeseries.to_parquet(folder / "node_interval_kpis.parquet", index=False)
    attempts = int(flows["tx_packets"].sum())
    delivered = int(flows["rx_packets"].sum())
    return RunKpis(
        flows=len(flows), tx_packets=attempts, rx_packets=delivered,
        loss_ratio=(attempts - delivered) / attempts if attempts else None,
        throughput_bps=network_throughput_bps(tables),
        mean_delay_s=_opt(tables.flows["delay_sum_s"].sum() / delivered) if delivered else None,
        max_p99_delay_s=_opt(flows["p99_delay_s"].max()),
        no_route_packets=int(flows["no_route_packets"].sum()),
        congested_links=int(links["congested"].sum()),
        emerged_failures=int((tables.cascades["origin"] == "emerged").sum()),
        cascade_depth=K.cascade_depth(tables),
    )


def compare_runs(baseline_folder: Path, scenario_folder: Path) -> K.ScenarioKpis:
    """Scenario against baseline: writes ``comparison.parquet`` and ``reroutes.parquet``."""
    base, scen = read_run_tables(baseline_folder), read_run_tables(scenario_folder)
    base_flows, scen_flows = K.flow_kpis(base), K.flow_kpis(scen)
    # a scenario may add flows (a traffic_spike's attack flows): compare the network's own traffic
    scen_flows = scen_flows[scen_flows["flow"].isin(base_flows["flow"])].reset_index(drop=True)
    reroutes = K.reroute_times(scen.event_probes, scen.events, base.event_probes, flows=scen.flows,
                               event_types=REROUTE_EVENTS)
    links = K.link_kpis(scen, traffic_span_s(scen))
    K.compare(base_flows, scen_flows).to_parquet(scenario_folder / "comparison.parquet", index=False)
    reroutes.to_parquet(scenario_folder / "reroutes.parquet", index=False)
    summary = K.scenario_summary(base_flows, scen_flows, reroutes, links)
    return summary.model_copy(update={
        "baseline_throughput_bps": network_throughput_bps(base),
        "scenario_throughput_bps": network_throughput_bps(scen, base_flows["flow"])})
