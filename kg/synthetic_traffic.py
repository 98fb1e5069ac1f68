"""SYNTHETIC packet traffic with MAWI-like statistics (not measured traffic).

The embedded default when no capture is given. Every trace made here says
"SYNTHETIC" in its ``source`` and ``notes``. The model:

* **Flows** arrive as a Poisson process: their number over the window is
  Poisson with mean ``lambda * duration_s``, their start times uniform.
  ``lambda`` is set so that the mean offered rate is ``rate_bps``.
* **Flow sizes** in packets are heavy-tailed: ``min(floor(X), max_flow_packets)``
  with ``X`` Pareto(``alpha``, x_m = 1), so ``P(size >= k) = k**-alpha``
  (about 56 % one-packet flows at alpha = 1.2; the MAWI sample has 68 % in 0.9 s).
  The uniforms behind the sizes are stratified (one per 1/n slice, shuffled):
  each size is still exactly Pareto, but the total is close to its
  expectation, so the realised rate stays close to ``rate_bps``.
* **Packets** of a flow follow each other with exponential gaps at the flow's
  own rate (log-uniform in ``flow_pps``, raised where needed so the flow fits
  in the window). The window is treated as one period of a stationary
  process: a flow running past the end continues at the start, so no bytes
  are lost, there is no warm-up ramp, and looping the trace is seamless.
* **Packet sizes** (IP bytes): ``small_frac`` 40-byte ACK-like packets,
  ``large_frac`` 1500-byte packets, the rest uniform in 41..1499. Defaults
  are the fractions measured on the MAWI 2006 sample (58 % <= 64 B, 13 %
  >= 1400 B; its mean is 301 B, this mix's 441 B).
* **Protocols** per flow: TCP 72 %, UDP 21 %, ICMP 6.5 %, GRE 0.5 % (the
  sample's shares of 5-tuple flows).
* **PoP pairs**: each flow draws a pair by the gravity model
  (:func:`ani.kg.traces.gravity_pairs`).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from ani.kg.traces import Trace, TraceError, gravity_pairs

ALPHA: float = 1.2
MAX_FLOW_PACKETS: int = 10_000
SMALL_BYTES, LARGE_BYTES = 40, 1500
PROTO_MIX: dict[int, float] = {6: 0.72, 17: 0.21, 1: 0.065, 47: 0.005}


def mean_flow_packets(alpha: float = ALPHA, max_flow_packets: int = MAX_FLOW_PACKETS) -> float:
    """Expected flow size in packets: ``sum(k**-alpha for k in 1..max_flow_packets)``."""
    return float(np.sum(np.arange(1, max_flow_packets + 1, dtype=np.float64) ** -alpha))


def mean_packet_bytes(small_frac: float = 0.58, large_frac: float = 0.13) -> float:
    """Expected IP packet size of the size mix, in bytes."""
    middle = (SMALL_BYTES + 1 + LARGE_BYTES - 1) / 2
    return small_frac * SMALL_BYTES + large_frac * LARGE_BYTES + (1 - small_frac - large_frac) * middle


def _flow_sizes(rng: np.random.Generator, n: int, alpha: float, cap: int) -> np.ndarray:
    """Stratified Pareto draws: one uniform in each slice [i/n, (i+1)/n), shuffled."""
    u = (rng.permutation(n) + rng.random(n)) / max(n, 1)
    x = np.floor((1.0 - u) ** (-1.0 / alpha))  # 1 - u in (0, 1]
    return np.minimum(x, cap).astype(np.int64)


def _packet_times(
    rng: np.random.Generator, sizes: np.ndarray, pps: np.ndarray, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Flow index and time (folded into the window) of every packet."""
    flow = np.repeat(np.arange(len(sizes)), sizes)
    first = np.cumsum(sizes) - sizes
    gaps = rng.exponential(1.0, len(flow)) / pps[flow]
    gaps[first] = 0.0
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], sizes)
    start = rng.uniform(0.0, duration_s, len(sizes))
    return flow, np.mod(start[flow] + offset, duration_s)


def _packet_bytes(rng: np.random.Generator, n: int, small_frac: float, large_frac: float) -> np.ndarray:
    kind = rng.random(n)
    size = rng.integers(SMALL_BYTES + 1, LARGE_BYTES, n, endpoint=False)
    size[kind < small_frac] = SMALL_BYTES
    size[(kind >= small_frac) & (kind < small_frac + large_frac)] = LARGE_BYTES
    return size.astype(np.uint16)


def _check(duration_s: float, rate_bps: float, alpha: float, small_frac: float, large_frac: float) -> None:
    ok = all(map(math.isfinite, (duration_s, rate_bps, alpha))) and min(duration_s, rate_bps, alpha) > 0
    if not ok or not (0 <= small_frac and 0 <= large_frac and small_frac + large_frac <= 1):
        raise TraceError(
            "synthetic", "duration_s, rate_bps and alpha must be > 0, and small_frac + large_frac within [0, 1]"
        )


def synthetic_trace(
    g: nx.Graph,
    duration_s: float,
    rate_bps: float,
    seed: int = 0,
    *,
    alpha: float = ALPHA,
    max_flow_packets: int = MAX_FLOW_PACKETS,
    flow_pps: tuple[float, float] = (10.0, 1000.0),
    small_frac: float = 0.58,
    large_frac: float = 0.13,
) -> Trace:
    """A SYNTHETIC trace with MAWI-like statistics (see the module docstring).

    Parameters
    ----------
    g : networkx.Graph
        The topology (schema of :mod:`ani.kg.topology`); flows go between
        routers drawn by the gravity model.
    duration_s : float > 0
        The window; every packet time lies in ``[0, duration_s)``.
    rate_bps : float > 0
        Mean offered rate in IP bits per second over the window (all flows).
    seed : int
        The same seed gives the same trace.
    alpha : float
        Pareto shape of flow sizes (1.2: infinite variance before the cap).
    max_flow_packets : int
        Cap on a flow's size; a window should hold many times this many
        packets for the realised rate to be within a few % of ``rate_bps``.
    flow_pps : (float, float)
        Range of per-flow packet rates (log-uniform).
    small_frac, large_frac : float
        Shares of 40-byte and 1500-byte packets; the rest is uniform.

    Returns
    -------
    Trace
        ``duration_s`` = the window; ``flow_proto`` set; ``source`` and
        ``notes`` say it is synthetic and how it was made.
    """
    _check(duration_s, rate_bps, alpha, small_frac, large_frac)
    rng = np.random.default_rng(seed)
    per_flow_bits = 8 * mean_packet_bytes(small_frac, large_frac) * mean_flow_packets(alpha, max_flow_packets)
    n = int(rng.poisson(rate_bps / per_flow_bits * duration_s))
    sizes = _flow_sizes(rng, n, alpha, max_flow_packets)
    pps = np.exp(rng.uniform(*np.log(flow_pps), n))
    flow, t = _packet_times(rng, sizes, np.maximum(pps, sizes / duration_s), duration_s)
    order = np.argsort(t, kind="stable")
    proto = rng.choice(list(PROTO_MIX), size=n, p=list(PROTO_MIX.values()))
    note = (
        f"SYNTHETIC traffic, not measured: {n} Poisson flows, Pareto sizes (alpha={alpha}, "
        f"cap {max_flow_packets}), target {rate_bps:g} bit/s over {duration_s:g} s, seed {seed}"
    )
    return Trace(
        flows=gravity_pairs(g, n, rng) if n else [],
        t_s=t[order],
        flow=flow[order],
        ip_bytes=_packet_bytes(rng, len(t), small_frac, large_frac),
        duration_s=float(duration_s),
        notes=[note],
        flow_proto=proto.astype(np.uint8),
        source=f"synthetic(seed={seed})",
    )
