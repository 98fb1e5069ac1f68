"""Packet traces (MAWI pcap/pcapng) turned into traffic on the topology.

Pipeline: :func:`read_pcap` (file -> :class:`PacketTable`, IPv4 only) ->
:func:`map_to_topology` (5-tuple flows -> PoP pairs, a :class:`Trace`) ->
:func:`transform` (time scale, intensity, flow sampling, looping, offset) ->
:func:`~ani.ns3_scenarios.trace_file.write_trace` (the binary file the ns-3 replay program reads).

The binary file itself (its format, writer and reader) is
:mod:`ani.ns3_scenarios.trace_file`, next to the program that reads it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np

from ani.kg.demands import gravity_demands
from ani.kg.pcap import PacketTable, TraceError, _frozen, read_pcap

__all__ = ["PacketTable", "Trace", "TraceError", "read_pcap", "map_to_topology", "transform",
           "trace_stats", "endpoints", "gravity_pairs"]

PROTO_NAMES = {1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6", 47: "GRE", 50: "ESP", 51: "AH"}

@dataclass(frozen=True, eq=False)
class Trace:
    """Traffic on a topology: flows between PoPs and their timed packets.

    Attributes
    ----------
    flows : list of (str, str)
        ``(src node id, dst node id)`` per flow; several flows may share a pair.
    t_s : float64 array
        Packet send times in seconds, sorted.
    flow : uint32 array
        Index into ``flows`` per packet.
    ip_bytes : uint16 array
        IP packet size in bytes.
    duration_s : float
        Length of the time window the trace stands for, which is also its loop
        period. From a capture: span of the timestamps plus one mean
        inter-packet gap (n packets cover n gaps).
    notes : list of str
        Provenance and every approximation made on the way.
    flow_proto : uint8 array or None
        IP protocol per flow, where known.
    source : str
        Where the trace came from (a file, ``"synthetic(...)"``).
    """

    flows: list[tuple[str, str]]
    t_s: np.ndarray
    flow: np.ndarray
    ip_bytes: np.ndarray
    duration_s: float
    notes: list[str] = field(default_factory=list)
    flow_proto: np.ndarray | None = None
    source: str = "trace"

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s, np.float64)
        flow, size = np.asarray(self.flow, np.uint32), np.asarray(self.ip_bytes, np.uint16)
        if not len(t) == len(flow) == len(size):
            raise TraceError(self.source, "packet arrays differ in length")
        if len(t) and (np.any(np.diff(t) < 0) or int(flow.max()) >= len(self.flows)):
            raise TraceError(self.source, "packets not sorted by time, or a flow index out of range")
        _frozen(self, t_s=t, flow=flow, ip_bytes=size)
        if self.flow_proto is not None:
            _frozen(self, flow_proto=np.asarray(self.flow_proto, np.uint8))

    def __len__(self) -> int:
        return len(self.t_s)


# --- flows to PoP pairs -------------------------------------------------------
def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fast, platform-independent integer hash."""
    x = np.asarray(x, np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash(values: np.ndarray, *salt: int) -> np.ndarray:
    h = np.asarray(values, np.uint64)
    for s in salt:
        h = _mix(h ^ _mix(np.uint64(s & 0xFFFFFFFFFFFFFFFF)))
    return h


def endpoints(g: nx.Graph) -> tuple[list[str], np.ndarray]:
    """Routers that can send and receive traffic, and their component number.

    Parameters
    ----------
    g : networkx.Graph
        A graph in the schema of :mod:`ani.kg.topology`.

    Returns
    -------
    (list of str, int array)
        Routers (``kind == "router"``, degree > 0) whose connected component
        holds another such router, in graph order, and a component id each.
    """
    comp_of = {n: i for i, comp in enumerate(nx.connected_components(g)) for n in comp}
    cands = [n for n, kind in g.nodes(data="kind") if kind == "router" and g.degree(n) > 0]
    sizes = Counter(comp_of[n] for n in cands)
    pops = [n for n in cands if sizes[comp_of[n]] > 1]
    return pops, np.array([comp_of[n] for n in pops], dtype=np.int64)


def _distinct_dst(addr: np.ndarray, s: np.ndarray, members: np.ndarray, seed: int) -> np.ndarray:
    """A destination among ``members`` per flow, hashed from its address, never ``s``."""
    d = members[_hash(addr, seed, 1) % np.uint64(len(members))]
    for attempt in range(2, 34):
        clash = np.flatnonzero(d == s)
        if not len(clash):
            return d
        d[clash] = members[_hash(addr[clash], seed, attempt) % np.uint64(len(members))]
    clash = np.flatnonzero(d == s)  # 2**-32 per flow: take the next member
    d[clash] = members[(np.searchsorted(members, s[clash]) + 1) % len(members)]
    return d


def _hash_pairs(src: np.ndarray, dst: np.ndarray, g: nx.Graph, seed: int) -> tuple[list[str], np.ndarray]:
    pops, comp = endpoints(g)
    if not pops:
        raise TraceError(g.graph.get("name", "graph"), "no two connected routers to carry traffic")
    s = (_hash(src, seed, 0) % np.uint64(len(pops))).astype(np.int64)
    d = np.empty_like(s)
    for c in np.unique(comp[s]):
        rows = np.flatnonzero(comp[s] == c)
        d[rows] = _distinct_dst(dst[rows], s[rows], np.flatnonzero(comp == c), seed)
    return pops, np.stack([s, d], axis=1)


def gravity_pairs(g: nx.Graph, n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """Draw ``n`` PoP pairs with probability proportional to gravity demands.

    Parameters
    ----------
    g : networkx.Graph
        A graph in the schema of :mod:`ani.kg.topology`.
    n : int
        How many pairs to draw (independently, with replacement).
    rng : numpy.random.Generator
        The source of randomness.

    Returns
    -------
    list of (str, str)
        Ordered pairs of distinct, connected routers (see
        :func:`ani.kg.demands.gravity_demands`).
    """
    demands = gravity_demands(g)
    weight = np.array([d.rate_bps for d in demands])
    picks = rng.choice(len(demands), size=n, p=weight / weight.sum())
    return [(demands[i].src, demands[i].dst) for i in picks]


def _flow_keys(packets: PacketTable) -> tuple[np.ndarray, np.ndarray]:
    """First packet of each directional 5-tuple flow (in time order), and each packet's flow."""
    a = (packets.src.astype(np.uint64) << np.uint64(32)) | packets.dst
    b = (packets.proto.astype(np.uint64) << np.uint64(32)) | (packets.sport.astype(np.uint64) << np.uint64(16))
    keys = np.stack([a, b | packets.dport], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()].astype(np.uint32)


def map_to_topology(
    packets: PacketTable, g: nx.Graph, mode: Literal["hash", "gravity"] = "hash", seed: int = 0
) -> Trace:
    """Give each directional 5-tuple flow of a capture a (src PoP, dst PoP) pair.

    Parameters
    ----------
    packets : PacketTable
        From :func:`read_pcap`.
    g : networkx.Graph
        The topology; flows go between distinct routers of one connected
        component, both with degree > 0 (:func:`endpoints`).
    mode : {"hash", "gravity"}
        ``"hash"``: the source address picks the source PoP and the
        destination address the destination PoP (in the source's component),
        by a salted integer hash, re-hashed deterministically on a clash; so
        one address always lands on one PoP. ``"gravity"``: each flow draws a
        pair with probability proportional to the gravity model.
    seed : int
        Salt of the hash, or seed of the draws.

    Returns
    -------
    Trace
        Flows in order of first packet; every packet kept with its time and
        size (counts and bytes conserved exactly); ``duration_s`` = span + one
        mean gap; ``flow_proto`` set.
    """
    if not len(packets):
        raise TraceError(packets.source, "no packets to map")
    first, flow = _flow_keys(packets)
    if mode == "hash":
        pops, idx = _hash_pairs(packets.src[first], packets.dst[first], g, seed)
        flows = [(pops[s], pops[d]) for s, d in idx.tolist()]
    elif mode == "gravity":
        flows = gravity_pairs(g, len(first), np.random.default_rng([seed, 1]))
    else:
        raise TraceError(packets.source, f"unknown mapping mode {mode!r}; use 'hash' or 'gravity'")
    n, span = len(packets), float(packets.t_s[-1] - packets.t_s[0])
    note = f"{len(flows)} 5-tuple flows mapped to PoP pairs by {mode} (seed {seed}) on {g.graph.get('name', 'graph')}"
    return Trace(
        flows=flows,
        t_s=packets.t_s,
        flow=flow,
        ip_bytes=packets.ip_bytes,
        duration_s=span + (span / (n - 1) if n > 1 else 0.0),
        notes=[*packets.notes, note],
        flow_proto=packets.proto[first],
        source=packets.source,
    )


# --- transforming -------------------------------------------------------------
def _select(trace: Trace, keep: np.ndarray, t: np.ndarray | None = None, **changes: Any) -> Trace:
    """Trace with packets ``keep`` (indices or mask) and only the flows they use."""
    flow = trace.flow[keep]
    used = np.unique(flow)
    remap = np.zeros(len(trace.flows), dtype=np.uint32)
    remap[used] = np.arange(len(used), dtype=np.uint32)
    proto = None if trace.flow_proto is None else trace.flow_proto[used]
    fields: dict[str, Any] = {
        "flows": [trace.flows[i] for i in used.tolist()],
        "t_s": trace.t_s[keep] if t is None else t,
        "flow": remap[flow],
        "ip_bytes": trace.ip_bytes[keep],
        "duration_s": trace.duration_s,
        "notes": list(trace.notes),
        "flow_proto": proto,
        "source": trace.source,
    }
    return Trace(**(fields | changes))


def _sample_flows(trace: Trace, fraction: float, rng: np.random.Generator) -> Trace:
    k = round(fraction * len(trace.flows))
    chosen = np.zeros(len(trace.flows), dtype=bool)
    chosen[rng.choice(len(trace.flows), size=k, replace=False)] = True
    return _select(trace, chosen[trace.flow])


def _scale_intensity(trace: Trace, intensity: float, rng: np.random.Generator) -> Trace:
    n, whole = len(trace), math.floor(intensity)
    copies = whole + (rng.random(n) < intensity - whole)
    idx = np.repeat(np.arange(n), copies)
    gap = np.append(np.diff(trace.t_s), trace.duration_s / max(n, 1))
    later = np.ones(len(idx), dtype=bool)
    later[np.cumsum(copies)[copies > 0] - copies[copies > 0]] = False  # first copy keeps its time
    t = trace.t_s[idx] + later * rng.random(len(idx)) * gap[idx]
    order = np.argsort(t, kind="stable")
    return _select(trace, idx[order], t=t[order])


def _loop(trace: Trace, until_s: float) -> Trace:
    period = trace.duration_s
    if period <= 0:
        raise TraceError(trace.source, "cannot loop a trace of zero duration")
    k = math.ceil(until_s / period)
    t = (trace.t_s[None, :] + period * np.arange(k)[:, None]).ravel()
    keep = np.flatnonzero(t < until_s)
    keep = keep[np.argsort(t[keep], kind="stable")]
    return _select(trace, np.tile(np.arange(len(trace)), k)[keep], t=t[keep], duration_s=float(until_s))


def transform(
    trace: Trace,
    *,
    time_scale: float = 1.0,
    intensity: float = 1.0,
    sample_flows: float = 1.0,
    loop_to_s: float | None = None,
    start_s: float = 0.0,
    seed: int = 0,
) -> Trace:
    """Scale, thin, replicate, loop and shift a trace (in this order).

    Parameters
    ----------
    trace : Trace
        The trace to transform (not changed).
    time_scale : float > 0
        Multiplies every time and ``duration_s`` (2.0 = twice as slow). Counts unchanged.
    intensity : float > 0
        Each packet becomes ``floor(intensity)`` copies plus one more with
        probability ``intensity - floor(intensity)``: exactly ``n * intensity``
        packets for an integer intensity, ``n * intensity`` on average
        otherwise (< 1 samples packets). The first copy keeps the original
        time; the others are placed uniformly at random in the gap to the next
        packet of the trace (the last packet: one mean gap).
    sample_flows : float in (0, 1]
        Keeps ``round(sample_flows * n_flows)`` flows drawn at random, each with
        all its packets.
    loop_to_s : float, optional
        Repeats the trace back to back, copy ``i`` shifted by ``i * duration_s``
        (span + one mean gap for a capture), and cuts at ``loop_to_s`` (times
        counted from 0): ``loop_to_s = k * duration_s`` gives exactly ``k * n``
        packets; a shorter value cuts the trace. ``duration_s`` becomes ``loop_to_s``.
    start_s : float
        Added to every time, last. Counts unchanged.
    seed : int
        Seed of the flow sample, the intensity draws and the jitter.

    Returns
    -------
    Trace
        A new trace; flows left without packets are dropped (indices renumbered,
        order kept); the transformation is recorded in ``notes``.
    """
    values = (time_scale, intensity, sample_flows, start_s, 1.0 if loop_to_s is None else loop_to_s)
    if not all(map(math.isfinite, values)) or min(values[:3] + values[4:]) <= 0 or sample_flows > 1:
        raise TraceError(trace.source, "time_scale, intensity, loop_to_s must be > 0 and sample_flows in (0, 1]")
    out = trace
    if sample_flows < 1:
        out = _sample_flows(out, sample_flows, np.random.default_rng([seed, 2]))
    if intensity != 1:
        out = _scale_intensity(out, intensity, np.random.default_rng([seed, 3]))
    if time_scale != 1:
        out = _select(out, slice(None), t=out.t_s * time_scale, duration_s=out.duration_s * time_scale)
    if loop_to_s is not None:
        out = _loop(out, loop_to_s)
    note = (
        f"transform(time_scale={time_scale}, intensity={intensity}, sample_flows={sample_flows}, "
        f"loop_to_s={loop_to_s}, start_s={start_s}, seed={seed}): {len(trace)} -> {len(out)} packets"
    )
    return _select(out, slice(None), t=out.t_s + start_s, notes=[*out.notes, note])


def trace_stats(trace: Trace) -> dict[str, Any]:
    """Summary numbers of a trace.

    Returns
    -------
    dict
        ``packets``, ``bytes`` (IP bytes), ``flows``, ``duration_s``, ``pps``
        and ``bps`` (over ``duration_s``; NaN if it is 0), and
        ``protocol_packets`` (name -> packet count) when protocols are known.
    """
    n, total = len(trace), int(trace.ip_bytes.sum(dtype=np.uint64))
    dur = trace.duration_s
    stats: dict[str, Any] = {
        "packets": n,
        "bytes": total,
        "flows": len(trace.flows),
        "duration_s": dur,
        "pps": n / dur if dur > 0 else math.nan,
        "bps": 8 * total / dur if dur > 0 else math.nan,
    }
    if trace.flow_proto is not None:
        counts = np.bincount(trace.flow_proto[trace.flow], minlength=256)
        stats["protocol_packets"] = {PROTO_NAMES.get(p, str(p)): int(counts[p]) for p in np.flatnonzero(counts)}
    return stats
