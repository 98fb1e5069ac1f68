"""Key performance indicators of a run: pure functions over the frames of :class:`RunTables`.

Nothing here reads files or keeps state; undefined values are NaN, never
sentinels. Units are in the column names (``_s`` seconds, ``_bps`` bits/s).

Per application flow (:func:`flow_kpis`)
---------------------------------------
``tx_packets``
    Send *attempts* = packets the socket accepted (``flows.csv`` ``tx_packets``)
    + attempts refused for lack of a route (``tx_failed``, never seen by FlowMonitor).
``lost_packets = tx_packets - rx_packets``
    The twin drains the network before it stops, so no packet is in flight at
    the end: every attempt is either received or lost. Clipped at 0 (duplicates).
    FlowMonitor's own ``lostPackets`` is not used: it only counts explicit drops
    and packets older than 10 s, and misses attempts refused at the source.
``loss_ratio = lost_packets / tx_packets`` in [0, 1]; NaN with no attempt.
``throughput_bps = rx_bytes * 8 / (stop_s - start_s)``
    Application payload bytes over the flow's active span; NaN if the span is empty.
``mean_delay_s, min_delay_s, max_delay_s``
    One-way delay from the application's send timestamps (NaN with no packet received).
``p50_delay_s, p95_delay_s, p99_delay_s``
    From FlowMonitor's delay histogram (IP layer), interpolated inside the bin
    (:func:`~ani.orchestrator.measure.flowmon.histogram_percentile`); the histograms
    of every FlowMonitor flow matched to the application flow are merged.
``jitter_s``
    FlowMonitor's mean |delay(i) - delay(i-1)| = sum jitter / sum (rx - 1).
``no_route_packets = tx_failed``; ``fm_dropped_packets``
    FlowMonitor's explicit drops (all reasons); ``fm_flows`` the number of
    FlowMonitor flows matched, by (src_addr, dst_addr, dst_port, UDP) — plus
    src_port when two application flows share that key.

Per flow and time bin (:func:`interval_kpis`)
--------------------------------------------
``throughput_bps = rx_bytes * 8 / interval_s`` (received in the bin);
``loss_ratio = (tx_packets + tx_failed - rx_by_send) / (tx_packets + tx_failed)``
over the packets the flow tried to send in the bin (exact, as the run drains;
sends refused for lack of a route, ``tx_failed``, count as lost, as in the
flow's ``loss_ratio``), NaN when nothing was attempted;
``mean_delay_s = delay_sum_s / rx_packets`` over packets received in the bin.

Per link direction (:func:`link_kpis`)
-------------------------------------
``utilisation = tx_bytes * 8 / (capacity_bps * duration_s)``;
``congested = utilisation >= CONGESTED_UTILISATION or drops > 0``.

Baseline versus scenario (:func:`compare`)
-----------------------------------------
``delta_x = scenario_x - baseline_x``. A flow is ``measurable`` when it tried
to send at least ``MIN_MEASURABLE_PACKETS`` packets in both runs; only a
measurable flow can be ``impacted``: ``delta_loss_ratio > IMPACT_LOSS_DELTA``,
or its mean delay grew by more than ``IMPACT_DELAY_RATIO`` times *and* by more
than ``IMPACT_DELAY_DELTA_S``, or it ``lost_all`` delivery (received in the
baseline, nothing in the scenario). A node is impacted when at least
``IMPACTED_NODE_SHARE`` of the traffic it offers or receives (bit/s of its
measurable flows) is in impacted flows (:func:`impacted_nodes`).

Reroute time (:func:`ani.orchestrator.measure.reroutes.reroute_times`)
-----------------------------------
For a flow and an injected event at ``t``, ``latency = first_rx_after_s - t``
is when the first packet sent at/after ``t`` that got through arrived. A (flow, event)
is ``measurable`` when the flow was sending at ``t`` with a packet gap of at
most ``REROUTE_MAX_GAP_S`` (the probe flows, and demand flows that fast);
only then can it be ``disrupted``: ``latency`` exceeds its undisturbed latency
by more than ``REROUTE_TOLERANCE_S``, or it never delivered again although it
delivered before. It is ``unrecovered`` when it is disrupted, nothing sent at
or after ``t`` arrived, and it tried to send at least
``UNRECOVERED_MIN_PACKETS`` packets after ``t`` (so they were lost). Undisturbed latency: the baseline run's ``first_rx_after_s - t`` for
the same flow and event (the baseline must be probed at the scenario's event
times); without a baseline probe, ``last_rx_before_s + ipi - t`` where
``ipi = packet_bytes * 8 / rate_bps``. With ``flows`` given, a flow not sending
at ``t`` (outside ``[start_s, stop_s)``) has no estimate, hence is not disrupted;
without ``flows``, ``ipi = 0`` and every flow counts as sending.
``reroute_time_s = latency`` of disrupted flows that ``recovered`` (NaN
otherwise); ``outage_s = first_rx_after_s - last_rx_before_s``. The headline
reroute times come from the probe flows (class ``probe``) when the run has
them, at their packet gap's resolution.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import numpy as np
import pandas as pd

from ani.kg.errors import SimulationError
from ani.kg.kpis import (
    CONGESTED_UTILISATION,
    IMPACT_DELAY_DELTA_S,
    IMPACT_DELAY_RATIO,
    IMPACT_LOSS_DELTA,
    IMPACTED_NODE_SHARE,
    MIN_MEASURABLE_PACKETS,
    HeadlineKpis,
)
from ani.orchestrator.measure.flowmon import RunTables

# ``compare``'s and ``link_kpis``' thresholds (IMPACT_*, MIN_MEASURABLE_PACKETS, IMPACTED_NODE_SHARE,
# CONGESTED_UTILISATION) are the fluid tier's too: :mod:`ani.kg.kpis`.
#: ``reroute_times``: slack over the undisturbed latency before a flow counts as disrupted.
REROUTE_TOLERANCE_S = 2e-3
#: ``reroute_times``: a flow sending packets further apart than this cannot time a reroute.
REROUTE_MAX_GAP_S = 0.05
#: ``reroute_times``: an unrecovered flow must have tried to send at least this many packets after the event.
UNRECOVERED_MIN_PACKETS = 10
#: Protocol number FlowMonitor flows must have to match application (UDP) flows.
UDP = 17

#: Columns of :func:`flow_kpis` and their dtypes.
FLOW_KPI_DTYPES: dict[str, str] = {
    "flow": "int64", "src": "object", "dst": "object", "offered_bps": "float64",
    "tx_packets": "int64", "rx_packets": "int64", "lost_packets": "int64",
    "loss_ratio": "float64", "throughput_bps": "float64", "mean_delay_s": "float64",
    "min_delay_s": "float64", "max_delay_s": "float64", "p50_delay_s": "float64",
    "p95_delay_s": "float64", "p99_delay_s": "float64", "jitter_s": "float64",
    "no_route_packets": "int64", "fm_dropped_packets": "int64", "fm_flows": "int64", "class": "object",
}
FLOW_KPI_COLUMNS = list(FLOW_KPI_DTYPES)
_FM_AGG_COLUMNS = ["p50_delay_s", "p95_delay_s", "p99_delay_s", "jitter_s",
                   "fm_dropped_packets", "fm_flows"]


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den as float, NaN where den <= 0."""
    den = den.astype(float)
    return num.astype(float) / den.where(den > 0)


def _match_flowmon(flows: pd.DataFrame, flowmon: pd.DataFrame) -> pd.DataFrame:
    """Pairs (flow, flow_id) of application flows and their FlowMonitor flows."""
    key = ["src_addr", "dst_addr", "dst_port"]
    if flows.duplicated(key).any():
        key.append("src_port")
    udp = flowmon.loc[flowmon["protocol"] == UDP, [*key, "flow_id"]]
    return flows[["flow", *key]].merge(udp, on=key, how="inner")[["flow", "flow_id"]]


def _merged_percentiles(pairs: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """p50/p95/p99 of the merged delay histograms of each application flow.

    :func:`~ani.orchestrator.measure.flowmon.histogram_percentile` per flow, for all
    flows at once (the same arithmetic: integer counts summed exactly, the same
    interpolation inside the bin), so that thousands of flows cost one sort.
    """
    columns = ["flow", "p50_delay_s", "p95_delay_s", "p99_delay_s"]
    bins = pairs.merge(hist, on="flow_id")
    bins = bins[bins["count"] > 0]
    if bins.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "flow" else "float64") for c in columns})
    # one bin per (flow, start): the FlowMonitor flows of an application flow share the bin grid,
    # and the interpolation inside a bin must use the bin's whole count
    bins = bins.groupby(["flow", "bin_start_s"], sort=True, as_index=False).agg(
        bin_width_s=("bin_width_s", "first"), count=("count", "sum"))
    flow = bins["flow"].to_numpy()
    start, width = bins["bin_start_s"].to_numpy(float), bins["bin_width_s"].to_numpy(float)
    count = bins["count"].to_numpy(float)
    first = np.flatnonzero(np.r_[True, flow[1:] != flow[:-1]])  # each flow's first bin
    last = np.r_[first[1:], flow.size] - 1
    cum = np.cumsum(count)  # integer counts: exact
    offset = np.repeat(cum[first] - count[first], last - first + 1)
    cum_in = cum - offset  # cumulative count inside each flow
    total = cum_in[last]
    sizes = last - first + 1
    out = {"flow": flow[first]}
    for q in (0.5, 0.95, 0.99):
        rank = min(max(q, 0.0), 1.0) * total
        # the first bin of each flow whose cumulative count reaches the rank (cum_in rises inside a
        # flow, so that is the flow's first bin + the number of its bins below the rank)
        below = np.add.reduceat((cum_in < np.repeat(rank, sizes)).astype(np.int64), first)
        i = np.minimum(first + below, last)
        before = cum_in[i] - count[i]
        out[f"p{int(q * 100)}_delay_s"] = start[i] + width[i] * (rank - before) / count[i]
    return pd.DataFrame(out, columns=columns)


def _flowmon_per_flow(tables: RunTables) -> pd.DataFrame:
    """FlowMonitor-derived KPIs per application flow (rows only for matched flows)."""
    pairs = _match_flowmon(tables.flows, tables.flowmon)
    fm = pairs.merge(tables.flowmon, on="flow_id")
    fm["jitter_n"] = (fm["rx_packets"] - 1).clip(lower=0)
    agg = fm.groupby("flow").agg(
        jitter_sum_s=("jitter_sum_s", "sum"), jitter_n=("jitter_n", "sum"),
        fm_dropped_packets=("dropped_packets", "sum"), fm_flows=("flow_id", "size"))
    agg["jitter_s"] = ratio(agg["jitter_sum_s"], agg["jitter_n"])
    agg = agg.reset_index().merge(_merged_percentiles(pairs, tables.delay_histogram),
                                  on="flow", how="left")
    return agg[["flow", *_FM_AGG_COLUMNS]]


def flow_kpis(tables: RunTables) -> pd.DataFrame:
    """One row per application flow of ``flows.csv``, columns :data:`FLOW_KPI_COLUMNS`.

    Definitions in the module docstring. Flows FlowMonitor never saw get NaN
    percentiles and jitter, 0 ``fm_dropped_packets`` and ``fm_flows``.
    """
    f = tables.flows
    attempts = f["tx_packets"] + f["tx_failed"]
    rx = f["rx_packets"].clip(upper=attempts)
    received = f["rx_packets"] > 0
    out = pd.DataFrame({
        "flow": f["flow"], "src": f["src"], "dst": f["dst"], "offered_bps": f["rate_bps"],
        "tx_packets": attempts, "rx_packets": f["rx_packets"],
        "lost_packets": (attempts - rx).clip(lower=0),
        "loss_ratio": ratio(attempts - rx, attempts),
        "throughput_bps": ratio(f["rx_bytes"] * 8, f["stop_s"] - f["start_s"]),
        "mean_delay_s": ratio(f["delay_sum_s"], f["rx_packets"]),
        "min_delay_s": f["delay_min_s"].where(received),
        "max_delay_s": f["delay_max_s"].where(received),
        "no_route_packets": f["tx_failed"],
        "class": f["class"] if "class" in f.columns else "demand",
    })
    out = out.merge(_flowmon_per_flow(tables), on="flow", how="left")
    out[["fm_dropped_packets", "fm_flows"]] = out[["fm_dropped_packets", "fm_flows"]].fillna(0)
    return out[FLOW_KPI_COLUMNS].astype(FLOW_KPI_DTYPES).reset_index(drop=True)


# ------------------------------------------------------------------- intervals

_TS_COUNTERS = ["tx_packets", "tx_failed", "rx_by_send", "rx_packets", "rx_bytes"]


def _check_interval(ts: pd.DataFrame, interval_s: float) -> None:
    if interval_s <= 0:
        raise SimulationError(f"interval_s must be > 0, got {interval_s}")
    gap = (ts["t_start_s"] - ts["bin"] * interval_s).abs()
    if (gap > 0.01 * interval_s).any():
        raise SimulationError(f"timeseries.csv: bins are not interval_s={interval_s} s wide")


def _dense_bins(flows: pd.DataFrame, ts: pd.DataFrame, interval_s: float) -> pd.DataFrame:
    """Every (flow, bin) of each flow's active span: its start..stop bins and all observed bins."""
    eps = 1e-9
    known = flows.dropna(subset=["start_s", "stop_s"])
    spans = pd.DataFrame({
        "flow": known["flow"],
        "lo": np.floor(known["start_s"] / interval_s + eps).astype("int64"),
        "hi": (np.ceil(known["stop_s"] / interval_s - eps) - 1).astype("int64"),
    })
    seen = ts.groupby("flow")["bin"].agg(lo="min", hi="max").reset_index()
    spans = pd.concat([spans, seen]).groupby("flow").agg(lo=("lo", "min"), hi=("hi", "max"))
    lo = spans["lo"].to_numpy(np.int64)
    counts = np.maximum(lo, spans["hi"].to_numpy(np.int64)) - lo + 1
    first = np.repeat(np.cumsum(counts) - counts, counts)  # each flow's first row, on its rows
    bins = np.repeat(lo, counts) + np.arange(int(counts.sum())) - first
    return pd.DataFrame({"flow": np.repeat(spans.index.to_numpy(np.int64), counts), "bin": bins}).astype("int64")


def interval_kpis(tables: RunTables, interval_s: float) -> pd.DataFrame:
    """Dense per-flow, per-bin KPIs from the sparse ``timeseries.csv``.

    Columns: ``flow, bin, t_start_s, tx_packets, tx_failed, rx_by_send, rx_packets,
    rx_bytes, delay_sum_s, throughput_bps, loss_ratio, mean_delay_s``
    (``loss_ratio`` over the attempts of the bin, refused sends included); bins
    missing from the file are zero. Raises :class:`SimulationError` when the
    file's ``t_start_s`` is not ``bin * interval_s``.
    """
    ts = tables.timeseries
    if "tx_failed" not in ts.columns:  # a table built without it: no refused sends
        ts = ts.assign(tx_failed=0)
    _check_interval(ts, interval_s)
    dense = _dense_bins(tables.flows, ts, interval_s)
    out = dense.merge(ts.drop(columns="t_start_s"), on=["flow", "bin"], how="left")
    out[_TS_COUNTERS] = out[_TS_COUNTERS].fillna(0).astype("int64")
    out["delay_sum_s"] = out["delay_sum_s"].fillna(0.0)
    out.insert(2, "t_start_s", out["bin"] * interval_s)
    out["throughput_bps"] = out["rx_bytes"] * 8.0 / interval_s
    attempts = out["tx_packets"] + out["tx_failed"]
    out["loss_ratio"] = ratio(attempts - out["rx_by_send"], attempts).clip(0, 1)
    out["mean_delay_s"] = ratio(out["delay_sum_s"], out["rx_packets"])
    return out.sort_values(["flow", "bin"]).reset_index(drop=True)


# ----------------------------------------------------------------------- links


def link_kpis(tables: RunTables, duration_s: float) -> pd.DataFrame:
    """Per link direction: the ``links.csv`` columns + ``utilisation`` and ``congested``.

    ``utilisation`` is NaN for a non-positive capacity or duration.
    """
    out = tables.links.copy()
    out["utilisation"] = ratio(out["tx_bytes"] * 8, out["capacity_bps"] * duration_s)
    out["congested"] = (out["utilisation"] >= CONGESTED_UTILISATION) | (out["drops"] > 0)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------- compare


def link_interval_kpis(tables: RunTables, interval_s: float) -> pd.DataFrame:
    """Per link direction and interval: ``utilisation`` (bits sent / capacity), queue, drops.

    ``queue_packets`` is the queue length sampled at the end of the interval;
    ``congested`` as in :func:`link_kpis`, per interval.
    """
    cap = tables.links.drop_duplicates(["link", "from"])[["link", "from", "capacity_bps"]]
    ts = tables.link_timeseries.merge(cap, on=["link", "from"], how="left")
    ts["utilisation"] = ts["tx_bytes"] * 8 / (ts["capacity_bps"] * interval_s)
    ts["congested"] = (ts["utilisation"] >= CONGESTED_UTILISATION) | (ts["drops"] > 0)
    return ts


def cascade_depth(tables: RunTables) -> int:
    """Longest chain of emerged failures observed in the run (0: nothing emerged)."""
    depths = tables.cascades["depth"]
    return int(depths.max()) if len(depths) else 0


def compare(baseline: pd.DataFrame, scenario: pd.DataFrame) -> pd.DataFrame:
    """Flow-by-flow differences between two :func:`flow_kpis` frames of the same flows.

    Columns: ``flow, src, dst, offered_bps``, ``baseline_<k>`` and ``scenario_<k>`` for
    ``k`` in ``loss_ratio, mean_delay_s, p99_delay_s, throughput_bps,
    rx_packets``, ``measurable``, ``delta_loss_ratio, delta_mean_delay_s, delta_p99_delay_s,
    delta_throughput_bps`` (scenario - baseline, NaN where either is NaN),
    ``lost_all`` and ``impacted`` (bool; rules in the module docstring).

    Raises :class:`SimulationError` if the two frames do not hold the same flows.
    """
    if set(baseline["flow"]) != set(scenario["flow"]):
        diff = sorted(set(baseline["flow"]) ^ set(scenario["flow"]))
        raise SimulationError(f"baseline and scenario flows differ: {diff[:10]}")
    keys = ["loss_ratio", "mean_delay_s", "p99_delay_s", "throughput_bps", "rx_packets", "tx_packets"]
    b = baseline[["flow", "src", "dst", "offered_bps", *keys]].rename(columns={k: f"baseline_{k}" for k in keys})
    s = scenario[["flow", *keys]].rename(columns={k: f"scenario_{k}" for k in keys})
    out = b.merge(s, on="flow")
    out["measurable"] = ((out.pop("baseline_tx_packets") >= MIN_MEASURABLE_PACKETS)
                         & (out["scenario_tx_packets"] >= MIN_MEASURABLE_PACKETS))
    for k in keys[:4]:
        out[f"delta_{k}"] = out[f"scenario_{k}"] - out[f"baseline_{k}"]
    out["lost_all"] = ((out["baseline_rx_packets"] > 0) & (out["scenario_rx_packets"] == 0)
                       & (out.pop("scenario_tx_packets") > 0))
    slower = ((out["scenario_mean_delay_s"] > IMPACT_DELAY_RATIO * out["baseline_mean_delay_s"])
              & (out["delta_mean_delay_s"] > IMPACT_DELAY_DELTA_S))
    out["impacted"] = out["measurable"] & ((out["delta_loss_ratio"] > IMPACT_LOSS_DELTA) | slower
                                           | out["lost_all"])
    return out.reset_index(drop=True)


def impacted_nodes(cmp: pd.DataFrame, share: float = IMPACTED_NODE_SHARE) -> list[str]:
    """Nodes with at least ``share`` of their measurable traffic (sent or received, bit/s) in impacted flows."""
    m = cmp[cmp["measurable"]]
    ends = pd.concat([m[["src", "offered_bps", "impacted"]].rename(columns={"src": "node"}),
                      m[["dst", "offered_bps", "impacted"]].rename(columns={"dst": "node"})])
    ends["hit_bps"] = ends["offered_bps"].where(ends["impacted"], 0.0)
    per = ends.groupby("node")[["offered_bps", "hit_bps"]].sum()
    return sorted(str(n) for n in per.index[(per["offered_bps"] > 0) & (per["hit_bps"] >= share * per["offered_bps"])])


# ---------------------------------------------------------------------- summary


class ScenarioKpis(HeadlineKpis):
    """Headline KPIs of one scenario against its baseline (embedded in ``run.json``), with the resolution
    of its reroute times (the probes' packet gap).

    ``None`` means undefined (e.g. no disrupted flow has a reroute time).
    """

    schema_version: Literal[1] = 1
    reroute_resolution_s: float | None = None


def _opt(x: float) -> float | None:
    """A finite float or None."""
    return float(x) if x is not None and np.isfinite(x) else None


def _total_loss(kpis: pd.DataFrame) -> float | None:
    attempts = kpis["tx_packets"].sum()
    return _opt(kpis["lost_packets"].sum() / attempts) if attempts > 0 else None


class _RerouteSummary(TypedDict):
    disrupted_flows: int
    unrecovered_flows: int
    reroute_time_median_s: float | None
    reroute_time_max_s: float | None
    convergence_time_s: float | None
    reroute_resolution_s: float | None


def _reroute_summary(reroutes: pd.DataFrame | None, gaps: pd.Series | None = None) -> _RerouteSummary:
    """Disrupted and unrecovered demand flows; reroute times from the probes when there are any."""
    if reroutes is None or reroutes.empty:
        return {"disrupted_flows": 0, "unrecovered_flows": 0, "reroute_time_median_s": None,
                "reroute_time_max_s": None, "convergence_time_s": None, "reroute_resolution_s": None}
    kind = reroutes["class"] if "class" in reroutes.columns else pd.Series("demand", index=reroutes.index)
    unrecovered = reroutes["unrecovered"] if "unrecovered" in reroutes.columns else ~reroutes["recovered"]
    hit = reroutes[reroutes["disrupted"]]
    demand = hit[kind[hit.index] != "probe"]
    timed = hit[kind[hit.index] == "probe"] if (kind == "probe").any() else hit
    times = timed["reroute_time_s"].dropna()
    top = _opt(times.max()) if len(times) else None
    resolution = None
    if gaps is not None and len(times):
        resolution = _opt(gaps.reindex(timed.loc[times.index, "flow"]).max())
    return {
        "disrupted_flows": int(demand["flow"].nunique()),
        "unrecovered_flows": int(demand.loc[unrecovered[demand.index], "flow"].nunique()),
        "reroute_time_median_s": _opt(times.median()) if len(times) else None,
        "reroute_time_max_s": top, "convergence_time_s": top, "reroute_resolution_s": resolution,
    }


def scenario_summary(
    baseline: pd.DataFrame,
    scenario: pd.DataFrame,
    reroutes: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    gaps: pd.Series | None = None,
) -> ScenarioKpis:
    """Summarise :func:`flow_kpis` of a baseline and a scenario run.

    ``reroutes`` is :func:`reroute_times` of the scenario and ``links`` its
    :func:`link_kpis` (both optional); ``gaps`` the packet gap of each flow
    (seconds, indexed by flow), for the reroute times' resolution. Latency deltas are over flows with a
    defined ``delta_mean_delay_s``; loss ratios are totals (sum lost / sum
    attempts); throughputs are sums over flows; ``convergence_time_s`` is the
    largest reroute time.
    """
    cmp = compare(baseline, scenario)
    hit = cmp[cmp["impacted"]]
    deltas = cmp["delta_mean_delay_s"].dropna()
    return ScenarioKpis(
        flows=len(cmp), impacted_flows=len(hit), lost_all_flows=int(hit["lost_all"].sum()),
        impacted_nodes=impacted_nodes(cmp), not_measurable_flows=int((~cmp["measurable"]).sum()),
        mean_delta_delay_s=_opt(deltas.mean()) if len(deltas) else None,
        max_delta_delay_s=_opt(deltas.max()) if len(deltas) else None,
        baseline_loss_ratio=_total_loss(baseline), scenario_loss_ratio=_total_loss(scenario),
        baseline_throughput_bps=float(baseline["throughput_bps"].sum()),
        scenario_throughput_bps=float(scenario["throughput_bps"].sum()),
        congested_links=int(links["congested"].sum()) if links is not None else 0,
        **_reroute_summary(reroutes, gaps),
    )


__all__ = [
    "CONGESTED_UTILISATION", "FLOW_KPI_COLUMNS", "FLOW_KPI_DTYPES", "IMPACT_DELAY_DELTA_S",
    "IMPACT_DELAY_RATIO", "IMPACT_LOSS_DELTA", "IMPACTED_NODE_SHARE", "MIN_MEASURABLE_PACKETS",
    "REROUTE_MAX_GAP_S", "REROUTE_TOLERANCE_S", "UNRECOVERED_MIN_PACKETS", "ScenarioKpis",
    "cascade_depth", "compare", "flow_kpis", "impacted_nodes", "interval_kpis", "link_interval_kpis",
    "link_kpis", "scenario_summary",
]
