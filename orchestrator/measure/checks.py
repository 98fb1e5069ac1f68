"""A run's numbers against independent computations: each check returns what disagrees (empty = confirmed).

Nothing here reads the twin's routing or its convergence code: expected values
come from the knowledge graph with networkx (shortest paths by OSPF cost, the
twin's documented tie-break: among equal-cost next hops, the link listed
first; :func:`~ani.ns3_scenarios.twin_paths.twin_next_hops`), from the
convergence model's parameters, and from conservation laws.

- :func:`baseline_checks`: a run with no event below saturation loses nothing,
  every flow sends rate × window packets, no flow's fastest packet beat the
  propagation + serialization delay of its path or waited more than full
  queues allow, and every link two or more flows use is on the path of a flow
  whose fastest packet took exactly that delay: an error in one link's delay
  or capacity leaves that link with none. (Flows on long, loaded paths may never find
  every queue empty: on DialtelecomCz's 15-35-hop paths a third of them did
  not, so a share of exact flows is not a criterion.)
- :func:`conservation_checks`: sent = received + dropped, each drop with its
  reason (``drops.csv``): nothing is in flight at the end.
- :func:`cut_checks`: after a fibre cut, packets take the shortest path of the
  graph without the link; each probe over the link reroutes within the
  convergence model's bounds; its loss is its rate × its sending outage, less
  the packets of the outage a transient loop delivered late after all
  (:func:`~ani.orchestrator.measure.check_loads.late_deliveries`). Where the
  detour is overloaded (offered load >= capacity by
  :func:`~ani.orchestrator.measure.check_loads.offered_loads`: the cut
  congests the network), queueing up to full queues and queue drops are
  expected there: the bounds become one-sided, and every link that still drops
  once the network has settled must be one the offered loads overload.

Used by ``tests/ns3_scenarios/twin/test_validation.py`` on networks of several
sizes and by ``ani templates validate --golden``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import networkx as nx
import pandas as pd

from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.measure.check_loads import late_deliveries, offered_loads
from ani.orchestrator.measure.kpis import REROUTE_MAX_GAP_S
from ani.orchestrator.measure.run_csv import read_run_csv
from ani.ns3_scenarios.sizing import WIRE_OVERHEAD_BYTES
from ani.ns3_scenarios.twin_paths import link_order, twin_next_hops, twin_path

#: send timestamps and arrivals are in ns: a path's delay is exact to this
EXACT_S = 2e-6
#: a link is held to "some flow over it exact" when this many flows cross it (one long flow may never find
#: every queue empty: TataNld's 33-hop probe, alone on four links, waited 0.48 packet at its fastest)
MIN_FLOWS_PER_LINK = 2
#: "took its path's delay": to 2 us or a tenth of a packet's serialization (Carnet: two 66-packet flows, the
#: only ones over a link, waited 0.004 and 0.08 of a packet behind another at their fastest)
NEAR_EXACT_PACKETS = 0.1
#: queueing allowance of one packet after a cut, in serialization times per hop (uncongested detour)
DETOUR_SLACK_PACKETS = 20
#: offered load / capacity from which a link direction counts as overloaded (CBR flows: no burst above it)
OVERLOAD = 0.98
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
    return read_run_csv(folder / "flows.csv")


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


def queue_bound(g: nx.Graph, path: list[str], spec: RunSpec, payload: int) -> float:
    """The longest a packet can wait along ``path``: every queue full (``queue_packets``) plus one packet in
    transmission, at every hop, all of ``payload`` bytes (the run's largest packets)."""
    full = int(spec.params["queue_packets"]) + 1
    scale = float(spec.params["capacity_scale"])
    return sum(full * 8 * (payload + WIRE_OVERHEAD_BYTES) / (g.edges[u, v]["capacity_bps"] * scale)
               for u, v in zip(path, path[1:]))


def min_delay_checks(g: nx.Graph, spec: RunSpec, flows: pd.DataFrame) -> list[str]:
    """Each flow's fastest packet: never faster than its path, never slower than full queues allow; and
    every link some flow uses is on the path of a flow whose fastest packet took exactly its path's delay
    (an error in one link's delay or capacity would leave that link with none)."""
    if flows.empty:
        return []
    nxt = routes(g)
    paths = [twin_path(nxt[d], s, d) for s, d in zip(flows["src"], flows["dst"])]
    sizes = flows["packet_bytes"].tolist()
    expected = pd.Series([path_delay(g, p, spec, n) for p, n in zip(paths, sizes)], index=flows.index)
    largest = int(flows["packet_bytes"].max())
    bound = pd.Series([queue_bound(g, p, spec, largest) for p in paths], index=flows.index)
    diff = flows["delay_min_s"] - expected
    out = []
    if (diff <= -EXACT_S).any():
        out.append(f"{int((diff <= -EXACT_S).sum())} flows faster than their shortest path allows")
    near = pd.Series([EXACT_S + NEAR_EXACT_PACKETS * serialization(g, p, spec, n) for p, n in zip(paths, sizes)],
                     index=flows.index)
    exact = diff.abs() < near
    crossing = Counter(frozenset(hop) for p in paths for hop in zip(p, p[1:]))
    links = {k for k, n in crossing.items() if n >= MIN_FLOWS_PER_LINK}
    confirmed = {frozenset(hop) for p, ok in zip(paths, exact) if ok for hop in zip(p, p[1:])}
    if links - confirmed:
        u, v = sorted(next(iter(links - confirmed)))
        out.append(f"{len(links - confirmed)} of {len(links)} links used by {MIN_FLOWS_PER_LINK}+ flows carry no "
                   f"flow whose fastest packet took its path's delay, e.g. {u}-{v}")
    if (diff >= bound).any():
        bad = flows[diff >= bound].iloc[0]
        out.append(f"{int((diff >= bound).sum())} flows slower than path + full queues, e.g. "
                   f"{bad['src']} -> {bad['dst']}")
    return out


def cut_checks(g: nx.Graph, spec: RunSpec, folder: Path, link: tuple[str, str], cut_probe: int,
               late_probe: int | None = None, settle_s: float = 1.0) -> list[str]:
    """A fibre cut of ``link``: conservation, the detour's delay (probe ``late_probe``, after reconvergence),
    each probe flow's reroute time and loss around probe ``cut_probe`` (the cut's time), and drops from
    ``settle_s`` after the cut only on link directions the offered loads overload."""
    out = conservation_checks(folder)
    h = g.copy()
    h.remove_edge(*link)
    flows = _flows(folder).set_index("flow")
    nxt = routes(h)
    hot = {arc for arc, r in offered_loads(h, spec, flows, nxt).items() if r >= OVERLOAD}
    probes = read_run_csv(folder / "event_probes.csv")
    at_cut = probes[probes["event"] == cut_probe].set_index("flow")
    if late_probe is not None:
        out += _detour_checks(h, spec, flows, probes[probes["event"] == late_probe].set_index("flow"), nxt, hot)
    if len(at_cut):
        out += _settled_drop_checks(folder, float(at_cut["event_time_s"].iloc[0]) + settle_s, hot)
    return out + _reroute_checks(g, h, spec, flows, at_cut, link, folder, nxt, hot)


def _allowance(h: nx.Graph, spec: RunSpec, path: list[str], size: int, hot: set[tuple[str, str]],
               largest: int) -> float:
    """Queueing a packet of ``size`` bytes may meet on ``path``: full queues of the run's ``largest`` packets
    where a hop is overloaded, a few of them elsewhere."""
    if not any(hop in hot for hop in zip(path, path[1:])):
        return DETOUR_SLACK_PACKETS * (len(path) - 1) * serialization(h, path, spec, max(size, largest))
    return queue_bound(h, path, spec, largest) + QUEUE_SLACK_S


def _detour_checks(h: nx.Graph, spec: RunSpec, flows: pd.DataFrame, late: pd.DataFrame,
                   nxt: dict[str, dict[str, str]], hot: set[tuple[str, str]]) -> list[str]:
    late = late[[flows.at[f, "dst"] in nxt and flows.at[f, "src"] in nxt[flows.at[f, "dst"]] for f in late.index]]
    paths = {f: twin_path(nxt[flows.at[f, "dst"]], flows.at[f, "src"], flows.at[f, "dst"]) for f in late.index}
    size = {f: int(flows.at[f, "packet_bytes"]) for f in late.index}
    gap = (late["first_rx_after_s"] - late["first_send_after_s"]
           - pd.Series({f: path_delay(h, p, spec, size[f]) for f, p in paths.items()}, dtype=float))
    largest = int(flows["packet_bytes"].max())
    slack = pd.Series({f: _allowance(h, spec, p, size[f], hot, largest) for f, p in paths.items()}, dtype=float)
    out = []
    # nothing delivered is a disagreement only where queues cannot explain it (an overloaded detour may drop
    # every packet) and the flow sends often enough to deliver within the window (the KPIs' evidence threshold)
    often = flows["packet_bytes"] * 8 / flows["rate_bps"] <= REROUTE_MAX_GAP_S
    silent = [f for f in gap.index[gap.isna()] if often[f] and not any(x in hot for x in zip(paths[f], paths[f][1:]))]
    if silent:
        out.append(f"{len(silent)} flows deliver nothing after reconvergence")
    gap = gap.dropna()
    if (gap <= -EXACT_S).any() or (gap >= slack[gap.index]).any():
        out.append(f"{int(((gap <= -EXACT_S) | (gap >= slack[gap.index])).sum())} flows not on the detour's "
                   "delay after reconvergence")
    return out


def _settled_drop_checks(folder: Path, settled: float, hot: set[tuple[str, str]]) -> list[str]:
    """Queue drops from ``settled`` on: only on link directions whose offered load passes their capacity."""
    ts = read_run_csv(folder / "link_timeseries.csv")
    late = ts[(ts["t_start_s"] >= settled) & (ts["drops"] > 0)]
    bad = late[[(u, v) not in hot for u, v in zip(late["from"], late["to"])]]
    if bad.empty:
        return []
    first = bad.iloc[0]
    return [f"{bad.groupby(['from', 'to']).ngroups} link directions drop after the network settled without being "
            f"overloaded, e.g. {first['from']} -> {first['to']} ({int(bad['drops'].sum())} packets)"]


def _reroute_checks(g: nx.Graph, h: nx.Graph, spec: RunSpec, flows: pd.DataFrame, at_cut: pd.DataFrame,
                    link: tuple[str, str], folder: Path, new_nxt: dict[str, dict[str, str]],
                    hot: set[tuple[str, str]]) -> list[str]:
    """Each probe over ``link``: lower <= reroute time <= upper, and lost = rate x sending outage less late
    deliveries (+-1), plus at most what it sends from its first delivery after the cut until every router has
    settled (detection + SPF + its longest hold + FIB + the slowest flooding); on an overloaded detour only
    the lower bounds (queues may drop the first packets).
    Probes sending less often than the KPIs' ``REROUTE_MAX_GAP_S`` (thin links) time no reroute: skipped.

    lower: detection + SPF + FIB + the least, over routers r, of the LSA flooding to r plus the fastest way from
    r to the destination in the graph without the link (a packet reaches the destination only once some router
    forwards it off its old path, and a router does so only once it knows of the cut);
    upper: detection + the slowest LSA flooding to a router on the detour + SPF + FIB + the detour + one probe gap
    + the detour's queueing allowance.
    """
    p = spec.params
    hop = float(p["lsa_hop_delay_s"])
    flood = nx.multi_source_dijkstra_path_length(h, set(link), weight=lambda a, b, d: d["delay_s"] + hop)
    base = float(p["detect_delay_s"]) + float(p["spf_delay_s"]) + float(p["fib_delay_s"])
    series = read_run_csv(folder / "timeseries.csv")
    old_nxt, out = routes(g), []
    largest = int(flows["packet_bytes"].max())
    scale = float(p["capacity_scale"])
    for f, row in flows[flows["class"] == "probe"].iterrows():
        old = twin_path(old_nxt[row["dst"]], row["src"], row["dst"])
        hops = [(a, b) for a, b in zip(old, old[1:])]
        upstream = next((a for a, b in hops if {a, b} == set(link)), None)
        if upstream is None or f not in at_cut.index or row["src"] not in new_nxt.get(row["dst"], {}):
            continue
        size, gap = int(row["packet_bytes"]), row["packet_bytes"] * 8 / row["rate_bps"]
        if gap > REROUTE_MAX_GAP_S:   # the KPIs' own evidence threshold: too coarse to time a reroute
            continue
        new = twin_path(new_nxt[row["dst"]], row["src"], row["dst"])
        congested = any(hop in hot for hop in zip(new, new[1:]))
        detour = path_delay(h, new, spec, size)
        if pd.isna(at_cut.at[f, "first_rx_after_s"]) or pd.isna(at_cut.at[f, "last_rx_before_s"]):
            if not congested and pd.isna(at_cut.at[f, "first_rx_after_s"]):
                out.append(f"probe {row['src']} -> {row['dst']}: nothing delivered after the cut")
            continue
        latency = at_cut.at[f, "first_rx_after_s"] - at_cut.at[f, "event_time_s"]
        fastest = nx.single_source_dijkstra_path_length(
            h, row["dst"], weight=lambda a, b, d: d["delay_s"] + 8 * (size + WIRE_OVERHEAD_BYTES) / (d["capacity_bps"] * scale))
        lower = base + min(flood[r] + t for r, t in fastest.items() if r in flood) - EXACT_S
        upper = base + max(flood[r] for r in new) + detour + gap + _allowance(h, spec, new, size, hot, largest)
        if latency < lower or (latency > upper and not congested):
            out.append(f"probe {row['src']} -> {row['dst']}: reroute {latency:.4f} s outside [{lower:.4f}, {upper:.4f}]")
        lost = row["tx_packets"] + row["tx_failed"] - row["rx_packets"]
        low, high = _outage_loss(at_cut.loc[f], row, series[series["flow"] == f], float(p["interval_s"]),
                                 path_delay(g, old, spec, size), gap)
        # after its first delivery a probe may still lose packets while routers further away change their
        # routes (a second SPF held back by spf_max_hold_s): at most those it sends until every router is done
        settled = float(at_cut.at[f, "event_time_s"]) + base + float(p["spf_max_hold_s"]) + max(flood.values())
        transient = max(0, math.floor((settled - float(at_cut.at[f, "first_send_after_s"])) / gap))
        if lost < low - 1 or (lost > high + transient + 1 and not congested):
            out.append(f"probe {row['src']} -> {row['dst']}: lost {lost}, rate x sending outage less late "
                       f"deliveries {low}-{high} (+ up to {transient} while routes settle)")
    return out


def _outage_loss(at: pd.Series, flow: pd.Series, series: pd.DataFrame, interval_s: float, old_delay: float,
                 gap: float) -> tuple[int, int]:
    """(fewest, most) packets a probe loses to a cut: those it sent between its last packet delivered before
    the cut and its first delivered after, less those of them delivered late after all.

    The probe sends every ``gap`` seconds, on the grid of ``first_send_after``;
    its last packet before the cut was sent at most its path's delay before
    it arrived, and at least its slowest packet's delay (``delay_max_s``).
    """
    first = float(at["first_send_after_s"])
    latest = float(at["last_rx_before_s"]) - old_delay + EXACT_S
    earliest = float(at["last_rx_before_s"]) - max(float(flow["delay_max_s"]), old_delay) - EXACT_S
    fewest = max(0, math.ceil((first - latest) / gap - 1e-6) - 1)     # grid points strictly in the window
    most = max(0, math.floor((first - earliest) / gap + 1e-6) - 1)
    late_min = late_deliveries(series, interval_s, first, first - (fewest + 1) * gap, gap)[0]
    late_max = late_deliveries(series, interval_s, first, first - (most + 1) * gap, gap)[1]
    return fewest - late_max, most - late_min


def busiest_cut(g: nx.Graph, flows: pd.DataFrame) -> tuple[str, str] | None:
    """The link, not a bridge, that most of ``flows`` cross on the twin's routes (None: every link is a
    bridge): the cut that checks most of a run."""
    bridges = {frozenset(b) for b in nx.bridges(g)}
    nxt, count = routes(g), Counter()
    for s, d in zip(flows["src"], flows["dst"]):
        p = twin_path(nxt[d], s, d)
        count.update(frozenset(hop) for hop in zip(p, p[1:]) if frozenset(hop) not in bridges)
    if not count:
        return None
    u, v = sorted(max(count, key=lambda k: (count[k], sorted(k))))
    return u, v


def probes_over(g: nx.Graph, folder: Path, link: tuple[str, str]) -> int:
    """How many probe flows of the run cross ``link`` (a cut check means nothing without one)."""
    nxt, flows = routes(g), _flows(folder)
    probe = flows[flows["class"] == "probe"]
    return sum(any({a, b} == set(link) for a, b in zip(p, p[1:]))
               for p in (twin_path(nxt[d], s, d) for s, d in zip(probe["src"], probe["dst"])))
