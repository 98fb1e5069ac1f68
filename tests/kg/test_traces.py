"""Tests of ani.kg.traces on the real MAWI sample and on Topology Zoo graphs."""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from pathlib import Path

import dpkt
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ani.kg.demands import gravity_demands
from ani.kg.errors import ProjectError, UnknownComponentError
from ani.kg.topology import abilene, load_graphml
from ani.kg.traces import (
    PacketTable,
    Trace,
    TraceError,
    endpoints,
    map_to_topology,
    read_pcap,
    trace_stats,
    transform,
)
from ani.ns3_scenarios.trace_file import MAGIC, read_trace, write_trace

SAMPLE = "mawi/mawi-samplepointB-200601051400-first10k.pcap"
COLUMNS = ("t_s", "src", "dst", "proto", "sport", "dport", "ip_bytes")


@pytest.fixture(scope="module")
def sample_path(shared_data: Path) -> Path:
    path = shared_data / SAMPLE
    if not path.is_file():
        pytest.skip(f"MAWI sample {path} is absent")
    return path


@pytest.fixture(scope="module")
def sample(sample_path: Path) -> PacketTable:
    return read_pcap(sample_path)


@pytest.fixture(scope="module")
def mapped(sample: PacketTable) -> Trace:
    return map_to_topology(sample, abilene())


def _same_packets(a: PacketTable, b: PacketTable) -> None:
    np.testing.assert_allclose(a.t_s, b.t_s, rtol=0, atol=1e-6)
    for col in COLUMNS[1:]:
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col), err_msg=col)


def _frames(path: Path, n: int) -> list[tuple[float, bytes]]:
    with open(path, "rb") as fh:
        return list(dpkt.pcap.Reader(fh))[:n]


# --- reading the real sample ------------------------------------------------
def test_sample_counts_match_the_data_readme(sample: PacketTable) -> None:
    assert len(sample) == 9738
    assert "10000 frames read" in sample.notes
    assert "262 frames without an IP header skipped" in sample.notes
    assert not any("IPv6" in n for n in sample.notes)
    assert sample.t_s[0] == 0 and sample.t_s[-1] == pytest.approx(0.905, abs=5e-4)
    assert np.all(np.diff(sample.t_s) >= 0)
    assert sample.t0_epoch_s == pytest.approx(1136437200.895, abs=1e-3)  # 14:00 JST
    assert Counter(sample.proto.tolist()) == {6: 8022, 17: 1256, 1: 319, 47: 141}


def test_sample_has_4319_directional_flows(mapped: Trace) -> None:
    assert len(mapped.flows) == 4319
    assert trace_stats(mapped)["protocol_packets"] == {"TCP": 8022, "UDP": 1256, "ICMP": 319, "GRE": 141}


def test_sample_quirks_are_noted_and_ports_zeroed(sample: PacketTable) -> None:
    cut = [n for n in sample.notes if "cut by the snaplen" in n or "non-first fragments" in n]
    assert sum(int(n.split()[0]) for n in cut) == 38  # the README's 38 TCP/UDP without an L4 header
    tcp_udp = np.isin(sample.proto, (6, 17))
    assert np.count_nonzero(tcp_udp & (sample.sport == 0) & (sample.dport == 0)) >= 38
    assert np.all(sample.sport[~tcp_udp] == 0) and np.all(sample.dport[~tcp_udp] == 0)


def test_sizes_come_from_the_ip_total_length(sample: PacketTable, sample_path: Path) -> None:
    assert sample.ip_bytes.max() == 1500 and sample.ip_bytes.min() >= 20  # the snaplen is 96
    ips = [dpkt.ethernet.Ethernet(buf).data for _, buf in _frames(sample_path, 200)]
    lengths = [ip.len for ip in ips if isinstance(ip, dpkt.ip.IP)]
    np.testing.assert_array_equal(sample.ip_bytes[: len(lengths)], lengths)


def test_arrays_are_read_only(sample: PacketTable) -> None:
    with pytest.raises(ValueError):
        sample.t_s[0] = 1.0


# --- other formats, encapsulations and bad input ------------------------------
def test_pcapng_round_trip(sample: PacketTable, sample_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "first100.pcapng"
    with open(out, "wb") as fh:
        writer = dpkt.pcapng.Writer(fh, snaplen=96)
        for ts, buf in _frames(sample_path, 100):
            writer.writepkt(buf, ts=ts)
    back = read_pcap(out)
    assert 90 < len(back) <= 100
    _same_packets(back, _prefix(sample, len(back)))


def _prefix(table: PacketTable, n: int) -> PacketTable:
    return PacketTable(**{c: getattr(table, c)[:n] for c in COLUMNS}, source=table.source)


@pytest.mark.parametrize(("linktype", "strip"), [(101, 14), (12, 14), (113, None)])
def test_raw_ip_and_linux_sll_links(sample: PacketTable, sample_path: Path, tmp_path: Path, linktype, strip) -> None:
    out = tmp_path / f"link{linktype}.pcap"
    with open(out, "wb") as fh:
        writer = dpkt.pcap.Writer(fh, snaplen=96, linktype=linktype)
        for ts, buf in _frames(sample_path, 300):
            sll = struct.pack("!HHH8sH", 0, 1, 6, b"\0" * 8, 0x0800)  # Linux cooked header, IPv4
            writer.writepkt(buf[strip:] if strip else sll + buf[14:], ts=ts)
    back = read_pcap(out)
    _same_packets(back, _prefix(sample, len(back)))


def test_gzip_compressed_capture(sample: PacketTable, sample_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "sample.pcap.gz"
    out.write_bytes(gzip.compress(sample_path.read_bytes()))
    _same_packets(read_pcap(out), sample)
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    part = read_pcap(cut)
    assert 0 < len(part) < len(sample) and any("ends early" in n for n in part.notes)
    _same_packets(part, _prefix(sample, len(part)))


@pytest.mark.parametrize("cut", [10, 100_000, 362_000])
def test_truncated_pcap_keeps_the_packets_before_the_cut(sample: PacketTable, sample_path: Path, tmp_path: Path, cut) -> None:
    blob = sample_path.read_bytes()
    out = tmp_path / "cut.pcap"
    out.write_bytes(blob[: len(blob) - cut])
    part = read_pcap(out)
    assert 0 < len(part) < len(sample)
    assert any("truncated or corrupt final record" in n for n in part.notes)
    _same_packets(part, _prefix(sample, len(part)))


def test_truncated_inside_the_second_record_header(sample_path: Path, tmp_path: Path) -> None:
    blob = sample_path.read_bytes()
    caplen = struct.unpack("<I", blob[32:36])[0]
    out = tmp_path / "two.pcap"
    out.write_bytes(blob[: 24 + 16 + caplen + 8])
    part = read_pcap(out)
    assert len(part) == 1 and any("truncated" in n for n in part.notes)


def test_truncated_pcapng_keeps_the_packets_before_the_cut(sample_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "cut.pcapng"
    with open(out, "wb") as fh:
        writer = dpkt.pcapng.Writer(fh, snaplen=96)
        for ts, buf in _frames(sample_path, 50):
            writer.writepkt(buf, ts=ts)
    out.write_bytes(out.read_bytes()[:-20])
    part = read_pcap(out)
    assert 40 < len(part) < 50 and any("pcapng block" in n for n in part.notes)


def test_not_a_capture_names_the_file(shared_data: Path) -> None:
    path = shared_data / "topologyzoo" / "Abilene.graphml"
    if not path.is_file():
        path = next((shared_data / "topologyzoo").glob("*.graphml"))
    with pytest.raises(TraceError, match="not a pcap or pcapng file") as err:
        read_pcap(path)
    assert str(path) in str(err.value) and isinstance(err.value, (ValueError, ProjectError))


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"\xd4\xc3\xb2\xa1\x02\x00", "too short"), (b"\x0a\x0d\x0d\x0a\x1c", "pcapng")],
)
def test_bad_files_raise_trace_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(TraceError, match=message) as err:
        read_pcap(path)
    assert str(path) in str(err.value)


def test_header_only_and_missing_files(sample_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "header.pcap"
    path.write_bytes(sample_path.read_bytes()[:24])
    with pytest.raises(TraceError, match="no IPv4 packet"):
        read_pcap(path)
    with pytest.raises(TraceError, match="no such file"):
        read_pcap(tmp_path / "missing.pcap")


def test_unsupported_link_type(sample_path: Path, tmp_path: Path) -> None:
    blob = bytearray(sample_path.read_bytes())
    blob[20:24] = struct.pack("<I", 105)  # 802.11
    path = tmp_path / "wifi.pcap"
    path.write_bytes(bytes(blob))
    with pytest.raises(TraceError, match="unsupported link type 105"):
        read_pcap(path)


# --- mapping to the topology --------------------------------------------------
@pytest.fixture(scope="module")
def zoo(shared_data: Path) -> nx.Graph:
    """A Zoo network with several components, external peers and isolated nodes."""
    path = shared_data / "topologyzoo" / "Uninett.graphml"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return load_graphml(path)


@pytest.mark.parametrize("mode", ["hash", "gravity"])
def test_mapping_conserves_packets_and_uses_distinct_connected_routers(sample, zoo, mode) -> None:
    trace = map_to_topology(sample, zoo, mode=mode, seed=3)
    assert len(trace) == len(sample) and int(trace.ip_bytes.sum()) == int(sample.ip_bytes.sum())
    np.testing.assert_array_equal(trace.t_s, sample.t_s)
    np.testing.assert_array_equal(trace.ip_bytes, sample.ip_bytes)
    comp = {n: i for i, c in enumerate(nx.connected_components(zoo)) for n in c}
    for s, d in set(trace.flows):
        assert s != d and comp[s] == comp[d]
        assert zoo.nodes[s]["kind"] == zoo.nodes[d]["kind"] == "router"
        assert zoo.degree(s) > 0 and zoo.degree(d) > 0


@pytest.mark.parametrize("mode", ["hash", "gravity"])
def test_mapping_is_deterministic_per_seed(sample, mode) -> None:
    g = abilene()
    assert map_to_topology(sample, g, mode, seed=1).flows == map_to_topology(sample, g, mode, seed=1).flows
    assert map_to_topology(sample, g, mode, seed=1).flows != map_to_topology(sample, g, mode, seed=2).flows


def test_hash_mode_maps_one_address_to_one_pop(sample, mapped) -> None:
    first = np.unique(mapped.flow, return_index=True)[1]
    by_src: dict[int, set[str]] = {}
    for addr, (s, _) in zip(sample.src[first].tolist(), mapped.flows):
        by_src.setdefault(addr, set()).add(s)
    assert all(len(pops) == 1 for pops in by_src.values())
    assert len({s for s, _ in mapped.flows}) == len(endpoints(abilene())[0])  # spread over every PoP


def test_gravity_mode_follows_the_weights(sample) -> None:
    g = abilene()
    trace = map_to_topology(sample, g, "gravity", seed=0)
    expected: Counter[str] = Counter()
    for d in gravity_demands(g):
        expected[d.src] += d.rate_bps
    seen = Counter(s for s, _ in trace.flows)
    tv = 0.5 * sum(abs(seen[n] / len(trace.flows) - w) for n, w in expected.items())
    assert tv < 0.05


def test_unknown_mode_and_graph_without_pairs(sample) -> None:
    with pytest.raises(TraceError, match="unknown mapping mode"):
        map_to_topology(sample, abilene(), mode="random")  # type: ignore[arg-type]
    lonely = nx.Graph(name="lonely")
    lonely.add_node("a", kind="router")
    with pytest.raises(ValueError, match="no two connected routers"):
        map_to_topology(sample, lonely)


# --- transform -------------------------------------------------------------------
@st.composite
def traces(draw: st.DrawFn) -> Trace:
    n = draw(st.integers(2, 60))
    n_flows = draw(st.integers(1, 8))
    t = np.sort(np.array(draw(st.lists(st.floats(0, 5), min_size=n, max_size=n))))
    t -= t[0]
    flow = np.array(draw(st.lists(st.integers(0, n_flows - 1), min_size=n, max_size=n)), dtype=np.uint32)
    size = np.array(draw(st.lists(st.integers(20, 1500), min_size=n, max_size=n)), dtype=np.uint16)
    span = float(t[-1])
    flows = [(f"r{i}", f"r{i + 1}") for i in range(n_flows)]
    return Trace(flows=flows, t_s=t, flow=flow, ip_bytes=size, duration_s=span + span / (n - 1) + 0.01)


@settings(max_examples=40, deadline=None)
@given(traces(), st.floats(0.1, 10), st.floats(-5, 5))
def test_time_scale_and_start_keep_counts(trace: Trace, scale: float, start: float) -> None:
    out = transform(trace, time_scale=scale, start_s=start)
    assert len(out) == len(trace) and out.duration_s == pytest.approx(trace.duration_s * scale)
    np.testing.assert_allclose(out.t_s, trace.t_s * scale + start, rtol=1e-12, atol=1e-12)
    assert int(out.ip_bytes.sum()) == int(trace.ip_bytes.sum())


@settings(max_examples=40, deadline=None)
@given(traces(), st.integers(1, 6))
def test_loop_k_times_gives_k_times_the_packets(trace: Trace, k: int) -> None:
    out = transform(trace, loop_to_s=k * trace.duration_s)
    assert len(out) == k * len(trace) and out.duration_s == pytest.approx(k * trace.duration_s)
    np.testing.assert_allclose(out.t_s[: len(trace)], trace.t_s)
    np.testing.assert_allclose(out.t_s[-len(trace) :], trace.t_s + (k - 1) * trace.duration_s)


@settings(max_examples=40, deadline=None)
@given(traces(), st.integers(1, 4), st.integers(0, 100))
def test_integer_intensity_multiplies_the_count(trace: Trace, m: int, seed: int) -> None:
    out = transform(trace, intensity=m, seed=seed)
    assert len(out) == m * len(trace) and int(out.ip_bytes.sum()) == m * int(trace.ip_bytes.sum())
    assert np.all(np.diff(out.t_s) >= 0) and out.t_s[-1] <= trace.t_s[-1] + trace.duration_s / len(trace)
    assert Counter(zip(*_pairs_of(out))) == Counter({k: m * v for k, v in Counter(zip(*_pairs_of(trace))).items()})


def _pairs_of(trace: Trace) -> tuple[list[tuple[str, str]], list[int]]:
    return [trace.flows[i] for i in trace.flow.tolist()], trace.ip_bytes.tolist()


@settings(max_examples=40, deadline=None)
@given(traces(), st.floats(0.05, 1.0), st.integers(0, 100))
def test_sample_flows_keeps_whole_flows(trace: Trace, fraction: float, seed: int) -> None:
    out = transform(trace, sample_flows=fraction, seed=seed)
    before = Counter(trace.flows[i] for i in trace.flow.tolist())  # flow names are unique here
    after = Counter(out.flows[i] for i in out.flow.tolist())
    assert len(out.flows) == len(after) <= round(fraction * len(trace.flows))
    assert all(before[f] == n for f, n in after.items())  # every kept flow has all its packets


def test_transforms_on_the_sample(mapped: Trace) -> None:
    assert len(transform(mapped, intensity=2)) == 2 * len(mapped)
    half = transform(mapped, intensity=0.5, seed=1)
    assert abs(len(half) - len(mapped) / 2) < 4 * np.sqrt(len(mapped) / 4)
    long = transform(mapped, time_scale=2.0, loop_to_s=10 * 2 * mapped.duration_s, start_s=1.0)
    assert len(long) == 10 * len(mapped) and long.t_s[0] == 1.0
    assert transform(mapped, seed=1).flows == mapped.flows
    some = transform(mapped, sample_flows=0.25, seed=4)
    assert len(some.flows) == round(0.25 * len(mapped.flows)) and "0.25" in some.notes[-1]


def test_transform_rejects_bad_parameters(mapped: Trace) -> None:
    for bad in ({"time_scale": 0}, {"intensity": -1}, {"sample_flows": 1.5}, {"loop_to_s": float("nan")}):
        with pytest.raises(TraceError):
            transform(mapped, **bad)


# --- the binary file and stats ------------------------------------------------
def test_write_read_round_trip_and_exact_size(mapped: Trace, tmp_path: Path) -> None:
    g = abilene()
    index = {n: i for i, n in enumerate(g.nodes)}
    trace = transform(mapped, loop_to_s=2 * mapped.duration_s)
    path = tmp_path / "trace.bin"
    write_trace(trace, path, index)
    assert path.stat().st_size == 24 + 8 * len(trace.flows) + 16 * len(trace)
    head = path.read_bytes()[:24]
    assert head[:8] == MAGIC and struct.unpack("<IIQ", head[8:]) == (len(trace.flows), 0, len(trace))
    flows, pkts = read_trace(path)
    assert flows.tolist() == [[index[s], index[d]] for s, d in trace.flows]
    np.testing.assert_array_equal(pkts["t_s"], trace.t_s)
    np.testing.assert_array_equal(pkts["flow"], trace.flow)
    np.testing.assert_array_equal(pkts["ip_bytes"], trace.ip_bytes)
    assert pkts.dtype.itemsize == 16 and not pkts["reserved"].any()


def test_write_and_read_errors(mapped: Trace, tmp_path: Path) -> None:
    with pytest.raises(UnknownComponentError, match="missing from node_index"):
        write_trace(mapped, tmp_path / "x.bin", {"Seattle": 0})
    with pytest.raises(TraceError, match="negative packet time"):
        write_trace(transform(mapped, start_s=-1), tmp_path / "x.bin", {n: i for i, n in enumerate(abilene())})
    bad = tmp_path / "bad.bin"
    bad.write_bytes(MAGIC + struct.pack("<IIQ", 1, 0, 5))
    with pytest.raises(TraceError, match="does not match"):
        read_trace(bad)
    bad.write_bytes(b"nope")
    with pytest.raises(TraceError, match="not an ANITRC1"):
        read_trace(bad)


def test_trace_stats_on_the_sample(mapped: Trace) -> None:
    stats = trace_stats(mapped)
    assert stats["packets"] == 9738 and stats["flows"] == 4319
    assert stats["duration_s"] == pytest.approx(0.905, abs=1e-3)
    assert stats["pps"] == pytest.approx(9738 / stats["duration_s"])
    assert stats["bps"] == pytest.approx(8 * stats["bytes"] / stats["duration_s"])
