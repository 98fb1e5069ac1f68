"""Shared-risk link groups: the geographic rules and declared groups."""

from __future__ import annotations

from pathlib import Path

import pytest
from kg_graphs import make_graph

from ani.kg.errors import TopologyError
from ani.kg.model import build_kg
from ani.kg.srlg import Srlg, canonical_srlgs, corridor_groups, derive_srlgs, metro_groups
from ani.kg.topology import load_graphml

KM_PER_DEG_LAT = 111.2


def _parallel(gap_km: float, length_deg: float = 5.0):  # type: ignore[no-untyped-def]
    """Two west-east links ``gap_km`` apart, plus an unrelated north-south one."""
    d = gap_km / KM_PER_DEG_LAT
    nodes = [("A", 40.0, -100.0), ("B", 40.0, -100.0 + length_deg), ("C", 40.0 + d, -100.0),
             ("D", 40.0 + d, -100.0 + length_deg), ("E", 30.0, -80.0), ("F", 35.0, -80.0)]
    return make_graph(nodes, [("A", "B"), ("C", "D"), ("E", "F")])


def test_corridor_rule_groups_parallel_links_only() -> None:
    near = corridor_groups(_parallel(10.0))
    assert [sorted(g.links) for g in near] == [["A-B", "C-D"]]
    assert near[0].id == "srlg:corridor-1" and near[0].source == "corridor"
    assert corridor_groups(_parallel(40.0)) == []  # farther apart than CORRIDOR_KM


def test_diverging_crossing_and_short_links_do_not_share_a_corridor() -> None:
    diverge = make_graph([("A", 40.0, -100.0), ("B", 40.0, -90.0), ("C", 41.5, -90.0)], [("A", "B"), ("A", "C")])
    assert corridor_groups(diverge) == []  # same city, 15 degrees apart
    cross = make_graph([("A", 40.0, -100.0), ("B", 40.0, -90.0), ("C", 35.0, -95.0), ("D", 45.0, -95.0)],
                       [("A", "B"), ("C", "D")])
    assert corridor_groups(cross) == []
    short = make_graph([("A", 40.0, -100.0), ("B", 40.0, -99.6), ("C", 40.1, -100.0), ("D", 40.1, -99.6)],
                       [("A", "B"), ("C", "D")])  # ~34 km links: below CORRIDOR_MIN_KM
    assert corridor_groups(short) == []


def test_metro_rule() -> None:
    g = make_graph([("A", 40.0, -100.0), ("A2", 40.05, -100.05), ("B", 45.0, -90.0), ("C", 30.0, -90.0)],
                   [("A", "B"), ("A2", "C"), ("B", "C")])
    groups = metro_groups(g)
    assert [(s.id, sorted(s.links)) for s in groups] == [("srlg:metro-A", ["A-B", "A2-C"])]
    assert "A2" in groups[0].reason
    assert metro_groups(make_graph(["A", "B"], [("A", "B")])) == []  # no coordinates


def test_declared_groups_are_canonical_and_checked() -> None:
    g = _parallel(10.0)
    [grp] = canonical_srlgs(g, [Srlg(id="duct", links=("B-A", "A-B", "C-D"))])
    assert grp.id == "srlg:duct" and grp.links == ("A-B", "C-D")
    with pytest.raises(TopologyError, match="SRLG 'srlg:x'.*unknown link 'A-F'"):
        canonical_srlgs(g, [Srlg(id="x", links=("A-F",))])
    with pytest.raises(TopologyError, match="duplicate SRLG id"):
        canonical_srlgs(g, [Srlg(id="x", links=("A-B",)), Srlg(id="srlg:x", links=("C-D",))])
    kg = build_kg(g, srlgs=[Srlg(id="same", links=("A-B", "C-D"))])
    assert [s.id for s in kg.srlgs] == ["srlg:same"]  # the derived group with the same links is left out


def test_real_zoo_graphs_derive_deterministically(shared_data: Path) -> None:
    path = shared_data / "topologyzoo" / "TataNld.graphml"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    g = load_graphml(path)
    first, again = derive_srlgs(g), derive_srlgs(g)
    assert first == again and first
    link_ids = {d["link_id"] for *_, d in g.edges(data=True)}
    assert all(set(s.links) <= link_ids and len(s.links) >= 2 for s in first)
    assert {s.source for s in first} <= {"corridor", "metro"}
