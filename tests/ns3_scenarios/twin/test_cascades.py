"""Cascade depth is the length of the causal chain, not a count of emerged failures (real ns-3 runs)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.run import execute_run
from ani.orchestrator.measure.summary import RunKpis

pytestmark = [pytest.mark.ns3, pytest.mark.slow]

PARAMS = {"warmup_s": 0.2, "drain_s": 0.2, "interval_s": 0.05, "capacity_scale": 1.0, "cascades": True,
          "probe_interval_s": 0.0}


def graph(name: str, links: list[tuple[str, str, float, int]]) -> nx.Graph:
    g = nx.Graph(name=name)
    for u, v, mbps, cost in links:
        for n in (u, v):
            g.add_node(n, kind="router", label=n, lat=None, lon=None)
        g.add_edge(u, v, link_id=f"{u}-{v}", capacity_bps=mbps * 1e6, delay_s=0.001, ospf_cost=cost, parallel=1)
    return g


def cascades(tmp_path: Path, g: nx.Graph, events: list[Event], **params: object) -> tuple[pd.DataFrame, RunKpis]:
    template = get_template("ospf_failure")
    spec = render(template, Scenario(name="c", events=events), g, template.params({**PARAMS, **params}))
    rec = execute_run(spec, tmp_path)
    assert rec.status == "ok" and rec.kpis is not None, rec.stderr_tail
    return pd.read_csv(Path(rec.folder) / "cascades.csv"), rec.kpis


def test_a_chain_of_overloads_has_the_depth_of_the_chain(tmp_path: Path) -> None:
    """Three parallel paths S-Xi-T, each thinner and costlier than the last. Cutting S-X1 moves S<->T onto
    path 2, which overflows and fails (depth 1); its traffic moves onto path 3, which overflows and fails
    (depth 2, caused by a path-2 failure). Nothing is left to reroute: the chain ends at depth 2."""
    g = graph("Ladder", [("S", "X1", 10, 10), ("X1", "T", 10, 10), ("S", "X2", 4, 15), ("X2", "T", 4, 15),
                         ("S", "X3", 2, 20), ("X3", "T", 2, 20)])
    table, kpis = cascades(tmp_path, g, [Event(event_type="fiber_link_failure", target="S-X1", timestamp=0.3)],
                           load_factor=0.8, observe_s=2.5)
    emerged = table[table["origin"] == "emerged"]
    on_path = lambda target, i: f"X{i}" in target  # noqa: E731
    assert emerged["target"].map(lambda t: on_path(t, 2)).any() and emerged["target"].map(lambda t: on_path(t, 3)).any()
    depth_of = dict(zip(table["event"], table["depth"]))
    for _, e in emerged.iterrows():
        cause = table[table["event"] == e["cause"]].iloc[0]
        assert e["depth"] == depth_of[e["cause"]] + 1
        if on_path(e["target"], 2):
            assert e["depth"] == 1 and cause["target"] == "S-X1"
        if on_path(e["target"], 3):
            assert e["depth"] == 2 and on_path(cause["target"], 2)
    assert kpis.cascade_depth == 2 and kpis.emerged_failures == len(emerged)


def test_one_ddos_that_overflows_many_links_at_once_has_depth_one(tmp_path: Path) -> None:
    """A flood at the hub of a star overflows all four spokes at the same time: four emerged failures,
    each caused by the flood itself (depth 1, breadth 4), not a chain of four."""
    g = graph("Star", [("V", f"N{i}", 10, 10) for i in range(1, 5)])
    table, kpis = cascades(tmp_path, g, [Event(event_type="traffic_spike", target="V", timestamp=0.3,
                                               severity="critical", duration_s=1.0)],
                           load_factor=0.3, observe_s=1.2)
    emerged = table[table["origin"] == "emerged"]
    assert sorted(emerged["target"]) == [f"V-N{i}" for i in range(1, 5)]
    assert (emerged["cause"] == 0).all() and (emerged["depth"] == 1).all()
    assert kpis.cascade_depth == 1 and kpis.emerged_failures == 4
