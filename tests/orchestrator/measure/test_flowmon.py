"""Tests of the run-folder parsers (FlowMonitor XML and the twin's CSVs)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ani.kg.errors import ProjectError, SimulationError
from ani.orchestrator.measure.flowmon import (
    CSV_SCHEMAS,
    FLOWMON_COLUMNS,
    HISTOGRAM_COLUMNS,
    histogram_percentile,
    parse_ns3_time,
    read_flowmon,
    read_flowmon_data,
    read_run_tables,
)

DATA = Path(__file__).parent / "data"
FAIL = DATA / "run_fail"
BASE = DATA / "run_base"
DTYPES = {"int": "int64", "float": "float64", "str": "object"}


# ------------------------------------------------------------------ ns-3 times


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("+1.00333e+09ns", 1.00333), ("+0ns", 0.0), ("-5ms", -0.005), ("2.5s", 2.5),
        ("42", 42e-9), ("+3us", 3e-6), ("7ps", 7e-12), ("1fs", 1e-15), ("1min", 60.0),
        ("2h", 7200.0), ("1d", 86400.0), (" +9.544e+06ns ", 0.009544), (".5s", 0.5),
    ],
)
def test_parse_ns3_time(text: str, seconds: float) -> None:
    assert parse_ns3_time(text) == pytest.approx(seconds, rel=1e-12, abs=1e-18)


def test_parse_ns3_time_default_unit() -> None:
    assert parse_ns3_time("3", default_unit="s") == 3.0


@pytest.mark.parametrize("text", ["", "ns", "1.2.3ns", "5 parsecs", "+1e+09 nsx", "abc"])
def test_parse_ns3_time_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ns3_time(text)


# ---------------------------------------------------------------- flowmon.xml


def test_read_flowmon_fixture_values() -> None:
    fm = read_flowmon(FAIL / "flowmon.xml").set_index("flow_id")
    assert list(fm.index) == [1, 2, 3]
    f1 = fm.loc[1]
    assert (f1.src_addr, f1.dst_addr, f1.protocol, f1.src_port, f1.dst_port) == (
        "10.0.0.1", "10.0.1.2", 17, 49153, 9001)
    assert (f1.tx_packets, f1.rx_packets, f1.lost_packets, f1.tx_bytes) == (255, 160, 20, 134640)
    assert f1.first_tx_s == pytest.approx(1.00333)
    assert f1.last_rx_s == pytest.approx(2.0415)
    assert f1.mean_delay_s == pytest.approx(5.38715 / 160)
    assert f1.mean_jitter_s == pytest.approx(0.20556 / 159)
    assert (f1.min_delay_s, f1.max_delay_s) == pytest.approx((0.0101173, 0.0650507))
    assert (f1.drops_no_route, f1.drops_interface_down, f1.dropped_packets) == (1, 19, 20)
    assert f1.dropped_bytes == 10560
    assert fm.loc[2, "src_addr"] == "10.0.4.2"  # classifier order differs from FlowStats order


def test_read_flowmon_unreceived_flow_is_nan() -> None:
    f3 = read_flowmon(FAIL / "flowmon.xml").set_index("flow_id").loc[3]
    assert f3.rx_packets == 0 and f3.tx_packets == 19
    for col in ["first_rx_s", "last_rx_s", "min_delay_s", "max_delay_s", "mean_delay_s",
                "mean_jitter_s", "delay_p50_s", "delay_p95_s", "delay_p99_s"]:
        assert math.isnan(f3[col]), col  # not the 9.22e18 ns minDelay sentinel


@pytest.mark.parametrize("run", [FAIL, BASE])
def test_read_flowmon_schema_and_histogram(run: Path) -> None:
    data = read_flowmon_data(run / "flowmon.xml")
    assert list(data.flows.columns) == list(FLOWMON_COLUMNS)
    assert data.flows.dtypes.astype(str).to_dict() == {
        c: DTYPES[k] for c, k in FLOWMON_COLUMNS.items()}
    assert list(data.delay_histogram.columns) == list(HISTOGRAM_COLUMNS)
    counts = data.delay_histogram.groupby("flow_id")["count"].sum()
    rx = data.flows.set_index("flow_id")["rx_packets"]
    assert counts.reindex(rx.index, fill_value=0).equals(rx)  # one histogram sample per rx
    got = data.flows.dropna(subset=["delay_p50_s"])
    assert (got.delay_p50_s <= got.delay_p95_s).all() and (got.delay_p95_s <= got.delay_p99_s).all()
    assert (got.delay_p99_s <= got.max_delay_s + 0.001).all()
    assert (got.delay_p50_s >= got.min_delay_s - 0.001).all()


def test_truncated_xml_names_file(tmp_path: Path) -> None:
    text = (FAIL / "flowmon.xml").read_bytes()
    bad = tmp_path / "flowmon.xml"
    bad.write_bytes(text[: len(text) // 2])
    with pytest.raises(SimulationError, match=r"flowmon\.xml.*line \d+") as err:
        read_flowmon(bad)
    assert str(bad) in str(err.value)
    assert isinstance(err.value, ProjectError) and isinstance(err.value, RuntimeError)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("", "line"),
        ("<FlowMonitor><FlowStats><Flow flowId='1'></FlowStats></FlowMonitor>", "line"),
        ("<Other/>", "root element"),
    ],
)
def test_malformed_xml(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(body)
    with pytest.raises(SimulationError, match=match) as err:
        read_flowmon(path)
    assert "bad.xml" in str(err.value)


def test_bad_time_attribute(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(_synthetic_flowmon(2).replace('timeFirstTxPacket="+1e+09ns"',
                                                  'timeFirstTxPacket="soon"', 1))
    with pytest.raises(SimulationError, match=r"bad\.xml: Flow 1: bad timeFirstTxPacket"):
        read_flowmon(path)


def test_missing_flowmon_file(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match=r"nothere\.xml"):
        read_flowmon(tmp_path / "nothere.xml")


def _synthetic_flowmon(n: int) -> str:
    """A FlowMonitor document with ``n`` flows, classifier listed in reverse order."""
    stats, tuples = [], []
    for i in range(1, n + 1):
        stats.append(
            f'<Flow flowId="{i}" timeFirstTxPacket="+1e+09ns" timeFirstRxPacket="+1.01e+09ns" '
            f'timeLastTxPacket="+2e+09ns" timeLastRxPacket="+2.01e+09ns" delaySum="+{i}e+07ns" '
            f'jitterSum="+0ns" lastDelay="+1e+07ns" txBytes="{i * 100}" rxBytes="{i * 100}" '
            f'txPackets="{i}" rxPackets="{i}" lostPackets="0" timesForwarded="0">'
            f'<packetsDropped reasonCode="9" number="{i % 3}" />'
            f'<delayHistogram nBins="11"><bin index="10" start="0.01" width="0.001" '
            f'count="{i}" /></delayHistogram></Flow>')
        tuples.append(f'<Flow flowId="{i}" sourceAddress="10.0.0.{i % 250}" destinationAddress='
                      f'"10.1.0.1" protocol="17" sourcePort="{i}" destinationPort="9000"/>')
    return ("<?xml version=\"1.0\" ?>\n<FlowMonitor><FlowStats>" + "".join(stats)
            + "</FlowStats><Ipv4FlowClassifier>" + "".join(reversed(tuples))
            + "</Ipv4FlowClassifier></FlowMonitor>")


def test_many_flows_streamed(tmp_path: Path) -> None:
    path = tmp_path / "flowmon.xml"
    path.write_text(_synthetic_flowmon(400))
    fm = read_flowmon(path)
    assert len(fm) == 400
    assert (fm.src_port == fm.flow_id).all()  # joined by id, not by position
    assert (fm.drops_other == fm.flow_id % 3).all() and (fm.dropped_packets == fm.drops_other).all()
    assert np.allclose(fm.mean_delay_s, 0.01)  # delaySum = i * 10 ms over i packets
    assert fm.min_delay_s.isna().all()  # no minDelay attribute: NaN, not an error
    assert np.allclose(fm.delay_p50_s, 0.0105)


def test_flow_without_classifier_entry(tmp_path: Path) -> None:
    path = tmp_path / "flowmon.xml"
    path.write_text(_synthetic_flowmon(2).replace('<Flow flowId="1" sourceAddress', '<X a'))
    with pytest.raises(SimulationError, match="Flow 1 has no classifier"):
        read_flowmon(path)


# ------------------------------------------------------------ histogram quantile


def test_percentile_uniform_known() -> None:
    starts = np.arange(100) * 0.001
    args = (starts, np.full(100, 0.001), np.ones(100))
    assert histogram_percentile(*args, 0.5) == pytest.approx(0.050)
    assert histogram_percentile(*args, 0.95) == pytest.approx(0.095)
    assert histogram_percentile(*args, 0.99) == pytest.approx(0.099)
    assert histogram_percentile(*args, 0.0) == pytest.approx(0.0)
    assert histogram_percentile(*args, 1.0) == pytest.approx(0.100)


def test_percentile_inside_one_bin() -> None:
    # 10 samples in [0.02, 0.03) and 30 in [0.05, 0.06): p50 is half-way into the second bin
    # ranks 10..40 span the second bin; rank 20 is 1/3 of the way in.
    assert histogram_percentile([0.05, 0.02], [0.01, 0.01], [30, 10], 0.5) == pytest.approx(
        0.05 + 0.01 / 3)
    assert math.isnan(histogram_percentile([], [], [], 0.5))
    assert math.isnan(histogram_percentile([0.1], [0.1], [0], 0.5))


def test_percentile_matches_sample_quantiles() -> None:
    rng = np.random.default_rng(7)
    sample = rng.exponential(0.02, 20_000)
    width = 0.0005
    counts = np.bincount((sample // width).astype(int))
    starts = np.arange(counts.size) * width
    for q in (0.5, 0.95, 0.99):
        got = histogram_percentile(starts, np.full(counts.size, width), counts, q)
        assert got == pytest.approx(np.quantile(sample, q), abs=width)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=30), st.floats(0, 1), st.floats(0, 1))
def test_percentile_monotone_and_bounded(counts: list[int], q1: float, q2: float) -> None:
    n = len(counts)
    args = (np.arange(n) * 0.002, np.full(n, 0.002), np.array(counts))
    lo, hi = sorted((q1, q2))
    a, b = histogram_percentile(*args, lo), histogram_percentile(*args, hi)
    if sum(counts) == 0:
        assert math.isnan(a) and math.isnan(b)
    else:
        assert 0.0 <= a <= b <= n * 0.002 + 1e-12


# ------------------------------------------------------------------ run tables


@pytest.mark.parametrize("run", [FAIL, BASE])
def test_read_run_tables_schemas(run: Path) -> None:
    tables = read_run_tables(run)
    for name, schema in CSV_SCHEMAS.items():
        frame = getattr(tables, name.removesuffix(".csv"))
        assert frame.dtypes.astype(str).to_dict() == {c: DTYPES[k] for c, k in schema.items()}
    assert len(tables.flows) == 3 and len(tables.flowmon) == 3
    f2 = tables.flows.set_index("flow").loc[2]
    assert math.isnan(f2.delay_min_s) and f2.rx_packets == 0


def test_read_run_tables_fixture_content() -> None:
    tables = read_run_tables(FAIL)
    assert list(tables.events.phase) == ["inject", "detect", "reconverge", "restore"]
    assert tables.event_probes.loc[2, ["last_rx_before_s", "first_rx_after_s"]].isna().all()
    assert set(tables.links["from"]) == {"n0", "n1", "n2", "n3", "n4"}
    assert read_run_tables(BASE).events.empty


def test_missing_optional_files_give_empty_frames(tmp_path: Path) -> None:
    for name in ["flowmon.xml", "flows.csv"]:
        shutil.copy(FAIL / name, tmp_path / name)
    tables = read_run_tables(tmp_path)
    for name, schema in CSV_SCHEMAS.items():
        frame = getattr(tables, name.removesuffix(".csv"))
        assert list(frame.columns) == list(schema)
        if name != "flows.csv":
            assert frame.empty


def test_missing_flows_csv_is_an_error(tmp_path: Path) -> None:
    shutil.copy(FAIL / "flowmon.xml", tmp_path / "flowmon.xml")
    with pytest.raises(SimulationError, match="flows.csv"):
        read_run_tables(tmp_path)


def test_without_flowmon_xml_the_programs_own_counters_stand_in(tmp_path: Path) -> None:
    """A program without FlowMonitor: flows.csv's jitter/drop columns and delay_histogram.csv."""
    flows = pd.read_csv(FAIL / "flows.csv")
    flows["jitter_sum_s"] = [0.25, 0.0, 0.0][: len(flows)]
    flows["dropped_packets"] = [3, 0, 1][: len(flows)]
    flows.to_csv(tmp_path / "flows.csv", index=False)
    (tmp_path / "delay_histogram.csv").write_text(
        "flow,bin_start_s,bin_width_s,count\n0,0.001,0.0001,5\n0,0.002,0.0001,5\n")
    tables = read_run_tables(tmp_path)
    sent = flows[flows["tx_packets"] > 0]
    assert list(tables.flowmon["flow_id"]) == list(sent["flow"])  # FlowMonitor knows flows that sent
    assert (tables.flowmon["protocol"] == 17).all()
    assert list(tables.flowmon["dropped_packets"]) == list(sent["dropped_packets"])
    assert list(tables.delay_histogram.columns) == list(HISTOGRAM_COLUMNS)
    assert tables.delay_histogram["count"].sum() == 10
    (tmp_path / "delay_histogram.csv").unlink()
    assert read_run_tables(tmp_path).delay_histogram.empty


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("links.csv", "link,from,to,capacity_bps,tx_packets\nl0,a,b,1e6,3\n", "missing columns"),
        ("links.csv", "link,from,to,capacity_bps,tx_packets,tx_bytes,drops\nl0,a,b,1e6,x,3,0\n",
         "tx_packets"),
        ("links.csv", "link,from,to,capacity_bps,tx_packets,tx_bytes,drops\nl0,a,b,1e6,2.5,3,0\n",
         "2.5"),
        ("timeseries.csv", "flow,bin,t_start_s,tx_packets,rx_by_send,rx_packets,rx_bytes,"
         "delay_sum_s\n0,1,0.1,2,2,2,100,0.1,EXTRA,MORE\n", "malformed CSV"),
        ("events.csv", "time_s,event,event_type,target,phase\n1.0,0,link_down,l1,explode\n",
         "explode"),
        ("events.csv", "", "malformed CSV"),
    ],
)
def test_malformed_csv_names_file(tmp_path: Path, name: str, text: str, match: str) -> None:
    for base in ["flowmon.xml", "flows.csv"]:
        shutil.copy(FAIL / base, tmp_path / base)
    (tmp_path / name).write_text(text)
    with pytest.raises(SimulationError, match=match) as err:
        read_run_tables(tmp_path)
    assert name in str(err.value)


def test_csv_extra_columns_ignored(tmp_path: Path) -> None:
    for base in ["flowmon.xml", "flows.csv"]:
        shutil.copy(FAIL / base, tmp_path / base)
    (tmp_path / "links.csv").write_text(
        "link,from,to,capacity_bps,tx_packets,tx_bytes,drops,colour\nl0,a,b,1e6,2,3,0,red\n")
    links = read_run_tables(tmp_path).links
    assert list(links.columns) == list(CSV_SCHEMAS["links.csv"])
    assert links.iloc[0].to_dict() == {"link": "l0", "from": "a", "to": "b", "capacity_bps": 1e6,
                                       "tx_packets": 2, "tx_bytes": 3, "drops": 0}
    assert isinstance(links, pd.DataFrame)


def test_a_timeseries_without_tx_failed_reads_as_no_refused_sends(tmp_path: Path) -> None:
    """Programs of older templates wrote no tx_failed column: it reads as 0, typed int."""
    from ani.orchestrator.measure.run_csv import CSV_SCHEMAS, read_csv_table

    old = tmp_path / "timeseries.csv"
    old.write_text("flow,bin,t_start_s,tx_packets,rx_by_send,rx_packets,rx_bytes,delay_sum_s\n0,3,0.15,5,4,4,4000,0.04\n")
    ts = read_csv_table(old, CSV_SCHEMAS["timeseries.csv"])
    assert list(ts.columns) == list(CSV_SCHEMAS["timeseries.csv"]) and ts["tx_failed"].tolist() == [0]
    assert str(ts["tx_failed"].dtype) == "int64" and ts["tx_packets"].tolist() == [5]
    new = tmp_path / "new" / "timeseries.csv"
    new.parent.mkdir()
    new.write_text(old.read_text().replace("delay_sum_s\n", "delay_sum_s,tx_failed\n").replace("0.04\n", "0.04,7\n"))
    assert read_csv_table(new, CSV_SCHEMAS["timeseries.csv"])["tx_failed"].tolist() == [7]
