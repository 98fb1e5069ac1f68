"""Routes longer than IP's TTL on a user's graph: the sizing line warns, and the twin drops those packets
where IP does (ip_ttl_expired), so they count as lost; shorter routes deliver."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from ani.kg.scenario import Scenario
from ani.kg.topology import load_graphml
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.sizing import IP_TTL_HOPS
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.run import execute_run

pytestmark = [pytest.mark.ns3]

ROUTERS = 70  # a chain: the end-to-end route crosses 69 links, beyond TTL 64


def _chain(tmp_path: Path) -> nx.Graph:
    g = nx.Graph(name="Chain70")
    for i in range(ROUTERS):
        g.add_node(f"r{i}", label=f"r{i}", Latitude=40.0, Longitude=-100.0 + 0.1 * i)
    for i in range(ROUTERS - 1):
        g.add_edge(f"r{i}", f"r{i + 1}", LinkSpeedRaw=1e9)
    path = tmp_path / "chain.graphml"
    nx.write_graphml(g, path)
    return load_graphml(path)


def test_routes_beyond_the_ttl_are_announced_and_dropped_by_ip(tmp_path: Path) -> None:
    g = _chain(tmp_path)
    t = get_template("ospf_failure")
    params = {"warmup_s": 0.2, "observe_s": 0.3, "drain_s": 0.2, "max_flows": 400, "min_flow_pps": 1}
    spec = render(t, Scenario(name="calm", events=[]), g, t.params(params))
    assert spec.sizing is not None and spec.sizing.longest_route_hops == ROUTERS - 1
    assert f"longer than {IP_TTL_HOPS} links" in (spec.sizing.warning or "")
    rec = execute_run(spec, tmp_path / "runs")
    assert rec.status == "ok", rec.stderr_tail
    folder = Path(rec.folder)
    flows = pd.read_csv(folder / "flows.csv")
    hops = flows.apply(lambda f: abs(int(f["src"][1:]) - int(f["dst"][1:])), axis=1)
    long, short = flows[hops > IP_TTL_HOPS], flows[hops <= IP_TTL_HOPS]
    assert len(long) > 0 and len(short) > 0, "the sizing kept flows on both sides of the TTL"
    assert (long["rx_packets"] == 0).all() and (long["tx_packets"] > 0).all()
    assert (short["rx_packets"] == short["tx_packets"]).all()  # below saturation, nothing else is lost
    drops = pd.read_csv(folder / "drops.csv").set_index("reason")["packets"]
    assert drops["ip_ttl_expired"] == long["tx_packets"].sum()
