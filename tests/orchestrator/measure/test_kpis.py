"""Tests of the KPI functions: fixture runs made with ns-3 3.44, and invariants."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ani.kg.errors import SimulationError
from ani.orchestrator.measure.flowmon import (
    histogram_percentile,
    CSV_SCHEMAS,
    FLOWMON_COLUMNS,
    RunTables,
    empty_frame,
    read_run_tables,
)
from ani.orchestrator.measure.kpis import (
    FLOW_KPI_DTYPES,
    IMPACT_DELAY_DELTA_S,
    MIN_MEASURABLE_PACKETS,
    REROUTE_TOLERANCE_S,
    ScenarioKpis,
    compare,
    flow_kpis,
    impacted_nodes,
    interval_kpis,
    link_kpis,
    scenario_summary,
)
from ani.orchestrator.measure.reroutes import reroute_times

DATA = Path(__file__).parent / "data"
IV = 0.1  # interval of the fixtures' timeseries.csv


@pytest.fixture(scope="module")
def fail() -> RunTables:
    return read_run_tables(DATA / "run_fail")


@pytest.fixture(scope="module")
def base() -> RunTables:
    return read_run_tables(DATA / "run_base")


# --------------------------------------------------------------------- fixtures


def test_flow_kpis_fixture(fail: RunTables) -> None:
    k = flow_kpis(fail).set_index("flow")
    assert flow_kpis(fail).dtypes.astype(str).to_dict() == FLOW_KPI_DTYPES
    f0 = k.loc[0]
    # 255 packets sent + 45 sends refused for lack of a route
    assert (f0.tx_packets, f0.rx_packets, f0.lost_packets) == (300, 160, 140)
    assert f0.loss_ratio == pytest.approx(140 / 300)
    assert (f0.no_route_packets, f0.fm_dropped_packets, f0.fm_flows) == (45, 20, 1)
    assert f0.throughput_bps == pytest.approx(80000 * 8 / 1.0)
    assert f0.mean_delay_s == pytest.approx(5.38715376 / 160)
    assert f0.min_delay_s <= f0.p50_delay_s <= f0.p95_delay_s <= f0.p99_delay_s
    assert f0.p99_delay_s <= f0.max_delay_s + 0.001
    assert f0.jitter_s == pytest.approx(0.20556 / 159)
    f2 = k.loc[2]
    assert f2.loss_ratio == 1.0 and f2.rx_packets == 0
    assert np.isnan([f2.mean_delay_s, f2.min_delay_s, f2.p99_delay_s, f2.jitter_s]).all()


def test_empty_run() -> None:
    run = RunTables(flows=empty_frame(CSV_SCHEMAS["flows.csv"]),
                    flowmon=empty_frame(FLOWMON_COLUMNS))
    k = flow_kpis(run)
    assert k.empty and k.dtypes.astype(str).to_dict() == FLOW_KPI_DTYPES
    assert interval_kpis(run, IV).empty and link_kpis(run, 1.0).empty
    s = scenario_summary(k, k)
    assert s.flows == 0 and s.baseline_loss_ratio is None


def test_interval_kpis_fixture(fail: RunTables) -> None:
    iv = interval_kpis(fail, IV)
    f0 = iv[iv.flow == 0].set_index("bin")
    assert list(f0.index) == list(range(10, 21))  # bin 17 (no packet at all) filled in
    assert f0.loc[17, ["tx_packets", "rx_packets"]].tolist() == [0, 0]
    assert math.isnan(f0.loc[17, "loss_ratio"]) and math.isnan(f0.loc[17, "mean_delay_s"])
    assert f0.loc[14, "loss_ratio"] == 1.0 and f0.loc[11, "loss_ratio"] == 0.0
    assert f0.loc[11, "throughput_bps"] == pytest.approx(12500 * 8 / IV)
    assert f0.loc[13, "t_start_s"] == pytest.approx(1.3)
    sums = iv.groupby("flow")[["tx_packets", "rx_packets", "rx_bytes"]].sum()
    flows = fail.flows.set_index("flow")
    assert sums.equals(flows[["tx_packets", "rx_packets", "rx_bytes"]].loc[sums.index])


def test_interval_kpis_rejects_wrong_interval(fail: RunTables) -> None:
    with pytest.raises(SimulationError, match=r"interval_s=0\.2"):
        interval_kpis(fail, 0.2)
    with pytest.raises(SimulationError):
        interval_kpis(fail, 0.0)


def test_link_kpis(fail: RunTables) -> None:
    lk = link_kpis(fail, 1.0).set_index(["link", "from"])
    assert lk.loc[("l1", "n1"), "utilisation"] == pytest.approx(173840 * 8 / 2e6)
    assert not lk["congested"].any()
    assert link_kpis(fail, 0.5).set_index(["link", "from"]).loc[("l1", "n1"), "congested"]
    dropped = RunTables(flows=fail.flows, flowmon=fail.flowmon,
                        links=fail.links.assign(drops=[0] * 9 + [1]))
    assert link_kpis(dropped, 1.0)["congested"].tolist() == [False] * 9 + [True]


def test_compare_fixture(base: RunTables, fail: RunTables) -> None:
    cmp = compare(flow_kpis(base), flow_kpis(fail)).set_index("flow")
    assert cmp["impacted"].tolist() == [True, True, False]  # flow 2 lost everything in both
    assert cmp.loc[0, "delta_loss_ratio"] == pytest.approx(140 / 300)
    assert cmp.loc[0, "delta_throughput_bps"] == pytest.approx(640000 - 1200000)
    assert not cmp["lost_all"].any()


def test_reroute_times_with_baseline(base: RunTables, fail: RunTables) -> None:
    r = reroute_times(fail.event_probes, fail.events, base.event_probes).set_index("flow")
    assert r["disrupted"].tolist() == [True, True, False]
    assert r.loc[0, "reroute_time_s"] == pytest.approx(1.814664 - 1.4)
    assert r.loc[0, "reference_latency_s"] == pytest.approx(1.481064 - 1.4)
    assert r.loc[1, "outage_s"] == pytest.approx(1.808544 - 1.396264)
    assert r.loc[0, "event_type"] == "link_down" and r.loc[0, "target"] == "l1"
    assert not r.loc[2, "recovered"] and math.isnan(r.loc[2, "reroute_time_s"])


def test_reroute_times_without_baseline(fail: RunTables) -> None:
    r = reroute_times(fail.event_probes, fail.events, flows=fail.flows).set_index("flow")
    assert r.loc[0, "reference_latency_s"] == pytest.approx(1.398384 + 500 * 8 / 1.2e6 - 1.4)
    assert r["disrupted"].tolist() == [True, True, False]
    assert reroute_times(fail.event_probes, fail.events, event_types=["node_down"]).empty


def _probe(first_rx: float) -> pd.DataFrame:
    """One probe of flow 0 for an event at t = 1 s."""
    return pd.DataFrame({"flow": [0], "event": [0], "event_time_s": [1.0],
                         "last_rx_before_s": [0.99], "first_send_after_s": [1.0],
                         "first_rx_after_s": [first_rx]})


@pytest.mark.parametrize(
    ("first_rx", "baseline_rx", "disrupted"),
    [
        (1.010, 1.010, False),  # same as the baseline
        (1.010 + REROUTE_TOLERANCE_S * 0.9, 1.010, False),  # within tolerance
        (1.010 + REROUTE_TOLERANCE_S * 1.5, 1.010, True),  # a longer path
        (1.300, 1.010, True),  # an outage
        (math.nan, 1.010, True),  # never delivered again
        (math.nan, math.nan, False),  # the baseline did not deliver either
    ],
)
def test_disruption_rule(first_rx: float, baseline_rx: float, disrupted: bool) -> None:
    events = empty_frame(CSV_SCHEMAS["events.csv"])
    row = reroute_times(_probe(first_rx), events, _probe(baseline_rx)).iloc[0]
    assert row["disrupted"] == disrupted
    assert row["recovered"] == (not math.isnan(first_rx))
    if disrupted and row["recovered"]:
        assert row["reroute_time_s"] == pytest.approx(first_rx - 1.0)
    else:
        assert math.isnan(row["reroute_time_s"])


def test_reroute_reference_fallbacks(fail: RunTables) -> None:
    events = fail.events
    partial = fail.event_probes[fail.event_probes.flow != 0]  # baseline never probed flow 0
    r = reroute_times(fail.event_probes, events, partial, flows=fail.flows).set_index("flow")
    assert r.loc[0, "reference_latency_s"] == pytest.approx(1.398384 + 500 * 8 / 1.2e6 - 1.4)
    ended = fail.flows.assign(stop_s=[1.3, 2.0, 1.6])  # flow 0 stopped before the event
    r = reroute_times(fail.event_probes.assign(first_rx_after_s=math.nan), events, flows=ended)
    assert r["disrupted"].tolist() == [False, True, False]
    empty = reroute_times(fail.event_probes.iloc[:0], events, fail.event_probes)
    assert empty.empty and {"disrupted", "reroute_time_s", "outage_s"} <= set(empty.columns)


def test_scenario_summary_fixture(base: RunTables, fail: RunTables) -> None:
    kb, kf = flow_kpis(base), flow_kpis(fail)
    rr = reroute_times(fail.event_probes, fail.events, base.event_probes)
    s = scenario_summary(kb, kf, rr, link_kpis(fail, 1.0))
    assert (s.flows, s.impacted_flows, s.lost_all_flows) == (3, 2, 0)
    assert s.impacted_nodes == ["n0", "n2", "n3"]
    assert s.disrupted_flows == 2 and s.unrecovered_flows == 0
    assert s.convergence_time_s == s.reroute_time_max_s == pytest.approx(0.414664)
    assert s.reroute_time_median_s == pytest.approx((0.414664 + 0.408544) / 2)
    assert s.scenario_loss_ratio == pytest.approx((140 + 116 + 19) / (300 + 249 + 19))
    assert s.baseline_throughput_bps == pytest.approx(2196000.0)
    assert ScenarioKpis.model_validate_json(s.model_dump_json()) == s
    with pytest.raises(pydantic.ValidationError):
        ScenarioKpis.model_validate({**s.model_dump(), "surprise": 1})
    empty = scenario_summary(kb, kb)
    assert empty.impacted_flows == 0 and empty.convergence_time_s is None


# -------------------------------------------------------------------- compare


def _kpis(loss: list[float], delay: list[float], rx: list[int], tx: list[int] | None = None) -> pd.DataFrame:
    n = len(loss)
    tx = tx or [100] * n
    return pd.DataFrame({
        "flow": range(n), "src": ["a"] * n, "dst": [f"d{i}" for i in range(n)], "offered_bps": [1e6] * n,
        "tx_packets": tx, "rx_packets": rx, "lost_packets": [t - r for t, r in zip(tx, rx)],
        "loss_ratio": loss, "mean_delay_s": delay, "p99_delay_s": delay,
        "throughput_bps": [float(r) for r in rx],
    })


def test_compare_thresholds() -> None:
    base = _kpis([0.0] * 5, [0.010, 0.010, 0.001, 0.010, 0.010], [100] * 5)
    scen = _kpis([0.0, 0.0, 0.0, 0.02, 1.0],
                 [0.012, 0.0105, 0.0015, 0.010, math.nan], [100, 100, 100, 98, 0])
    cmp = compare(base, scen)
    # +2 ms and x1.2: impacted; +0.5 ms x1.05: no; x1.5 but +0.5 ms: no; +2 % loss; lost all
    assert cmp["impacted"].tolist() == [True, False, False, True, True]
    assert cmp["lost_all"].tolist() == [False, False, False, False, True]
    assert IMPACT_DELAY_DELTA_S > 0.0015 - 0.001


def test_compare_needs_evidence() -> None:
    """A flow that tried to send fewer than MIN_MEASURABLE_PACKETS is not measurable, never impacted."""
    few = MIN_MEASURABLE_PACKETS - 1
    base = _kpis([0.0, 0.0], [0.01, 0.01], [few, 100], tx=[few, 100])
    scen = _kpis([1.0, 1.0], [math.nan, math.nan], [0, 0], tx=[few, 100])
    cmp = compare(base, scen)
    assert cmp["measurable"].tolist() == [False, True]
    assert cmp["impacted"].tolist() == [False, True]


def test_impacted_nodes_by_share_of_traffic() -> None:
    """A node is impacted when IMPACTED_NODE_SHARE of its traffic is in impacted flows, not for one flow."""
    cmp = pd.DataFrame({"src": ["a", "a", "a", "a", "b"], "dst": ["b", "c", "d", "e", "c"],
                        "offered_bps": [1.0, 1.0, 1.0, 1.0, 1.0], "measurable": [True] * 5,
                        "impacted": [True, False, False, False, True]})
    # a: 1/4 of its traffic hit (= share); b: 2/2; c: 1/2; d, e: 0
    assert impacted_nodes(cmp, share=0.25) == ["a", "b", "c"]
    assert impacted_nodes(cmp, share=0.3) == ["b", "c"]


def test_reroute_needs_evidence() -> None:
    """Only a flow sending fast enough can be disrupted; unrecovered needs packets sent after the event."""
    probes = pd.DataFrame({"flow": [0, 1, 2], "event": [0, 0, 0], "event_time_s": [1.0] * 3,
                           "last_rx_before_s": [0.999, 0.9, 0.999], "first_send_after_s": [math.nan] * 3,
                           "first_rx_after_s": [math.nan] * 3})
    events = pd.DataFrame({"time_s": [1.0], "event": [0], "event_type": ["fiber_link_failure"],
                           "target": ["x"], "phase": ["inject"]})
    base = probes.assign(first_rx_after_s=[1.01, 1.2, 1.01])
    flows = pd.DataFrame({"flow": [0, 1, 2], "packet_bytes": [100] * 3, "rate_bps": [8e5, 8e3, 8e5],
                          "start_s": [0.5] * 3, "stop_s": [3.0, 3.0, 1.005], "class": ["probe", "demand", "demand"]})
    r = reroute_times(probes, events, base, flows=flows)
    # flow 0: 1 ms gap, silent after the event: disrupted and unrecovered
    # flow 1: 100 ms gap: not measurable; flow 2: stops 5 ms after the event (5 packets): not unrecovered
    assert r["measurable"].tolist() == [True, False, True]
    assert r["disrupted"].tolist() == [True, False, True]
    assert r["unrecovered"].tolist() == [True, False, False]
    assert r["class"].tolist() == ["probe", "demand", "demand"]


def test_compare_rejects_different_flows() -> None:
    with pytest.raises(SimulationError, match="differ"):
        compare(_kpis([0.0], [0.01], [100]), _kpis([0.0, 0.0], [0.01, 0.01], [100, 100]))


# ------------------------------------------------------------------ properties


@st.composite
def consistent_run(draw: st.DrawFn) -> RunTables:
    """Flows with per-bin send/receive counts that add up, as a drained run writes them."""
    n_flows = draw(st.integers(1, 4))
    flows, rows = [], []
    for flow in range(n_flows):
        first = draw(st.integers(0, 5))
        sent = draw(st.lists(st.integers(0, 20), min_size=1, max_size=6))
        delivered = [draw(st.integers(0, s)) for s in sent]
        lag = draw(st.integers(0, 2))  # receive bin = send bin + lag
        failed = draw(st.integers(0, 10))
        for i, (s, d) in enumerate(zip(sent, delivered, strict=True)):
            rows.append((flow, first + i, s, d, 0, 0, 0.0))
            rows.append((flow, first + i + lag, 0, 0, d, d * 100, d * 0.01))
        rx = sum(delivered)
        flows.append({
            "flow": flow, "src": f"n{flow}", "dst": "n9", "src_addr": f"10.0.0.{flow}",
            "dst_addr": "10.0.9.1", "src_port": 49153, "dst_port": 9000 + flow,
            "rate_bps": 1e6, "packet_bytes": 100, "start_s": first * IV,
            "stop_s": (first + len(sent)) * IV, "tx_packets": sum(sent), "tx_failed": failed,
            "rx_packets": rx, "rx_bytes": rx * 100, "delay_sum_s": rx * 0.01,
            "delay_min_s": 0.01 if rx else math.nan, "delay_max_s": 0.01 if rx else math.nan})
    cols = ["flow", "bin", "tx_packets", "rx_by_send", "rx_packets", "rx_bytes", "delay_sum_s"]
    ts = pd.DataFrame(rows, columns=cols).groupby(["flow", "bin"], as_index=False).sum()
    ts.insert(2, "t_start_s", ts["bin"] * IV)
    nonzero = ts[["tx_packets", "rx_by_send", "rx_packets"]].sum(axis=1) > 0
    return RunTables(flows=pd.DataFrame(flows), flowmon=empty_frame(FLOWMON_COLUMNS),
                     timeseries=ts[nonzero].reset_index(drop=True))


@settings(max_examples=25, deadline=None)
@given(consistent_run())
def test_flow_and_interval_invariants(tables: RunTables) -> None:
    k = flow_kpis(tables)
    assert ((k.loss_ratio >= 0) & (k.loss_ratio <= 1) | k.loss_ratio.isna()).all()
    assert (k.rx_packets <= k.tx_packets).all()
    assert (k.lost_packets + k.rx_packets == k.tx_packets).all()
    iv = interval_kpis(tables, IV)
    sums = iv.groupby("flow")[["tx_packets", "rx_by_send", "rx_packets"]].sum()
    flows = tables.flows.set_index("flow")
    assert (sums["tx_packets"] == flows["tx_packets"]).all()
    assert (sums["rx_by_send"] == flows["rx_packets"]).all()
    assert (sums["rx_packets"] == flows["rx_packets"]).all()
    assert iv["loss_ratio"].dropna().between(0, 1).all()
    assert not iv.duplicated(["flow", "bin"]).any()
    per_flow = iv.groupby("flow")["bin"].agg(["min", "max", "size"])
    assert (per_flow["max"] - per_flow["min"] + 1 == per_flow["size"]).all()  # dense


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 80)),
                min_size=1, max_size=6))
def test_loss_ratio_bounded_even_if_inconsistent(counts: list[tuple[int, int, int]]) -> None:
    flows = pd.DataFrame({
        "flow": range(len(counts)), "src": "a", "dst": "b", "src_addr": "1", "dst_addr": "2",
        "src_port": 1, "dst_port": 2, "rate_bps": 1e6, "packet_bytes": 100, "start_s": 0.0,
        "stop_s": 1.0, "tx_packets": [c[0] for c in counts], "tx_failed": [c[1] for c in counts],
        "rx_packets": [c[2] for c in counts], "rx_bytes": [c[2] * 100 for c in counts],
        "delay_sum_s": 0.0, "delay_min_s": math.nan, "delay_max_s": math.nan})
    k = flow_kpis(RunTables(flows=flows, flowmon=empty_frame(FLOWMON_COLUMNS)))
    assert k.loss_ratio.dropna().between(0, 1).all()
    assert (k.lost_packets >= 0).all()
    assert k.loss_ratio.isna().tolist() == [c[0] + c[1] == 0 for c in counts]


@st.composite
def probes(draw: st.DrawFn) -> pd.DataFrame:
    """Event probes obeying causality: sends at/after the event arrive after being sent."""
    rows = []
    for flow in range(draw(st.integers(1, 5))):
        t = draw(st.floats(0.5, 5.0))
        last = draw(st.one_of(st.just(math.nan), st.floats(t - 0.4, t + 0.4)))
        send = draw(st.one_of(st.just(math.nan), st.floats(t, t + 2.0)))
        rx = math.nan if math.isnan(send) else send + draw(st.floats(0.0, 0.5))
        rows.append((flow, 0, t, last, send, rx))
    return pd.DataFrame(rows, columns=list(CSV_SCHEMAS["event_probes.csv"]))


@settings(max_examples=60, deadline=None)
@given(probes(), st.booleans())
def test_reroute_time_non_negative(p: pd.DataFrame, with_baseline: bool) -> None:
    baseline = p.assign(first_rx_after_s=p["event_time_s"] + 0.01) if with_baseline else None
    r = reroute_times(p, empty_frame(CSV_SCHEMAS["events.csv"]), baseline)
    recovered = r[r["disrupted"] & r["recovered"]]
    assert (recovered["reroute_time_s"] >= 0).all()
    assert recovered["reroute_time_s"].notna().all()
    assert r.loc[~(r["disrupted"] & r["recovered"]), "reroute_time_s"].isna().all()
    assert r.loc[~r["recovered"], "first_rx_after_s"].isna().all()


@settings(max_examples=25, deadline=None)
@given(consistent_run())
def test_compare_with_itself(tables: RunTables) -> None:
    k = flow_kpis(tables)
    cmp = compare(k, k)
    assert not cmp["impacted"].any() and not cmp["lost_all"].any()
    for col in ["delta_loss_ratio", "delta_mean_delay_s", "delta_p99_delay_s",
                "delta_throughput_bps"]:
        assert (cmp[col].dropna() == 0).all()
        assert cmp[col].isna().equals(cmp[col.replace("delta_", "baseline_")].isna())
    s = scenario_summary(k, k)
    assert s.impacted_flows == 0 and s.impacted_nodes == []
    assert s.baseline_loss_ratio == s.scenario_loss_ratio


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(1, 30), st.integers(0, 40)),
                min_size=1, max_size=40))
def test_all_flow_percentiles_at_once_equal_one_flow_at_a_time(rows) -> None:
    """_merged_percentiles (vectorised over flows) against histogram_percentile per flow."""
    from ani.orchestrator.measure.kpis import _merged_percentiles

    hist = pd.DataFrame([(fid, b * 1e-4, 1e-4, c) for fid, _, b, c in rows],
                        columns=["flow_id", "bin_start_s", "bin_width_s", "count"])
    pairs = pd.DataFrame({"flow": [fid // 2 for fid in range(6)], "flow_id": range(6)})  # two ids per flow
    got = _merged_percentiles(pairs, hist).set_index("flow")
    merged = pairs.merge(hist, on="flow_id").groupby(["flow", "bin_start_s"], as_index=False).agg(
        bin_width_s=("bin_width_s", "first"), count=("count", "sum"))
    merged = merged[merged["count"] > 0]
    assert sorted(got.index) == sorted(merged["flow"].unique())
    for flow, g in merged.groupby("flow"):
        for q in (0.5, 0.95, 0.99):
            want = histogram_percentile(g["bin_start_s"], g["bin_width_s"], g["count"], q)
            assert got.loc[flow, f"p{int(q * 100)}_delay_s"] == want
