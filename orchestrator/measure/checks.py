"""A run's numbers against independent computations: each check returns what disagrees (empty = confirmed).

Nothing here reads the twin's routing or its convergence code: expected values
come from the knowledge graph with networkx (shortest paths by OSPF cost, the
twin's documented tie-break: among equal-cost next hops, the link listed
first; :func:`~ani.ns3_scenarios.twin_paths.twin_next_hops`), from the
convergence model's parameters, and from conservation laws.

- :func:`baseline_checks`: a run with no event below saturation loses nothing,
  every flow sends rate × window packets, and each flow's fastest packet took
  exactly the propagation + serialization delay of its path.
- :func:`conservation_checks`: sent = received + dropped, each drop with its
  reason (``drops.csv``): nothing is in flight at the end.
- :func:`cut_checks`: after a fibre cut, packets take the shortest path of the
  graph without the link; each probe over the link reroutes within the
  convergence model's bounds; its loss is its rate × its sending outage.

Used by ``tests/ns3_scenarios/twin/test_validation.py`` on networks of several
sizes and by ``ani templates validate --golden``.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd

from ani.ns3_scenarios.render import RunSpec
from ani.ns3_scenarios.sizing import WIRE_OVERHEAD_BYTES
from ani.ns3_scenarios.twin_paths import link_order, twin_next_hops, twin_path

#: send timestamps and arrivals are in ns: a path's delay is exact to this
EXACT_S = 2e-6
#: share of flows whose fastest packet met no queue at all (the rest waited behind a few packets)
MIN_EXACT_SHARE = 0.8
#: queueing allowance, in serialization times per hop: the fastest of a flow's packets / one packet after a cut
MIN_DELAY_SLACK_PACKETS = 5
DETOUR_SLACK_PACKETS = 20
#: queueing allowance of a probe's first packet on the detour
QUEUE_SLACK_S = 1e-3


def serialization(g: nx.Graph, path: list[str], spec: RunSpec, payload: int) -> float:
    """The longest time one packet takes to be sent onto a link of ``path``."""
    scale = float(spec.params["capacity_scale"])
    return max(8 * (payload + WIRE_OVERHEAD_BYTES) / (g.edges[u, v]["capacity_bps"] * scale)
               for u, v in zip(path, path[1:]))


def path_delay(g: nx.Graph, path: list[str], spec: RunSpec, payload: int) -> float:
    """Propagation + serialization of one packet along ``path``, with nothing queued, plus the service
    time of every receiving router's CPU model (``cpu_pps`` > 0)."""
    scale = float(spec.params["capacity_scale"])
    bits = 8 * (payload + WIRE_OVERHEAD_BYTES)
    cpu = {n: pps for n, pps in zip(spec.nodes, spec.cpu_pps) if pps > 0}
    return sum(g.edges[u, v]["delay_s"] + bits / (g.edges[u, v]["capacity_bps"] * scale)
               + (1.0 / cpu[v] if v in cpu else 0.0) for u, v in zip(path, path[1:]))


def routes(g: nx.Graph) -> dict[str, dict[str, str]]:
    """Next hops toward every node, as the twin routes without ECMP before any event."""
    order = link_order(g)
    return {d: twin_next_hops(g, d, order) for d in g.nodes}


def _flows(folder: Path) -> pd.DataFrame:
    flows = pd.read_csv(folder / "flows.csv")
    return flows if "class" in flows.columns else flows.assign(**{"class": "demand"})


def conservation_checks(folder: Path) -> list[str]:
    """sent = received + dropped, every drop with its reason; the network is empty at the end."""
    flows, drops = _flows(folder), pd.read_csv(folder / "drops.csv")
    sent, received, dropped = int(flows["tx_packets"].sum()), int(flows["rx_packets"].sum()), int(drops["packets"].sum())
    if sent != received + dropped:
        return [f"conservation: sent {sent} != received {received} + dropped {dropped} "
                f"({dict(zip(drops['reason'], drops['packets']))}): {sent - received - dropped} unaccounted"]
    return []


def baseline_checks(g: nx.Graph, spec: RunSpec, folder: Path) -> list[str]:
    """A run without events below saturation: no loss, exact send counts, shortest-path minimum delays."""
    flows = _flows(folder)
    out = conservation_checks(folder)
    lossy = flows[(flows["tx_packets"] + flows["tx_failed"]) != flows["rx_packets"]]
    if len(lossy):
        out.append(f"no-failure run lost packets in {len(lossy)} flows, e.g. {lossy.iloc[0]['src']} -> "
                   f"{lossy.iloc[0]['dst']}")
    cbr = flows[flows["class"].isin(["demand", "probe"])]
    expected = (cbr["stop_s"] - cbr["start_s"]) * cbr["rate_bps"] / (8 * cbr["packet_bytes"])
    off = cbr[(cbr["tx_packets"] + cbr["tx_failed"] - expected).abs() > 1.0]
    if len(off):
        out.append(f"{len(off)} flows did not send rate x window packets (+-1)")
    return out + min_delay_checks(g, spec, cbr)


def min_delay_checks(g: nx.Graph, spec: RunSpec, flows: pd.DataFrame) -> list[str]:
    """Each flow's fastest packet: the path's delay exactly (most flows), never less, a few packets' wait at most."""
    nxt = routes(g)
    paths = [twin_path(nxt[d], s, d) for s, d in zip(flows["src"], flows["dst"])]
    sizes = flows["packet_bytes"].tolist()
    expected = pd.Series([path_delay(g, p, spec, n) for p, n in zip(paths, sizes)], index=flows.index)
    slack = pd.Series([MIN_DELAY_SLACK_PACKETS * (len(p) - 1) * serialization(g, p, spec, n)
                       for p, n in zip(paths, sizes)], index=flows.index)
    diff = flows["delay_min_s"] - expected
    out = []
    if (diff <= -EXACT_S).any():
        out.append(f"{int((diff <= -EXACT_S).sum())} flows faster than their shortest path allows")
    if (diff.abs() < EXACT_S).mean() < MIN_EXACT_SHARE:
        out.append(f"only {(diff.abs() < EXACT_S).mean():.0%} of flows have a packet at exactly the path delay")
    if (diff >= slack).any():
        bad = flows[diff >= slack].iloc[0]
        out.append(f"{int((diff >= slack).sum())} flows slower than path + queueing allowance, e.g. "
                   f"{bad['src']} -> {bad['dst']}")
    return out


def cut_checks(g: nx.Graph, spec: RunSpec, folder: Path, link: tuple[str, str], cut_probe: int,
               late_probe: int | None = None) -> list[str]:
    """A fibre cut of ``link``: conservation, the detour's delay (probe ``late_probe``, after reconvergence)
    and each probe flow's reroute time and loss around probe ``cut_probe`` (the cut's time)."""
    out = conservation_checks(folder)
    h = g.copy()
    h.remove_edge(*link)
    flows = _flows(folder).set_index("flow")
    probes = pd.read_csv(folder / "event_probes.csv")
    if late_probe is not None:
        out += _detour_checks(h, spec, flows, probes[probes["event"] == late_probe].set_index("flow"))
    return out + _reroute_checks(g, h, spec, flows, probes[probes["event"] == cut_probe].set_index("flow"), link)


def _detour_checks(h: nx.Graph, spec: RunSpec, flows: pd.DataFrame, late: pd.DataFrame) -> list[str]:
    nxt = routes(h)
    paths = {f: twin_path(nxt[flows.at[f, "dst"]], flows.at[f, "src"], flows.at[f, "dst"]) for f in late.index}
    size = {f: int(flows.at[f, "packet_bytes"]) for f in late.index}
    gap = (late["first_rx_after_s"] - late["first_send_after_s"]
           - pd.Series({f: path_delay(h, p, spec, size[f]) for f, p in paths.items()}))
    slack = pd.Series({f: DETOUR_SLACK_PACKETS * (len(p) - 1) * serialization(h, p, spec, size[f])
                       for f, p in paths.items()})
    out = []
    if gap.isna().any():
        out.append(f"{int(gap.isna().sum())} flows deliver nothing after reconvergence")
    gap = gap.dropna()
    if (gap <= -EXACT_S).any() or (gap >= slack[gap.index]).any():
        out.append(f"{int(((gap <= -EXACT_S) | (gap >= slack[gap.index])).sum())} flows not on the detour's "
                   "delay after reconvergence")
    return out


def _reroute_checks(g: nx.Graph, h: nx.Graph, spec: RunSpec, flows: pd.DataFrame, at_cut: pd.DataFrame,
                    link: tuple[str, str]) -> list[str]:
    """Each probe over ``link``: lower <= reroute time <= upper, and lost = rate x sending outage (+-1).

    lower: detection + SPF + FIB at the router upstream of the cut, minus the time to reach it, plus the detour;
    upper: detection + the slowest LSA flooding to a router on the detour + SPF + FIB + the detour + one probe gap
    + :data:`QUEUE_SLACK_S`.
    """
    p = spec.params
    hop = float(p["lsa_hop_delay_s"])
    flood = nx.multi_source_dijkstra_path_length(h, set(link), weight=lambda a, b, d: d["delay_s"] + hop)
    base = float(p["detect_delay_s"]) + float(p["spf_delay_s"]) + float(p["fib_delay_s"])
    old_nxt, new_nxt, out = routes(g), routes(h), []
    for f, row in flows[flows["class"] == "probe"].iterrows():
        old = twin_path(old_nxt[row["dst"]], row["src"], row["dst"])
        hops = [(a, b) for a, b in zip(old, old[1:])]
        upstream = next((a for a, b in hops if {a, b} == set(link)), None)
        if upstream is None or f not in at_cut.index:
            continue
        size, gap = int(row["packet_bytes"]), row["packet_bytes"] * 8 / row["rate_bps"]
        new = twin_path(new_nxt[row["dst"]], row["src"], row["dst"])
        detour = path_delay(h, new, spec, size)
        latency = at_cut.at[f, "first_rx_after_s"] - at_cut.at[f, "event_time_s"]
        lower = base - path_delay(g, old[:old.index(upstream) + 1], spec, size) + detour - EXACT_S
        upper = base + max(flood[r] for r in new) + detour + gap + QUEUE_SLACK_S
        if not lower <= latency <= upper:
            out.append(f"probe {row['src']} -> {row['dst']}: reroute {latency:.4f} s outside [{lower:.4f}, {upper:.4f}]")
        last_sent = at_cut.at[f, "last_rx_before_s"] - path_delay(g, old, spec, size)
        expected_lost = (at_cut.at[f, "first_send_after_s"] - last_sent) / gap - 1
        lost = row["tx_packets"] + row["tx_failed"] - row["rx_packets"]
        if abs(lost - expected_lost) > 1 + QUEUE_SLACK_S / gap:
            out.append(f"probe {row['src']} -> {row['dst']}: lost {lost}, rate x sending outage {expected_lost:.1f}")
    return out


def probes_over(g: nx.Graph, folder: Path, link: tuple[str, str]) -> int:
    """How many probe flows of the run cross ``link`` (a cut check means nothing without one)."""
    nxt, flows = routes(g), _flows(folder)
    probe = flows[flows["class"] == "probe"]
    return sum(any({a, b} == set(link) for a, b in zip(p, p[1:]))
               for p in (twin_path(nxt[d], s, d) for s, d in zip(probe["src"], probe["dst"])))
