"""Tests of ani.kg.synthetic_traffic: rate, heavy tail, mix, determinism, file round trip."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ani.kg.synthetic_traffic import (
    ALPHA,
    PROTO_MIX,
    mean_flow_packets,
    mean_packet_bytes,
    synthetic_trace,
)
from ani.kg.topology import abilene
from ani.kg.traces import TraceError, trace_stats, transform
from ani.ns3_scenarios.trace_file import read_trace, write_trace


@pytest.fixture(scope="module")
def g() -> nx.Graph:
    return abilene()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_rate_is_within_10_percent_over_a_long_window(g: nx.Graph, seed: int) -> None:
    trace = synthetic_trace(g, duration_s=60.0, rate_bps=10e6, seed=seed)
    stats = trace_stats(trace)
    assert stats["duration_s"] == 60.0
    assert stats["bps"] == pytest.approx(10e6, rel=0.10)
    assert stats["flows"] > 10 * 10_000 / mean_flow_packets()  # many flows: the window is long enough


def test_flow_sizes_are_heavy_tailed(g: nx.Graph) -> None:
    trace = synthetic_trace(g, duration_s=30.0, rate_bps=10e6, seed=5)
    per_flow = np.sort(np.bincount(trace.flow, weights=trace.ip_bytes))[::-1]
    assert per_flow[: len(per_flow) // 10].sum() > 0.5 * per_flow.sum()  # top 10 % carry > 50 %
    packets = np.bincount(trace.flow)
    assert 0.5 < np.mean(packets == 1) < 0.62  # P(size = 1) = 1 - 2**-alpha = 0.565
    tail = np.mean(packets >= 100)
    assert tail == pytest.approx(100**-ALPHA, rel=0.3)


def test_packet_size_and_protocol_mix(g: nx.Graph) -> None:
    trace = synthetic_trace(g, duration_s=20.0, rate_bps=5e6, seed=7)
    size = trace.ip_bytes
    assert np.mean(size == 40) == pytest.approx(0.58, abs=0.02)
    assert np.mean(size == 1500) == pytest.approx(0.13, abs=0.02)
    assert size.min() >= 40 and size.max() <= 1500
    assert size.mean() == pytest.approx(mean_packet_bytes(), rel=0.03)
    shares = {p: np.mean(trace.flow_proto == p) for p in PROTO_MIX}
    assert shares[6] == pytest.approx(0.72, abs=0.03) and shares[17] == pytest.approx(0.21, abs=0.03)
    assert set(trace_stats(trace)["protocol_packets"]) <= {"TCP", "UDP", "ICMP", "GRE"}


def test_flows_go_between_distinct_routers_by_gravity(g: nx.Graph) -> None:
    trace = synthetic_trace(g, duration_s=5.0, rate_bps=5e6, seed=3)
    assert trace.flows and all(s != d for s, d in trace.flows)
    assert {n for pair in trace.flows for n in pair} <= set(g.nodes)
    assert len(set(trace.flows)) > 0.8 * g.number_of_nodes() * (g.number_of_nodes() - 1)


def test_documented_as_synthetic_and_inside_the_window(g: nx.Graph) -> None:
    trace = synthetic_trace(g, duration_s=2.0, rate_bps=2e6, seed=0)
    assert trace.source.startswith("synthetic") and "SYNTHETIC" in trace.notes[0]
    assert trace.t_s.min() >= 0 and trace.t_s.max() < 2.0
    assert np.all(np.diff(trace.t_s) >= 0)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.5, 5.0), st.floats(1e5, 5e6))
def test_deterministic_per_seed(seed: int, duration: float, rate: float) -> None:
    a = synthetic_trace(abilene(), duration, rate, seed=seed)
    b = synthetic_trace(abilene(), duration, rate, seed=seed)
    assert a.flows == b.flows
    np.testing.assert_array_equal(a.t_s, b.t_s)
    np.testing.assert_array_equal(a.ip_bytes, b.ip_bytes)
    np.testing.assert_array_equal(a.flow, b.flow)


def test_different_seeds_differ_and_looping_is_seamless(g: nx.Graph) -> None:
    a = synthetic_trace(g, 1.0, 1e6, seed=1)
    assert not np.array_equal(a.t_s, synthetic_trace(g, 1.0, 1e6, seed=2).t_s)
    looped = transform(a, loop_to_s=3.0)
    assert len(looped) == 3 * len(a) and looped.t_s.max() < 3.0


def test_binary_round_trip(g: nx.Graph, tmp_path: Path) -> None:
    trace = synthetic_trace(g, 1.0, 2e6, seed=4)
    path = tmp_path / "synthetic.bin"
    write_trace(trace, path, {n: i for i, n in enumerate(g.nodes)})
    assert path.stat().st_size == 24 + 8 * len(trace.flows) + 16 * len(trace)
    _, packets = read_trace(path)
    np.testing.assert_array_equal(packets["t_s"], trace.t_s)


@pytest.mark.parametrize("bad", [{"duration_s": 0.0}, {"rate_bps": -1.0}, {"small_frac": 0.9, "large_frac": 0.2}])
def test_bad_parameters(g: nx.Graph, bad: dict) -> None:
    args = {"duration_s": 1.0, "rate_bps": 1e6} | bad
    with pytest.raises(TraceError, match="synthetic"):
        synthetic_trace(g, **args)
