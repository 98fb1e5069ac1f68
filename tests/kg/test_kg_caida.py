"""CAIDA AS relationships: the real 2016-11-01 file and malformed inputs."""

from __future__ import annotations

import bz2
import gzip
import time
from pathlib import Path

import pytest

from ani.kg.caida import load_caida
from ani.kg.errors import TopologyError
from ani.kg.model import build_kg

CAIDA = "caida/20161101.as-rel.txt.bz2"


@pytest.fixture(scope="module")
def as_graph(shared_data: Path):  # type: ignore[no-untyped-def]
    path = shared_data / CAIDA
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    start = time.perf_counter()
    g = load_caida(path)
    g.graph["load_s"] = time.perf_counter() - start
    return g


def test_real_file_counts_are_exact(as_graph) -> None:  # type: ignore[no-untyped-def]
    g = as_graph
    assert g.number_of_nodes() == 55_809
    assert g.number_of_edges() == 239_064
    rels = [r for *_, r in g.edges(data="relationship")]
    assert rels.count("provider-customer") == 110_479 and rels.count("peer") == 128_585
    assert len(g.graph["clique"]) == 17 and "AS3356" in g.graph["clique"]
    assert g.nodes["AS3356"]["asn"] == 3356 and g.nodes["AS3356"]["kind"] == "router"
    d = g.edges["AS174", "AS209"]
    assert d["link_id"] == "AS174-AS209" and d["relationship"] == "peer" and d["provider"] is None
    assert d["ospf_cost"] == 1 and d["capacity_source"] == "default"


@pytest.mark.slow
def test_real_file_builds_a_knowledge_graph(as_graph) -> None:  # type: ignore[no-untyped-def]
    kg = build_kg(as_graph)
    counts = kg.counts()
    assert counts["router"] == 55_809 and counts["link"] == 239_064
    assert counts["dependency_edges"] == 4 * 239_064  # endpoint + attached, both ends
    f = kg.frontier(kg.failure_events(["AS3356"]))
    assert len(f) == as_graph.degree("AS3356") + 1  # every neighbour may overload, plus the restore
    assert kg.validate(_one(kg)) == []


def _one(kg):  # type: ignore[no-untyped-def]
    from ani.kg.scenario import Scenario

    events = kg.failure_events(["AS174-AS209"])
    nxt = next(iter(kg.frontier(events).items()))
    return Scenario(events=[*events, events[0].model_copy(update={"event_type": nxt[1][0], "target": nxt[0],
                                                                   "timestamp": 2.0})])


def _write(path: Path, text: str) -> Path:
    if path.suffix == ".bz2":
        path.write_bytes(bz2.compress(text.encode()))
    elif path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["r.as-rel.txt", "r.as-rel.txt.bz2", "r.as-rel2.txt.gz"])
def test_serial_1_and_2_in_every_compression(tmp_path: Path, name: str) -> None:
    text = "# input clique: 1 2\n# IXP ASes: 9\n1|2|0\n1|3|-1|bgp\n2|3|-1\n3|1|0\n4|4|0\n"
    g = load_caida(_write(tmp_path / name, text))
    assert sorted(g.nodes) == ["AS1", "AS2", "AS3"]
    assert g.edges["AS1", "AS3"]["provider"] == "AS1" and g.edges["AS1", "AS3"]["rel_source"] == "bgp"
    assert g.graph["clique"] == ["AS1", "AS2"] and g.graph["ixps"] == ["AS9"]
    assert any("repeated AS pairs" in n and "1 with another relationship" in n for n in g.graph["notes"])
    assert any("self-loops" in n for n in g.graph["notes"])


@pytest.mark.parametrize(("text", "needle"), [
    ("1|2|0\n1|2\n", "line 2: expected"),
    ("1|2|7\n", "line 1: relationship '7'"),
    ("# c\nAS1|2|0\n", "line 2: AS number 'AS1'"),
    ("# only comments\n", "no AS relationships"),
])
def test_malformed_lines_name_file_and_line(tmp_path: Path, text: str, needle: str) -> None:
    path = _write(tmp_path / "bad.as-rel.txt", text)
    with pytest.raises(TopologyError, match="bad.as-rel.txt") as err:
        load_caida(path)
    assert needle in str(err.value)


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="no such file"):
        load_caida(tmp_path / "absent.txt")
    (tmp_path / "x.txt.bz2").write_bytes(b"not bzip2 at all")
    with pytest.raises(TopologyError, match="cannot read"):
        load_caida(tmp_path / "x.txt.bz2")
