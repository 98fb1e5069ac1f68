"""The Abilene fiber cut in the real ns-3 twin: loss only while routing converges, then reroute.

Everything here runs the template program compiled against the ns3 wheel; no mocks.
Load is kept low (30 % on the busiest link) so that queueing does not blur the
timing: every loss is then caused by the failure and every delay is path delay.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from ani.kg.topology import load_topology
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.scenario_run import run_scenario

pytestmark = [pytest.mark.ns3, pytest.mark.slow]

CUT = ("Denver", "Kansas_City")
T_FAIL = 1.0
PARAMS = {"load_factor": 0.3, "detect_delay_s": 0.05, "spf_delay_s": 0.2, "fib_delay_s": 0.05,
          "interval_s": 0.01}
CONVERGENCE_S = 0.05 + 0.2 + 0.05
WIRE_OVERHEAD_B = 8 + 20 + 2  # UDP + IPv4 + PPP


@pytest.fixture(scope="module")
def abilene() -> nx.Graph:
    return load_topology("abilene")


@pytest.fixture(scope="module")
def cut(abilene: nx.Graph, tmp_path_factory: pytest.TempPathFactory):
    template = get_template("ospf_failure")
    params = template.params(PARAMS)
    scenario = Scenario(name="cut", events=[Event(event_type="fiber_link_failure",
                                                  target="Denver-Kansas_City", timestamp=T_FAIL)])
    result = run_scenario(abilene, scenario, template, params, tmp_path_factory.mktemp("results"))
    assert result.scenario.status == "ok", result.scenario.stderr_tail
    assert result.baseline is not None and result.baseline.status == "ok"
    return result, params


def path_delay_s(g: nx.Graph, path: list[str], packet_bytes: int, scale: float) -> float:
    """Propagation plus serialisation along ``path`` with empty queues."""
    bits = (packet_bytes + WIRE_OVERHEAD_B) * 8
    return sum(g.edges[u, v]["delay_s"] + bits / (g.edges[u, v]["capacity_bps"] * scale)
               for u, v in zip(path, path[1:]))


def unique_path(g: nx.Graph, src: str, dst: str) -> list[str] | None:
    """The shortest path by OSPF cost, or None when several tie (ns-3 may pick either)."""
    paths = list(nx.all_shortest_paths(g, src, dst, weight="ospf_cost"))
    return paths[0] if len(paths) == 1 else None


def crosses(path: list[str], link: tuple[str, str]) -> bool:
    return any({u, v} == set(link) for u, v in zip(path, path[1:]))


def classify(g: nx.Graph, flows: pd.DataFrame) -> tuple[list[int], list[int]]:
    """Demand flows over the cut link and clear of it (probes are checked in test_validation.py)."""
    over, clear = [], []
    flows = flows[flows["class"] == "demand"]
    for f, s, d in zip(flows["flow"], flows["src"], flows["dst"]):
        path = unique_path(g, s, d)
        if path is not None:
            (over if crosses(path, CUT) else clear).append(f)
    return over, clear


def test_flows_over_the_cut_lose_packets_only_while_converging(cut, abilene) -> None:
    result, params = cut
    folder = Path(result.scenario.folder)
    flows = pd.read_csv(folder / "flows.csv")
    over, _ = classify(abilene, flows)
    assert len(over) >= 10, "the cut link must carry traffic for this test to mean anything"
    ts = pd.read_csv(folder / "timeseries.csv")
    ts["lost"] = ts["tx_packets"] - ts["rx_by_send"]
    lost = ts[ts["flow"].isin(over) & (ts["lost"] > 0)]
    # a lost packet was sent after the cut minus its travel time to the link, and before reconvergence
    assert lost["t_start_s"].min() >= T_FAIL - 0.05
    assert lost["t_start_s"].max() < T_FAIL + CONVERGENCE_S
    # every flow over the link lost about rate x convergence window of packets
    fl = flows.set_index("flow")
    for f in over:
        n_lost = fl.at[f, "tx_packets"] + fl.at[f, "tx_failed"] - fl.at[f, "rx_packets"]
        expected = fl.at[f, "rate_bps"] / (8 * fl.at[f, "packet_bytes"]) * CONVERGENCE_S
        assert 0.7 * expected <= n_lost <= expected + 2, (f, n_lost, expected)


def test_flows_over_the_cut_reroute_after_the_convergence_delay(cut, abilene) -> None:
    """Reroute time = first delivery of a packet sent after the cut, minus the cut time.

    Tolerance: that packet must wait for reconvergence (CONVERGENCE_S) and then
    still travel the rest of its new path, so it arrives between CONVERGENCE_S
    and CONVERGENCE_S + new-path delay + one inter-packet gap (+1 ms slack);
    routers away from the cut install their routes later, by the time the LSA
    takes to reach them (link delays + per-hop processing), which is added too.
    """
    result, params = cut
    folder = Path(result.scenario.folder)
    flows = pd.read_csv(folder / "flows.csv").set_index("flow")
    reroutes = pd.read_parquet(folder / "reroutes.parquet").set_index("flow")
    over, _ = classify(abilene, flows.reset_index())
    pruned = abilene.copy()
    pruned.remove_edge(*CUT)
    hop = params["lsa_hop_delay_s"]
    flooding = max(nx.multi_source_dijkstra_path_length(
        pruned, set(CUT), weight=lambda u, v, d: d["delay_s"] + hop).values())
    for f in over:
        src, dst = flows.at[f, "src"], flows.at[f, "dst"]
        new_path = nx.shortest_path(pruned, src, dst, weight="ospf_cost")
        new_delay = path_delay_s(abilene, new_path, params["packet_bytes"], params["capacity_scale"])
        gap = flows.at[f, "packet_bytes"] * 8 / flows.at[f, "rate_bps"]
        row = reroutes.loc[f]
        assert row["disrupted"] and row["recovered"]
        bound = CONVERGENCE_S + flooding + new_delay + gap + 1e-3
        assert CONVERGENCE_S <= row["reroute_time_s"] <= bound, (f, row)


def test_after_reconvergence_traffic_takes_a_path_without_the_cut_link(cut, abilene) -> None:
    result, params = cut
    folder = Path(result.scenario.folder)
    flows = pd.read_csv(folder / "flows.csv").set_index("flow")
    ts = pd.read_csv(folder / "timeseries.csv")
    late = ts[ts["t_start_s"] >= T_FAIL + CONVERGENCE_S + 0.1]
    over, _ = classify(abilene, flows.reset_index())
    pruned = abilene.copy()
    pruned.remove_edge(*CUT)
    for f in over:
        bins = late[late["flow"] == f]
        assert (bins["tx_packets"] == bins["rx_by_send"]).all(), f"flow {f} still loses packets"
        mean_delay = bins["delay_sum_s"].sum() / bins["rx_packets"].sum()
        new_path = nx.shortest_path(pruned, flows.at[f, "src"], flows.at[f, "dst"], weight="ospf_cost")
        expected = path_delay_s(abilene, new_path, params["packet_bytes"], params["capacity_scale"])
        # low load: at most a few packets of queueing on top of the new path's delay
        assert expected - 1e-6 <= mean_delay <= expected + 1e-3, (f, mean_delay, expected)


def test_flows_not_on_the_cut_link_are_unaffected(cut, abilene) -> None:
    result, _ = cut
    folder = Path(result.scenario.folder)
    flows = pd.read_csv(folder / "flows.csv")
    _, clear = classify(abilene, flows)
    assert len(clear) >= 30
    cmp = pd.read_parquet(folder / "comparison.parquet").set_index("flow")
    reroutes = pd.read_parquet(folder / "reroutes.parquet").set_index("flow")
    fl = flows.set_index("flow")
    for f in clear:
        assert fl.at[f, "tx_packets"] + fl.at[f, "tx_failed"] == fl.at[f, "rx_packets"], f
        assert not cmp.at[f, "impacted"], f
        assert not reroutes.at[f, "disrupted"], f


def test_minimum_delay_equals_path_propagation_plus_serialisation(cut, abilene) -> None:
    """The fastest packet of a flow meets empty queues: its delay is pure path delay.

    Tolerance: 2 us per hop for time rounding. Constant-bit-rate flows with
    equal periods can stay phase-locked, so a few flows never see an empty
    queue; their minimum may exceed the path delay by up to one packet's
    serialisation time per hop. At least 90 % of flows must match exactly.
    """
    result, params = cut
    flows = pd.read_csv(Path(result.baseline.folder) / "flows.csv")
    flows = flows[flows["class"] == "demand"]
    exact = checked = 0
    for src, dst, measured in zip(flows["src"], flows["dst"], flows["delay_min_s"]):
        path = unique_path(abilene, src, dst)
        if path is None:
            continue
        expected = path_delay_s(abilene, path, params["packet_bytes"], params["capacity_scale"])
        one_packet = path_delay_s(abilene, path[:2], params["packet_bytes"], params["capacity_scale"]) \
            - abilene.edges[path[0], path[1]]["delay_s"]
        tol = 2e-6 * len(path)
        hops = len(path) - 1
        assert expected - tol <= measured <= expected + hops * one_packet + tol, (src, dst, measured, expected)
        exact += measured == pytest.approx(expected, abs=tol)
        checked += 1
    assert checked >= 80 and exact >= 0.9 * checked, (exact, checked)


def test_summary_reports_the_damage(cut) -> None:
    result, _ = cut
    c = result.scenario.comparison
    assert c is not None and result.scenario.baseline_run_id == result.baseline.run_id
    assert c.impacted_flows >= 10 and c.disrupted_flows == c.impacted_flows
    assert c.scenario_loss_ratio > c.baseline_loss_ratio == 0
    assert c.reroute_time_max_s == pytest.approx(CONVERGENCE_S, abs=0.05)
    for name in ("run.json", "delay_histogram.csv", "scenario.cc", "input.txt", "run.sh", "stdout.txt",
                 "stderr.txt", "flow_kpis.parquet", "interval_kpis.parquet", "comparison.parquet"):
        assert (Path(result.scenario.folder) / name).is_file(), name
