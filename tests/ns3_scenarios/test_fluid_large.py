"""The fluid tier at its size limit: a clear one-line refusal above it, a 5,000-PoP screen below it."""

from __future__ import annotations

import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from ani.kg.io import load_network
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.fluid import FluidKpis, FluidRefusal, FluidTwin
from ani.ns3_scenarios.fluid import network as fluid_network
from ani.ns3_scenarios.fluid.model import MAX_NODES
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.cli import main
from ani.orchestrator.evaluate.screen import fluid_damage
from click.testing import CliRunner

BENCH = Path(__file__).resolve().parents[2] / "bench"


def zoo_like(n: int) -> nx.Graph:
    """A path of ``n`` PoPs written as Topology Zoo writes them (labels, coordinates, link speeds)."""
    g = nx.Graph()
    for i in range(n):
        g.add_node(str(i), label=f"pop{i}", Latitude=40.0 + i * 1e-3, Longitude=-100.0)
    for i in range(n - 1):
        g.add_edge(str(i), str(i + 1), LinkSpeedRaw=1e9)
    return g


def test_refuses_a_graph_above_its_limit_naming_the_limit() -> None:
    params = get_template("ospf_failure").params({})
    with pytest.raises(FluidRefusal, match=f"graph of {MAX_NODES + 1:,} nodes.*limit is {MAX_NODES:,} nodes") as e:
        FluidTwin(nx.path_graph(MAX_NODES + 1), params)
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_cli_screen_refuses_it_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "big.graphml"
    nx.write_graphml(zoo_like(MAX_NODES + 1), path)
    res = CliRunner().invoke(main, ["screen", "--topology", str(path), "--generator", "random", "-n", "1"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and f"limit is {MAX_NODES:,} nodes" in lines[0] and "Traceback" not in res.output


@pytest.mark.slow
def test_screens_a_large_backbone_with_next_hops_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A core cut, a double cut and an access router down on the synthetic backbone, the next hops computed a
    few destinations at a time (as at 5,000 PoPs, where the whole table would not fit: bench/bench_scale.py
    measures that size; 1,000 PoPs keep this test in seconds) -- and the same KPIs as in one piece."""
    sys.path.insert(0, str(BENCH))
    from synthetic_backbone import write  # noqa: PLC0415 (a script of bench/)

    write(tmp_path / "Synthetic1000.graphml", 1000, seed=1)
    g = load_network(str(tmp_path / "Synthetic1000.graphml"))
    # without probes and auto-sizing: their set-up (the packet tier's probe cover) is not what this test is about
    params = {**get_template("ospf_failure").params({"auto_size": "false"}), "probe_interval_s": 0.0}
    whole = FluidTwin(g, params)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    busiest = int(whole.base_fast.load.argmax()) // 2
    access = whole.net.nodes[int(np.bincount(whole.flows.src[:whole.n_demands]).argmax())]  # most demands
    found = [
        Scenario(name="core-cut", events=[Event(event_type="fiber_link_failure", target=links[busiest],
                                                timestamp=1.0)]),
        Scenario(name="double", events=[Event(event_type="fiber_link_failure", target=t, timestamp=1.0 + i / 3)
                                        for i, t in enumerate((links[busiest], links[0]))]),
        Scenario(name="router", events=[Event(event_type="router_failure", target=str(access), timestamp=1.0)]),
    ]
    expected = whole.evaluate_many(found)
    monkeypatch.setattr(fluid_network, "NEXT_HOP_CHUNK", 3 * len(whole.net.head))  # 3 destinations at a time
    got = FluidTwin(g, params).evaluate_many(found)
    assert all(isinstance(k, FluidKpis) for k in got), got
    assert all(k.flows == whole.n_demands for k in got)
    assert fluid_damage(got[0])[0] > 0 and got[2].disconnected_demands > 0
    assert [k.model_dump_json() for k in got] == [k.model_dump_json() for k in expected]
