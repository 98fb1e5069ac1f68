"""Tests of ani.kg.topology on the embedded Abilene and real Topology Zoo files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from ani.kg.errors import TopologyError, UnknownComponentError
from ani.kg.topology import (
    COST_UNIT_S,
    DEFAULT_CAPACITY_BPS,
    DEFAULT_DELAY_S,
    FIBER_KM_PER_S,
    MIN_DELAY_S,
    abilene,
    great_circle_km,
    load_graphml,
    load_topology,
    parse_link_label,
)
from ani.kg.graph_queries import graph_digest, resolve_link, resolve_node, routers

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ZOO = DATA / "topologyzoo"
ZOO_FILES = sorted(ZOO.glob("*.graphml")) if ZOO.is_dir() else []
NO_DATA = f"Topology Zoo data not found at {ZOO} (expected ../shared/data next to the repo)"
SAFE_ID = re.compile(r"^[A-Za-z0-9_.]+$")
OC192 = 9_953_280_000.0

GRAPHML_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
    '  <key attr.name="label" attr.type="string" for="node" id="d0" />\n'
    '  <key attr.name="LinkSpeedRaw" attr.type="double" for="edge" id="d1" />\n'
    '  <key attr.name="LinkCost" attr.type="int" for="edge" id="d2" />\n'
)


def _zoo(name: str) -> Path:
    path = ZOO / f"{name}.graphml"
    if not path.is_file():
        pytest.skip(f"{path} not found ({NO_DATA})")
    return path


def _write(tmp_path: Path, body: str, directed: bool = False, name: str = "t.graphml") -> Path:
    kind = "directed" if directed else "undirected"
    path = tmp_path / name
    path.write_text(f'{GRAPHML_HEAD}  <graph edgedefault="{kind}">\n{body}  </graph>\n</graphml>\n')
    return path


def _nodes(*labels: str) -> str:
    return "".join(f'    <node id="{i}"><data key="d0">{lab}</data></node>\n' for i, lab in enumerate(labels))


def _edge(u: int, v: int, extra: str = "") -> str:
    return f'    <edge source="{u}" target="{v}">{extra}</edge>\n'


def _check_schema(g: nx.Graph) -> None:
    assert type(g) is nx.Graph
    assert isinstance(g.graph["name"], str) and g.graph["name"]
    assert isinstance(g.graph["notes"], list)
    for n, d in g.nodes(data=True):
        assert SAFE_ID.match(n) and "-" not in n, n
        assert d["kind"] in {"router", "hyperedge", "external"}
        assert d["lat"] is None or -90 <= d["lat"] <= 90
    link_ids = [d["link_id"] for *_, d in g.edges(data=True)]
    assert len(set(link_ids)) == len(link_ids) == g.number_of_edges()
    for u, v, d in g.edges(data=True):
        assert d["link_id"] in (f"{u}-{v}", f"{v}-{u}")
        assert d["capacity_bps"] > 0 and d["delay_s"] > 0
        assert isinstance(d["ospf_cost"], int) and d["ospf_cost"] >= 1
        assert isinstance(d["parallel"], int) and d["parallel"] >= 1
        assert d["capacity_source"] in {"LinkSpeedRaw", "LinkSpeed", "LinkLabel", "default"}
        assert d["delay_source"] in {"great_circle", "default"}


# --- embedded Abilene ----------------------------------------------------------
def test_abilene_shape_and_attributes() -> None:
    g = abilene()
    _check_schema(g)
    assert g.graph["name"] == "Abilene"
    assert g.number_of_nodes() == 11 and g.number_of_edges() == 14
    assert routers(g) == list(g.nodes)
    assert {"Los_Angeles", "Washington_DC", "New_York", "Kansas_City"} <= set(g.nodes)
    assert nx.is_connected(g)
    for *_, d in g.edges(data=True):
        assert d["capacity_bps"] == pytest.approx(9.95328e9)
        assert d["delay_source"] == "great_circle"
        assert d["ospf_cost"] == max(1, round(d["delay_s"] / COST_UNIT_S))


def test_abilene_delay_from_coordinates() -> None:
    g = abilene()
    d = g.edges["New_York", "Chicago"]
    assert d["distance_km"] == pytest.approx(1145, rel=0.02)
    assert d["delay_s"] == pytest.approx(d["distance_km"] / FIBER_KM_PER_S)
    assert 5.4e-3 < d["delay_s"] < 5.8e-3  # ~4.9 us/km, no slack factor
    assert great_circle_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.195, rel=1e-4)


def test_load_topology_forms(tmp_path: Path) -> None:
    assert graph_digest(load_topology("ABILENE")) == graph_digest(abilene())
    path = _write(tmp_path, _nodes("A", "B") + _edge(0, 1))
    assert load_topology(path).number_of_edges() == 1
    for bad in ("nosuchnet", "topo.yaml"):
        with pytest.raises(TopologyError, match=rf"{bad}.*abilene.*graphml"):
            load_topology(bad)


# --- every real Topology Zoo file -------------------------------------------
@pytest.mark.parametrize(
    "path",
    ZOO_FILES or [pytest.param(None, marks=pytest.mark.skip(reason=NO_DATA))],
    ids=lambda p: p.name if p else "no-data",
)
def test_zoo_file_loads_or_fails_cleanly(path: Path) -> None:
    try:
        g = load_graphml(path)
    except TopologyError as exc:
        assert path.name in str(exc)
        return
    _check_schema(g)
    assert g.graph["source"] == str(path)


def test_parallel_edges_are_bundled() -> None:
    path = _zoo("Geant")
    raw = nx.read_graphml(path)
    assert raw.is_multigraph()
    g = load_graphml(path)
    link = g.edges["IE", "UK"]
    raw_caps = [d.get("LinkSpeedRaw") for d in raw.get_edge_data("1", "2").values()]
    assert link["parallel"] == len(raw_caps) == 2
    expected = sum(c if c else DEFAULT_CAPACITY_BPS for c in raw_caps)  # 10G + an unlabelled fibre
    assert link["capacity_bps"] == pytest.approx(expected)
    assert "collapsed 2 parallel edges between IE and UK into one link (capacities summed)" in g.graph["notes"]


def test_many_parallel_edges_deltacom() -> None:
    path = _zoo("Deltacom")
    raw = nx.read_graphml(path)
    g = load_graphml(path)
    bundles = [d for *_, d in g.edges(data=True) if d["parallel"] > 1]
    assert sum(d["parallel"] - 1 for d in bundles) == raw.number_of_edges() - g.number_of_edges() > 0
    for d in bundles:  # Deltacom has no speeds: each member gets the default
        assert d["capacity_bps"] == pytest.approx(d["parallel"] * DEFAULT_CAPACITY_BPS)
    assert sum("parallel edges" in n for n in g.graph["notes"]) == len(bundles)


def test_file_without_coordinates_uses_default_delay() -> None:
    g = load_graphml(_zoo("Internet2"))
    assert all(d["delay_s"] == DEFAULT_DELAY_S and d["distance_km"] is None for *_, d in g.edges(data=True))
    assert all(d["ospf_cost"] == round(DEFAULT_DELAY_S / COST_UNIT_S) for *_, d in g.edges(data=True))
    assert any("without coordinates" in n for n in g.graph["notes"])


@pytest.mark.parametrize(("name", "components"), [("Uninett", 4), ("DialtelecomCz", 56)])
def test_disconnected_file_kept_whole(name: str, components: int) -> None:
    path = _zoo(name)
    g = load_graphml(path)
    assert g.number_of_nodes() == nx.read_graphml(path).number_of_nodes()
    assert nx.number_connected_components(g) == components
    assert any(n.startswith(f"{components} connected components") for n in g.graph["notes"])


def test_hyperedge_and_unlabelled_nodes() -> None:
    g = load_graphml(_zoo("Internet2"))
    hyper = [n for n, k in g.nodes(data="kind") if k == "hyperedge"]
    assert hyper == ["n10", "n11", "n12"]  # empty labels: ids from the Zoo id
    assert not set(hyper) & set(routers(g))


def test_external_nodes() -> None:
    g = load_graphml(_zoo("Aconet"))
    kinds = dict(g.nodes(data="kind"))
    assert kinds["GEANT"] == "external" and kinds["VIX"] == "external"
    assert "GEANT" not in routers(g)


def test_duplicate_and_none_labels_get_unique_ids() -> None:
    g = load_graphml(_zoo("Pern"))  # 119 nodes labelled "None" in the file
    assert "n0" in g and g.nodes["n0"]["label"] == "None"
    assert len(set(g.nodes)) == g.number_of_nodes() == 127


# --- link label parser -------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "bps"),
    [
        ("2.5 Gbps", 2.5e9),
        ("45 Mbps DS-3", 44.736e6),
        ("1Gb/s", 1e9),
        ("10 GE", 10e9),
        ("10GEx4", 40e9),
        ("OC192/STM64", 192 * 51.84e6),
        ("OC-48", 48 * 51.84e6),
        ("OC-192c", 192 * 51.84e6),
        ("STM-1", 155.52e6),
        ("STM-64x2", 2 * 64 * 155.52e6),
        ("E1", 2.048e6),
        ("2 x E3 (68Mbps)", 2 * 34.368e6),
        ("internetMCI T3", 44.736e6),
        ("155 Mbps OC-3", 155.52e6),
        ("2x10Gb/s", 20e9),
        ("10-34 Mb/s", 34e6),
        ("0.5 M", 0.5e6),
        ("64 Kbps", 64e3),
        ("9600 bit/s", 9600.0),
        ("Fibre ottica spenta (Dark Fibre), 10 Gbps", 10e9),
        ("4x1 Gbps + 2x STM-1", 4e9 + 2 * 155.52e6),
        ("Yellow", None),
        ("Green Link", None),
        ("SeaMeWe-3", None),
        ("TAT-14", None),
        ("Completion 2007-2008", None),
        ("International connectivity to GEANT2", None),
    ],
)
def test_parse_link_label(label: str, bps: float | None) -> None:
    got = parse_link_label(label)
    assert got == (pytest.approx(bps) if bps is not None else None)


def test_capacity_sources(tmp_path: Path) -> None:
    body = (
        _nodes("A", "B", "C", "D")
        + _edge(0, 1, '<data key="d1">0</data><data key="d3">2.5</data><data key="d4">G</data>')
        + _edge(1, 2, '<data key="d5">45 Mbps DS-3</data>')
        + _edge(2, 3, '<data key="d5">Yellow</data>')
    )
    keys = (
        '  <key attr.name="LinkSpeed" attr.type="string" for="edge" id="d3" />\n'
        '  <key attr.name="LinkSpeedUnits" attr.type="string" for="edge" id="d4" />\n'
        '  <key attr.name="LinkLabel" attr.type="string" for="edge" id="d5" />\n'
    )
    path = tmp_path / "caps.graphml"
    path.write_text(_write(tmp_path, body).read_text().replace("  <graph", keys + "  <graph"))
    g = load_graphml(path)
    got = {d["link_id"]: (d["capacity_bps"], d["capacity_source"]) for *_, d in g.edges(data=True)}
    assert got == {
        "A-B": (2.5e9, "LinkSpeed"),
        "B-C": (pytest.approx(44.736e6), "LinkLabel"),
        "C-D": (DEFAULT_CAPACITY_BPS, "default"),
    }


# --- small synthetic files -----------------------------------------------------
def test_self_loop_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path, _nodes("A", "B") + _edge(0, 0) + _edge(0, 1))
    g = load_graphml(path)
    assert g.number_of_edges() == 1 and nx.number_of_selfloops(g) == 0
    assert "dropped self-loop on A" in g.graph["notes"]


def test_ids_link_order_costs_and_directed(tmp_path: Path) -> None:
    body = (
        _nodes("New York", "New-York", "", "St. Gallen / Ost")
        + _edge(1, 0, '<data key="d1">1e9</data><data key="d2">7</data>')
        + _edge(0, 1, '<data key="d1">1e9</data>')
        + _edge(2, 3)
    )
    g = load_graphml(_write(tmp_path, body, directed=True))
    assert list(g.nodes) == ["New_York", "New_York_2", "n2", "St._Gallen_Ost"]
    link = g.edges["New_York", "New_York_2"]
    assert link["link_id"] == "New_York-New_York_2"  # file order, not edge order
    assert link["ospf_cost"] == 7  # explicit LinkCost wins
    assert link["parallel"] == 1 and link["capacity_bps"] == 1e9  # two directions, not a bundle
    assert g.edges["n2", "St._Gallen_Ost"]["ospf_cost"] == round(DEFAULT_DELAY_S / COST_UNIT_S)
    assert any("directed" in n for n in g.graph["notes"])


def test_colocated_nodes_get_delay_floor(tmp_path: Path) -> None:
    keys = (
        '  <key attr.name="Latitude" attr.type="double" for="node" id="d6" />\n'
        '  <key attr.name="Longitude" attr.type="double" for="node" id="d7" />\n'
    )
    node = '    <node id="{i}"><data key="d0">{i}X</data><data key="d6">10</data><data key="d7">20</data></node>\n'
    body = node.format(i=0) + node.format(i=1) + _edge(0, 1)
    path = _write(tmp_path, body)
    path.write_text(path.read_text().replace("  <graph", keys + "  <graph"))
    d = load_graphml(path).edges["0X", "1X"]
    assert d["distance_km"] == 0.0 and d["delay_s"] == MIN_DELAY_S and d["ospf_cost"] == 1


# --- malformed input -------------------------------------------------------------
def test_truncated_xml(tmp_path: Path) -> None:
    text = _write(tmp_path, _nodes("A", "B") + _edge(0, 1)).read_text()
    path = tmp_path / "truncated.graphml"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(TopologyError, match=r"truncated\.graphml.*line \d+, column \d+") as info:
        load_graphml(path)
    assert info.value.source == str(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "line 1"),
        ("<foo/>", "not valid GraphML"),
        (GRAPHML_HEAD + '  <graph edgedefault="undirected"/>\n</graphml>\n', "no nodes"),
    ],
    ids=["empty", "not-graphml", "no-nodes"],
)
def test_bad_files(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.graphml"
    path.write_text(content)
    with pytest.raises(TopologyError, match=rf"bad\.graphml: .*{reason}"):
        load_graphml(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"nope\.graphml: no such file"):
        load_graphml(tmp_path / "nope.graphml")
    with pytest.raises(TopologyError, match="not a file"):
        load_graphml(tmp_path)


def test_nodes_without_links(tmp_path: Path) -> None:
    path = _write(tmp_path, _nodes("A", "B") + _edge(0, 0))
    with pytest.raises(TopologyError, match="no links"):
        load_graphml(path)


# --- digest and lookups ------------------------------------------------------------
def test_graph_digest_stable_and_sensitive() -> None:
    g1, g2 = abilene(), abilene()
    assert graph_digest(g1) == graph_digest(g2)
    assert re.fullmatch(r"[0-9a-f]{16}", graph_digest(g1))
    g2.graph["notes"].append("ignored")
    assert graph_digest(g1) == graph_digest(g2)
    g2.edges["New_York", "Chicago"]["capacity_bps"] = 1e9
    assert graph_digest(g1) != graph_digest(g2)


def test_graph_digest_same_in_another_process() -> None:
    code = "from ani.kg.topology import abilene; from ani.kg.graph_queries import graph_digest; print(graph_digest(abilene()))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == graph_digest(abilene())


def test_resolve_link_both_orders() -> None:
    g = abilene()
    assert resolve_link(g, "Chicago-New_York") == ("Chicago", "New_York")
    assert resolve_link(g, "New_York-Chicago") == ("Chicago", "New_York")
    with pytest.raises(UnknownComponentError, match="Chicago-New_York") as info:
        resolve_link(g, "New_York-Chicag")
    assert info.value.kind == "link" and isinstance(info.value, KeyError)


def test_resolve_node() -> None:
    g = abilene()
    assert resolve_node(g, "New_York") == "New_York"
    with pytest.raises(UnknownComponentError, match=r"unknown node 'New York' \(close matches: New_York"):
        resolve_node(g, "New York")
