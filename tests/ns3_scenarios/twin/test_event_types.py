"""Each event type, executed by the real ns-3 twin, shows its effect in the KPIs."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from ani.kg.topology import load_topology
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import execute_run
from ani.orchestrator.measure.summary import program_summary_differences

pytestmark = [pytest.mark.ns3]

SHORT = {"warmup_s": 0.2, "observe_s": 0.8, "drain_s": 0.2, "load_factor": 0.4, "interval_s": 0.05}
LINK = "Denver-Kansas_City"


def run(tmp_path: Path, events: list[Event], g: nx.Graph | None = None, **params) -> RunRecord:
    template = get_template("ospf_failure")
    spec = render(template, Scenario(name="s", events=events), g if g is not None else load_topology("abilene"),
                  template.params({**SHORT, **params}))
    rec = execute_run(spec, tmp_path)
    assert rec.status == "ok", rec.stderr_tail
    assert program_summary_differences(rec.folder) == []  # the campaigns' fast path, for every event type
    return rec


def table(rec: RunRecord, name: str) -> pd.DataFrame:
    return pd.read_csv(Path(rec.folder) / name)


def flows_over(g: nx.Graph, flows: pd.DataFrame, link: tuple[str, str]) -> tuple[set[int], set[int]]:
    over, clear = set(), set()
    for f, s, d in zip(flows["flow"], flows["src"], flows["dst"]):
        path = nx.shortest_path(g, s, d, weight="ospf_cost")
        (over if any({a, b} == set(link) for a, b in zip(path, path[1:])) else clear).add(f)
    return over, clear


def test_gray_failure_loses_packets_on_the_link_without_any_reroute(tmp_path: Path) -> None:
    g = load_topology("abilene")
    rec = run(tmp_path, [Event(event_type="link_degradation", target=LINK, timestamp=0.3, severity="high")])
    assert list(table(rec, "events.csv")["phase"]) == ["inject"]  # no detect, no reconverge
    flows = table(rec, "flows.csv")
    over, clear = flows_over(g, flows, ("Denver", "Kansas_City"))
    lost = flows["tx_packets"] - flows["rx_packets"]
    sent_after = flows["tx_packets"] * (1.0 - 0.1 / 0.8)  # packets sent after the degradation
    ratio = lost[flows["flow"].isin(over)].sum() / sent_after[flows["flow"].isin(over)].sum()
    assert ratio == pytest.approx(0.2, abs=0.04)  # severity high: 20 % loss on the link
    assert lost[flows["flow"].isin(clear)].sum() == 0
    # the link stays in use: extra delay (50 ms) shows in the flows over it
    ts = table(rec, "timeseries.csv")
    late = ts[ts["flow"].isin(over) & (ts["t_start_s"] >= 0.4) & (ts["rx_packets"] > 0)]
    early = ts[ts["flow"].isin(over) & (ts["t_start_s"] < 0.3) & (ts["rx_packets"] > 0)]
    mean = lambda b: b["delay_sum_s"].sum() / b["rx_packets"].sum()
    assert mean(late) - mean(early) == pytest.approx(0.05, abs=0.005)


def test_an_explicit_magnitude_sets_the_loss_of_a_gray_failure(tmp_path: Path) -> None:
    """``magnitude: 0.12`` instead of a severity's 20 %: 12 % of what crosses the link is lost."""
    g = load_topology("abilene")
    rec = run(tmp_path, [Event(event_type="link_degradation", target=LINK, timestamp=0.3, severity="high",
                               magnitude=0.12)])
    flows = table(rec, "flows.csv")
    over, _ = flows_over(g, flows, ("Denver", "Kansas_City"))
    lost = flows["tx_packets"] - flows["rx_packets"]
    sent_after = flows["tx_packets"] * (1.0 - 0.1 / 0.8)
    ratio = lost[flows["flow"].isin(over)].sum() / sent_after[flows["flow"].isin(over)].sum()
    assert ratio == pytest.approx(0.12, abs=0.03)


def test_misconfiguration_steers_traffic_off_the_link_after_spf(tmp_path: Path) -> None:
    rec = run(tmp_path, [Event(event_type="misconfiguration", target=LINK, timestamp=0.3, severity="critical")])
    ev = table(rec, "events.csv")
    assert list(ev["phase"]) == ["inject", "reconverge"]
    # the last router installs its routes after SPF + FIB delay plus the LSA's flooding time
    # (Abilene: at most a few hops of <= 10 ms propagation + 2 ms processing each)
    assert ev["time_s"][0] == pytest.approx(0.3)
    assert 0.3 + 0.2 + 0.05 < ev["time_s"][1] < 0.3 + 0.2 + 0.05 + 0.05
    series = table(rec, "link_timeseries.csv")
    on_link = series[series["link"] == LINK]
    before = on_link[on_link["t_start_s"] < 0.3]["tx_packets"].sum()
    after = on_link[on_link["t_start_s"] >= 0.6]["tx_packets"].sum()
    assert before > 100 and after == 0
    flows = table(rec, "flows.csv")
    assert (flows["tx_packets"] + flows["tx_failed"] == flows["rx_packets"]).all()  # a cost change loses nothing


def test_srlg_cut_takes_every_member_link_down_at_once(tmp_path: Path) -> None:
    g = load_topology("abilene")
    g.graph["srlgs"] = {"kc-conduit": ["Denver-Kansas_City", "Kansas_City-Houston"]}
    rec = run(tmp_path, [Event(event_type="srlg_cut", target="srlg:kc-conduit", timestamp=0.3)], g=g)
    ev = table(rec, "events.csv")
    assert list(ev["phase"]) == ["inject", "detect", "reconverge"] and ev["target"][0] == "srlg:kc-conduit"
    series = table(rec, "link_timeseries.csv")
    late = series[(series["t_start_s"] >= 0.6)]
    for link in ("Denver-Kansas_City", "Kansas_City-Houston"):
        assert late[late["link"] == link]["tx_packets"].sum() == 0, link
    assert late[late["link"] == "Kansas_City-Indianapolis"]["tx_packets"].sum() > 0


def test_router_overload_drops_at_the_cpu_without_rerouting(tmp_path: Path) -> None:
    rec = run(tmp_path, [Event(event_type="router_overload", target="Kansas_City", timestamp=0.3,
                               severity="critical", duration_s=0.4)])
    ev = table(rec, "events.csv")
    assert list(ev["phase"]) == ["inject", "end"]
    nodes = table(rec, "node_timeseries.csv")
    assert set(nodes["node"]) == {"Kansas_City"}  # only the overloaded router has a CPU model
    during = nodes[(nodes["t_start_s"] >= 0.35) & (nodes["t_start_s"] < 0.7)]
    before = nodes[nodes["t_start_s"] < 0.3]
    assert during["cpu_drops"].sum() > 0 and before["cpu_drops"].sum() == 0
    assert during["cpu_utilisation"].min() > 0.95 > before["cpu_utilisation"].max()
    after = nodes[nodes["t_start_s"] >= 0.85]
    assert after["cpu_drops"].sum() == 0


def test_traffic_spike_adds_attack_flows_that_congest_the_victim(tmp_path: Path) -> None:
    rec = run(tmp_path, [Event(event_type="traffic_spike", target="Denver", timestamp=0.3, severity="high",
                               duration_s=0.5)])
    flows = table(rec, "flows.csv")
    attack = flows[flows["class"] == "attack"]
    assert len(attack) == 10 and (attack["dst"] == "Denver").all()
    assert attack["start_s"].min() == pytest.approx(0.3) and attack["stop_s"].max() == pytest.approx(0.8)
    links = table(rec, "link_timeseries.csv")
    into = links[(links["to"] == "Denver") & (links["t_start_s"] >= 0.35) & (links["t_start_s"] < 0.75)]
    assert into["drops"].sum() > 0
    legit = flows[(flows["class"] == "demand") & (flows["dst"] == "Denver")]
    assert (legit["tx_packets"] - legit["rx_packets"]).sum() > 0


def square() -> nx.Graph:
    """Four routers in a ring, 10 Mb/s links, 1 ms each, equal costs."""
    g = nx.Graph(name="Square")
    for n in "ABCD":
        g.add_node(n, kind="router", label=n, lat=None, lon=None)
    for u, v in ("AB", "BC", "CD", "DA"):
        g.add_edge(u, v, link_id=f"{u}-{v}", capacity_bps=10e6, delay_s=0.001, ospf_cost=10, parallel=1)
    return g


def test_overload_after_a_reroute_emerges_as_a_second_failure(tmp_path: Path) -> None:
    """Cut A-B at 0.3 s: its traffic moves onto the ring's other side, whose queues
    overflow; the twin itself then fails a link (emerged, depth 1, caused by the cut)."""
    rec = run(tmp_path, [Event(event_type="fiber_link_failure", target="A-B", timestamp=0.3)], g=square(),
              capacity_scale=1.0, load_factor=0.8, cascades=True, observe_s=1.5)
    cascades = table(rec, "cascades.csv")
    emerged = cascades[cascades["origin"] == "emerged"]
    assert len(emerged) >= 1
    first = emerged.iloc[0]
    assert first["cause"] == 0 and first["depth"] == 1 and first["event_type"] == "fiber_link_failure"
    assert first["time_s"] > 0.3 + 0.3  # after the reroute, not before
    ev = table(rec, "events.csv")
    assert (ev[ev["event"] == first["event"]]["phase"] == "inject").any()
    assert rec.kpis.emerged_failures == len(emerged) and rec.kpis.cascade_depth >= 1
    util = pd.read_parquet(Path(rec.folder) / "link_interval_kpis.parquet")
    assert util["utilisation"].between(0, 1.05).all() and util["congested"].any()
    # without cascades the same run has no emerged failure
    calm = run(tmp_path / "calm", [Event(event_type="fiber_link_failure", target="A-B", timestamp=0.3)],
               g=square(), capacity_scale=1.0, load_factor=0.8, cascades=False, observe_s=1.5)
    assert (table(calm, "cascades.csv")["origin"] == "injected").all()


def test_spf_back_off_delays_the_recomputations_of_a_failure_burst(tmp_path: Path) -> None:
    """Four misconfigurations, each arriving just after the routers' previous SPF (delay 0.2 s): with a
    fixed 0.2 s hold the last is in the routes at about 1.4 s + FIB; with an exponential back-off
    (hold 0.2 s doubling up to 1.6 s) the hold has grown to 0.8 s by then and the last SPF waits until
    about 1.95 s."""
    burst = [Event(event_type="misconfiguration", target=link, timestamp=t, severity="critical")
             for link, t in (("Denver-Kansas_City", 0.3), ("Seattle-Denver", 0.55), ("Houston-Kansas_City", 0.8),
                             ("Chicago-Indianapolis", 1.2))]

    def last_reconverge(rec: RunRecord) -> float:
        ev = table(rec, "events.csv")
        return float(ev.loc[ev["phase"] == "reconverge", "time_s"].max())

    fixed = run(tmp_path / "fixed", burst, observe_s=2.5)
    backoff = run(tmp_path / "backoff", burst, observe_s=2.5, spf_max_hold_s=1.6)
    assert last_reconverge(backoff) > last_reconverge(fixed) + 0.4
    # a maximum below the hold means no back-off: the same run as the fixed hold
    same = run(tmp_path / "same", burst, observe_s=2.5, spf_max_hold_s=0.1)
    assert same.kpis == fixed.kpis and last_reconverge(same) == last_reconverge(fixed)
