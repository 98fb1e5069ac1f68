"""Independent computations the checks need beyond paths: steady-state link loads and late deliveries.

- :func:`offered_loads`: every flow's configured rate (wire bytes) routed on a
  graph with the twin's documented routing (networkx; see
  :func:`~ani.orchestrator.measure.checks.routes`), summed per link direction
  and divided by its capacity. A flow loses packets at its first overloaded
  hop, so what reaches a later hop can only be less: a link direction can drop
  in the steady state only where this offered ratio exceeds 1.
- :func:`late_deliveries`: how many of a probe's packets sent during its
  outage were delivered after all (a packet caught in a transient routing
  loop that resolved, or parked in a queue), bounded from the program's
  per-send-bin counts: the outage loss is the packets sent in the outage less
  these.
"""

from __future__ import annotations

import math
from collections import defaultdict

import networkx as nx
import pandas as pd

from ani.ns3_scenarios.render import RunSpec
from ani.ns3_scenarios.sizing import WIRE_OVERHEAD_BYTES
from ani.ns3_scenarios.twin_paths import twin_path

Arc = tuple[str, str]


def offered_loads(g: nx.Graph, spec: RunSpec, flows: pd.DataFrame,
                  nxt: dict[str, dict[str, str]]) -> dict[Arc, float]:
    """Offered load / capacity of every link direction of ``g`` used by ``flows`` (routes ``nxt``)."""
    scale = float(spec.params["capacity_scale"])
    load: dict[Arc, float] = defaultdict(float)
    for s, d, rate, size in zip(flows["src"], flows["dst"], flows["rate_bps"], flows["packet_bytes"]):
        if s == d or s not in nxt.get(d, {}):
            continue
        path = twin_path(nxt[d], s, d)
        for hop in zip(path, path[1:]):
            load[hop] += rate * (size + WIRE_OVERHEAD_BYTES) / size
    return {(u, v): w / (g.edges[u, v]["capacity_bps"] * scale) for (u, v), w in load.items()}


def late_deliveries(series: pd.DataFrame, interval_s: float, first_send_after: float, last_sent: float,
                    gap: float) -> tuple[int, int]:
    """(at least, at most) packets sent strictly between ``last_sent`` and ``first_send_after`` that were
    delivered, from ``series`` (one flow's ``timeseries.csv`` rows: ``bin``, ``rx_by_send``).

    The flow sends at ``first_send_after - j * gap``; per bin, the delivered
    packets sent in the window are at least those delivered beyond the bin's
    sends outside it, and at most the bin's sends inside it.
    """
    n = max(0, math.ceil((first_send_after - last_sent) / gap - 1e-6) - 1)
    inside: dict[int, int] = defaultdict(int)
    for j in range(1, n + 1):
        inside[int((first_send_after - j * gap) // interval_s)] += 1
    rx = dict(zip(series["bin"].astype(int), series["rx_by_send"].astype(int)))
    sent = dict(zip(series["bin"].astype(int), series["tx_packets"].astype(int) + series["tx_failed"].astype(int)))
    low = sum(max(0, rx.get(b, 0) - (sent.get(b, 0) - k)) for b, k in inside.items())
    high = sum(min(rx.get(b, 0), k) for b, k in inside.items())
    return low, high
