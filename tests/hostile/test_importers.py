"""Importers bound every number: capacities, OSPF costs, AS numbers, pcapng clocks (issue 16)."""

from __future__ import annotations

import gzip
from pathlib import Path
from xml.sax.saxutils import escape

import dpkt
import pytest
from click.testing import CliRunner

from ani.kg.caida import load_caida
from ani.kg.errors import TopologyError
from ani.kg.io import open_kg
from ani.kg.pcap import TraceError, read_pcap
from ani.kg.topology import MAX_NODE_ID_CHARS, load_graphml
from ani.kg.yamlio import parse_kg_file
from ani.orchestrator.cli.main import main


def ring_graphml(labels: list[str], speeds: list[str], cost: str | None = None, name: str = "n") -> str:
    nodes = "".join(f'<node id="{i}"><data key="l">{escape(lbl)}</data></node>' for i, lbl in enumerate(labels))
    n = len(labels)
    extra = f'<data key="c">{cost}</data>' if cost else ""
    edges = "".join(f'<edge source="{i}" target="{(i + 1) % n}"><data key="s">{speeds[i % len(speeds)]}</data>'
                    f"{extra}</edge>" for i in range(n))
    return ('<?xml version="1.0" encoding="utf-8"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
            '<key attr.name="label" attr.type="string" for="node" id="l"/>'
            '<key attr.name="LinkSpeedRaw" attr.type="double" for="edge" id="s"/>'
            '<key attr.name="LinkCost" attr.type="double" for="edge" id="c"/>'
            '<key attr.name="Network" attr.type="string" for="graph" id="g"/>'
            f'<graph edgedefault="undirected"><data key="g">{escape(name)}</data>{nodes}{edges}</graph></graphml>')


@pytest.mark.parametrize("speeds, cost, message", [
    (["1e308"], None, "capacity"),           # a NaN gravity demand before
    (["5e-324"], None, "capacity"),          # a ZeroDivisionError before
    (["9e307", "9e307"], None, "capacity"),  # a bundle that overflows to inf
    (["1e9"], "70000", "OSPF cost 70000 is above 65535"),
    (["1e9"], "1e300", "OSPF cost"),
])
def test_graphml_numbers_out_of_physical_range_are_one_line_errors(tmp_path: Path, speeds, cost, message) -> None:
    path = tmp_path / "g.graphml"
    path.write_text(ring_graphml(["a", "b", "c"], speeds, cost))
    with pytest.raises(TopologyError, match=message) as err:
        load_graphml(path)
    assert "g.graphml" in str(err.value) and "\n" not in str(err.value)


def test_kg_build_with_an_ospf_cost_above_65535_exits_1_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "g.graphml"
    path.write_text(ring_graphml(["a", "b", "c"], ["1e9"], "70000"))
    result = CliRunner().invoke(main, ["kg", "build", str(path), "-o", str(tmp_path / "kg.yaml")])
    assert result.exit_code == 1 and "65535" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_long_labels_give_bounded_node_and_link_ids(tmp_path: Path) -> None:
    path = tmp_path / "g.graphml"
    path.write_text(ring_graphml(["x" * 150, "x" * 150 + "y", "z" * 10_000], ["1e9"]))
    g = load_graphml(path)
    assert all(len(n) <= MAX_NODE_ID_CHARS for n in g) and len(set(g)) == 3
    assert all(len(d["link_id"]) <= 200 for *_, d in g.edges(data=True))
    from ani.kg.scenario import Scenario
    from ani.ns3_scenarios.render import render
    from ani.ns3_scenarios.templates import get_template
    t = get_template("ospf_failure")
    render(t, Scenario(), g, t.params())  # the link ids are safe identifiers for the program


@pytest.mark.parametrize("key, value, message", [
    ("capacity_bps", "1.0e+308", "capacity_bps"), ("capacity_bps", ".nan", "capacity_bps"),
    ("delay_s", ".inf", "delay_s"), ("ospf_cost", "70000", "ospf_cost"),
])
def test_kg_files_bound_link_numbers(key: str, value: str, message: str) -> None:
    text = f"name: t\nnodes: [{{id: A}}, {{id: B}}]\nlinks:\n  - {{a: A, b: B, {key}: {value}}}\n"
    with pytest.raises(TopologyError, match=message) as err:
        parse_kg_file(text, "t.yaml")
    assert "\n" not in str(err.value)


def test_deeply_nested_kg_files_are_one_line_errors(tmp_path: Path) -> None:
    for suffix, text in ((".json", "[" * 100_000 + "]" * 100_000), (".yaml", "a: " + "[" * 50_000 + "]" * 50_000)):
        path = tmp_path / f"kg{suffix}"
        path.write_text(text)
        with pytest.raises(TopologyError) as err:
            open_kg(path)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("line, what", [
    ("\u00b9|3|0", "superscript one"), ("\u0663|3|0", "Arabic-Indic three"), ("4294967296|3|0", "2^32"),
    ("99999999999999999999999|3|0", "far beyond 32 bits"), ("-1|3|0", "negative"), ("\uff11|3|0", "fullwidth one"),
])
def test_caida_as_numbers_are_32_bit_ascii_integers(tmp_path: Path, line: str, what: str) -> None:
    path = tmp_path / "rel.txt"
    path.write_text(f"1|2|-1\n{line}\n", encoding="utf-8")
    with pytest.raises(TopologyError, match="line 2: AS number .* 32-bit integer in ASCII digits"):
        load_caida(path)


def test_caida_largest_32_bit_as_number_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "rel.txt"
    path.write_text("1|4294967295|-1\n")
    assert "AS4294967295" in load_caida(path)


def test_a_bit_flipped_caida_gz_is_a_one_line_error(tmp_path: Path) -> None:
    data = gzip.compress(b"1|2|-1\n3|4|0\n" * 500)
    for position in range(10, len(data), max(1, len(data) // 40)):
        for bit in (0x01, 0x10, 0x80):
            flipped = bytearray(data)
            flipped[position] ^= bit
            path = tmp_path / "rel.txt.gz"
            path.write_bytes(bytes(flipped))
            try:
                load_caida(path)
            except TopologyError as exc:
                assert "\n" not in str(exc)


def _pcapng_with_tsresol(path: Path, tsresol: bytes) -> None:
    opts = [dpkt.pcapng.PcapngOptionLE(code=dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL, data=tsresol),
            dpkt.pcapng.PcapngOptionLE(code=dpkt.pcapng.PCAPNG_OPT_ENDOFOPT)]
    idb = dpkt.pcapng.InterfaceDescriptionBlockLE(snaplen=1500, linktype=dpkt.pcap.DLT_EN10MB, opts=opts)
    ip = dpkt.ip.IP(src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", p=17, data=dpkt.udp.UDP(sport=1, dport=2))
    frame = bytes(dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x01" * 6, type=0x0800, data=ip))
    with path.open("wb") as fh:
        writer = dpkt.pcapng.Writer(fh, snaplen=1500, idb=idb)
        for i in range(5):
            writer.writepkt(frame, ts=1_000_000 + i * 0.001)


@pytest.mark.parametrize("tsresol", [b"\x7f", b"\x40", b"\xff", b"\xd0"])
def test_pcapng_if_tsresol_out_of_range_is_an_error(tmp_path: Path, tsresol: bytes) -> None:
    path = tmp_path / "t.pcapng"
    _pcapng_with_tsresol(path, tsresol)
    with pytest.raises(TraceError, match="if_tsresol") as err:
        read_pcap(path)
    assert "t.pcapng" in str(err.value)


@pytest.mark.parametrize("tsresol", [b"\x06", b"\x09", b"\x8a"])
def test_pcapng_sane_resolutions_are_read(tmp_path: Path, tsresol: bytes) -> None:
    path = tmp_path / "t.pcapng"
    _pcapng_with_tsresol(path, tsresol)
    assert len(read_pcap(path)) == 5
