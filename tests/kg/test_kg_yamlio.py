"""The project YAML/JSON format: hand-written networks, errors with lines, schema file, round trips."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from ani.kg.errors import TopologyError
from ani.kg.io import load_network, open_kg
from ani.kg.topology import COST_UNIT_S, DEFAULT_CAPACITY_BPS, load_graphml
from ani.kg.graph_queries import graph_digest
from ani.kg.yamlio import json_schema, load_srlgs, parse_kg_file, read_kg, write_kg

HAND = """\
schema_version: 1
name: Triangle
nodes:
  - {id: A, lat: 40.0, lon: -105.0}
  - {id: B, lat: 39.1, lon: -94.6, resources: {cpu_capacity_bps: 2.0e10}}
  - id: C
  - {id: P, kind: external}
links:
  - {a: A, b: B, capacity_bps: 1.0e10}
  - {a: B, b: C, delay_s: 0.002, ospf_cost: 5}
  - {a: C, b: A}
  - {a: A, b: P}
srlgs:
  - {id: conduit-1, links: [B-A, C-B], reason: shared trench}
derive_srlgs: false
demands: gravity
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_hand_written_network_takes_documented_defaults(tmp_path: Path) -> None:
    kg = read_kg(_write(tmp_path / "net.yaml", HAND))
    g = kg.topology
    ab, bc, ca = g.edges["A", "B"], g.edges["B", "C"], g.edges["C", "A"]
    assert ab["capacity_source"] == "declared" and ab["delay_source"] == "great_circle"
    assert ab["ospf_cost"] == max(1, round(ab["delay_s"] / COST_UNIT_S))
    assert bc["delay_s"] == 0.002 and bc["delay_source"] == "declared" and bc["ospf_cost"] == 5
    assert ca["capacity_bps"] == DEFAULT_CAPACITY_BPS and ca["capacity_source"] == "default"
    assert ca["delay_source"] == "default"  # C has no coordinates
    assert g.nodes["B"]["cpu_capacity_bps"] == 2e10 and g.nodes["B"]["resources_source"] == "mixed"
    assert g.nodes["C"]["label"] == "C" and g.nodes["P"]["kind"] == "external"
    assert [(s.id, s.links) for s in kg.srlgs] == [("srlg:conduit-1", ("A-B", "B-C"))]
    assert len(kg.demands) == 6


@pytest.mark.parametrize(("patch", "needle"), [
    (("  - {a: C, b: A}", "  - {a: C, b: Z}"), "links[2] (C-Z): unknown node 'Z'"),
    (("  - id: C", "  - id: A"), "nodes[2]: duplicate node id 'A'"),
    (("  - {a: C, b: A}", "  - {a: C, b: C}"), "links[2] (C-C): a link needs two different nodes"),
    (("  - {a: C, b: A}", "  - {a: B, b: A}"), "links[2] (B-A): the pair is already linked by A-B"),
    (("ospf_cost: 5}", "ospf_cost: 0}"), "line 10: links[1].ospf_cost: Input should be greater than or equal to 1"),
    (("  - id: C", "  - id: C-1"), "line 6: nodes[2].id: String should match pattern"),
    (("  - id: C", "  - {id: C, colour: red}"), "line 6: nodes[2].colour: Extra inputs are not permitted"),
    (("links: [B-A, C-B]", "links: [B-A, C-X]"), "SRLG 'srlg:conduit-1': unknown link 'C-X'"),
    (("name: Triangle\n", "name: [Triangle\n"), "line 3: not valid YAML"),
])
def test_errors_name_file_line_and_element(tmp_path: Path, patch: tuple[str, str], needle: str) -> None:
    path = _write(tmp_path / "net.yaml", HAND.replace(*patch))
    with pytest.raises(TopologyError, match="net.yaml") as err:
        read_kg(path)
    assert needle in str(err.value)


def test_json_errors_have_lines_too(tmp_path: Path) -> None:
    data = parse_kg_file(HAND).model_dump(mode="json")
    data["links"][1]["capacity_bps"] = -1
    text = json.dumps(data, indent=1)
    with pytest.raises(TopologyError, match=r"net.json: line \d+: links\[1\].capacity_bps"):
        read_kg(_write(tmp_path / "net.json", text))
    with pytest.raises(TopologyError, match="net.json: line 1: not valid JSON"):
        read_kg(_write(tmp_path / "net.json", "{"))
    with pytest.raises(TopologyError, match="expected a mapping"):
        read_kg(_write(tmp_path / "net.yaml", "- 1\n"))


def test_shipped_json_schema_is_current() -> None:
    shipped = json.loads(resources.files("ani.kg.data").joinpath("kg.schema.json").read_text())
    assert shipped == json_schema()
    assert json_schema()["additionalProperties"] is False


def test_zoo_round_trips_through_every_format(tmp_path: Path, shared_data: Path) -> None:
    for name in ("Geant2010", "Uninett2010"):
        path = shared_data / "topologyzoo" / f"{name}.graphml"
        if not path.is_file():
            continue
        kg = open_kg(path)
        for fmt in ("yaml", "json"):
            assert read_kg(write_kg(kg, tmp_path / f"{name}.{fmt}")).digest == kg.digest
        back = load_graphml(write_kg(kg, tmp_path / f"{name}.graphml"))
        assert open_kg(tmp_path / f"{name}.graphml").digest == kg.digest
        assert back.graph["name"] == kg.topology.graph["name"]
        assert graph_digest(load_network(tmp_path / f"{name}.yaml")) != ""


def test_declared_srlg_files(tmp_path: Path) -> None:
    groups = load_srlgs(_write(tmp_path / "s.yaml", "srlgs:\n  - {id: a, links: [X-Y]}\n"))
    assert groups[0].id == "srlg:a"
    with pytest.raises(TopologyError, match=r"line 2: srlgs\[0\].links"):
        load_srlgs(_write(tmp_path / "s.yaml", "srlgs:\n  - {id: a, links: []}\n"))
    with pytest.raises(TopologyError, match="expected a list"):
        load_srlgs(_write(tmp_path / "s.yaml", "7\n"))


def test_unknown_network_form() -> None:
    with pytest.raises(TopologyError, match="unknown network"):
        load_network("net.csv")
