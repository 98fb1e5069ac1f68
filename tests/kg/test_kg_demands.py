"""ECMP routing and demand matrices (ani.kg.demands)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kg_graphs import make_graph

from ani.kg.demands import (
    Demand,
    demands_from_matrix,
    ecmp_loads,
    ecmp_route,
    load_demand_matrix,
    source_footprints,
)
from ani.kg.errors import TopologyError, UnknownComponentError

# S has two equal next hops (A, B) toward T; A has two more (X, Y): per-hop ECMP, not path counting.
G = make_graph(["S", "A", "B", "X", "Y", "T", "Z"], [("S", "A"), ("S", "B"), ("A", "X"), ("A", "Y"), ("X", "T"),
                                                      ("Y", "T")])
G.add_node("W", label="W", zoo_id="W", kind="router", lat=None, lon=None)


def _with_b_path():  # type: ignore[no-untyped-def]
    g = G.copy()
    g.add_edge("B", "Z", **{**g.edges["S", "A"], "link_id": "B-Z"})
    g.add_edge("Z", "T", **{**g.edges["S", "A"], "link_id": "Z-T"})
    return g


def test_per_hop_ecmp_split() -> None:
    g = _with_b_path()
    route = ecmp_route(g, "S", "T")
    assert route.links == pytest.approx({"S-A": 0.5, "S-B": 0.5, "A-X": 0.25, "A-Y": 0.25, "X-T": 0.25,
                                         "Y-T": 0.25, "B-Z": 0.5, "Z-T": 0.5})
    links, nodes = ecmp_loads(g, [Demand(src="S", dst="T", rate_bps=8.0), Demand(src="T", dst="S", rate_bps=4.0)])
    assert links[("S", "A")] == pytest.approx(4.0) and links[("A", "S")] == pytest.approx(8 / 3)  # T splits 3 ways
    assert nodes["T"] == pytest.approx(12.0) and nodes["X"] == pytest.approx(8 / 4 + 4 / 3)


def test_footprints_and_errors() -> None:
    g = _with_b_path()
    pairs, nodes = source_footprints(g, [Demand(src="S", dst="X", rate_bps=1.0)])["S"]
    assert {frozenset(p) for p in pairs} == {frozenset(("S", "A")), frozenset(("A", "X"))}
    assert nodes == {"S", "A", "X"}
    with pytest.raises(UnknownComponentError):
        ecmp_route(g, "S", "nowhere")
    with pytest.raises(TopologyError, match="no path"):
        ecmp_route(g, "S", "W")
    links, _ = ecmp_loads(g, [Demand(src="S", dst="W", rate_bps=1.0)])
    assert links == {}


def test_matrix_from_mapping_and_frame() -> None:
    m = demands_from_matrix({("S", "T"): 5.0, ("T", "S"): 0.0})
    assert m == [Demand(src="S", dst="T", rate_bps=5.0)]
    frame = pd.DataFrame({"src": ["S"], "dst": ["T"], "rate_bps": [2.0]})
    assert demands_from_matrix(frame)[0].rate_bps == 2.0
    with pytest.raises(TopologyError, match="same"):
        demands_from_matrix({("S", "S"): 1.0})
    with pytest.raises(TopologyError, match="not a number"):
        demands_from_matrix({("S", "T"): "lots"})


def test_matrix_files(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("src,dst,rate_bps\nS,T,1e6\nT,S,2e6\n")
    assert [d.rate_bps for d in load_demand_matrix(tmp_path / "m.csv")] == [1e6, 2e6]
    (tmp_path / "m.json").write_text('[{"src": "S", "dst": "T", "rate_bps": 3}]')
    assert load_demand_matrix(tmp_path / "m.json")[0].rate_bps == 3
    (tmp_path / "bad.csv").write_text("src,dst,rate_bps\nS,T,1\nS,T,-4\n")
    with pytest.raises(TopologyError, match=r"bad.csv: line 3: rate_bps"):
        load_demand_matrix(tmp_path / "bad.csv")
    (tmp_path / "cols.csv").write_text("from,to\nS,T\n")
    with pytest.raises(TopologyError, match="missing column"):
        load_demand_matrix(tmp_path / "cols.csv")
    with pytest.raises(TopologyError, match="cannot read"):
        load_demand_matrix(tmp_path / "absent.csv")


def test_large_graphs_get_gravity_demands_between_their_heaviest_routers() -> None:
    """Above GRAVITY_MAX_ROUTERS routers the service layer is not left empty: the heaviest routers exchange
    gravity demands (the rest carry transit), scaled like any other, and a note says so."""
    from ani.kg.model import GRAVITY_MAX_ROUTERS, build_kg

    n = GRAVITY_MAX_ROUTERS + 20
    names = [f"r{i}" for i in range(n)]
    links = [(names[i], names[(i + 1) % n], 10.0 + (i % 7)) for i in range(n)]  # a ring, uneven capacities
    links += [(names[i], names[i + n // 2], 40.0) for i in range(0, n // 2, 5)]  # chords
    kg = build_kg(make_graph(names, links, name="big"))
    ends = {d.src for d in kg.demands} | {d.dst for d in kg.demands}
    assert len(ends) == GRAVITY_MAX_ROUTERS and len(kg.demands) == GRAVITY_MAX_ROUTERS * (GRAVITY_MAX_ROUTERS - 1)
    assert any("heaviest" in note for note in kg.notes)
    busiest = max(d["utilization"] for _, _, d in kg.topology.edges(data=True))
    assert busiest == pytest.approx(0.5)  # DEFAULT_LOAD_FACTOR
