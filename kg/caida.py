"""CAIDA AS Relationships (serial-1 and serial-2) into the project's graph schema.

Input: ``<as1>|<as2>|<rel>`` (serial-1) or ``<as1>|<as2>|<rel>|<source>``
(serial-2) per line, ``rel`` = ``-1`` (``as1`` is a provider of ``as2``) or
``0`` (peers); ``#`` lines are comments (``# input clique: …`` and ``# IXP
ASes: …`` are kept). Plain text, ``.bz2`` or ``.gz``.

Output: a simple undirected :class:`networkx.Graph` in the schema of
:mod:`ani.kg.topology`, with AS-level meanings and defaults:

* node id ``AS<n>``; ``label`` = the id; ``zoo_id`` = the AS number as text
  (the id in the source file); ``asn`` (int); ``kind`` ``"router"`` (an AS is
  one node with resources); ``lat`` / ``lon`` None;
* edge ``link_id`` ``AS<a>-AS<b>`` (file order); ``relationship``
  ``"provider-customer"`` or ``"peer"``; ``provider`` the provider's id (None
  for peers); ``rel_source`` (serial-2's source column, else None);
  ``capacity_bps`` = ``DEFAULT_CAPACITY_BPS`` and ``delay_s`` =
  ``DEFAULT_DELAY_S`` (sources ``"default"``: CAIDA has neither);
  ``ospf_cost`` 1 (AS-path hop count); ``distance_km`` None; ``parallel`` 1.
* graph: ``clique`` and ``ixps`` (lists of node ids from the comments).

A pair listed twice keeps its first line (noted); a self-loop is dropped
(noted). A malformed line is an error naming the file and the line number.
"""

from __future__ import annotations

import bz2
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import networkx as nx

from .errors import TopologyError
from .topology import DEFAULT_CAPACITY_BPS, DEFAULT_DELAY_S, _summary_notes

RELATIONSHIPS = {"-1": "provider-customer", "0": "peer"}


def _open(path: Path) -> IO[str]:
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8")
    if suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


MAX_ASN = 2**32 - 1  # AS numbers are 32-bit (RFC 6793)


def _asn(text: str, source: str, lineno: int) -> int:
    """An AS number: ASCII digits only (not superscripts, not Arabic-Indic digits), at most 32 bits."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ASN:
        raise TopologyError(source, f"line {lineno}: AS number {text[:40]!r} is not a 32-bit integer "
                                    "in ASCII digits")
    return int(text)


Row = tuple[int, int, str, str | None, int]


def _parse(lines: Iterator[str], source: str, meta: dict[str, list[str]]) -> Iterator[Row]:
    """(as1, as2, relationship, source column, line number) per data line."""
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            for key, name in (("# input clique:", "clique"), ("# IXP ASes:", "ixps")):
                if line.startswith(key):
                    meta[name] = [f"AS{x}" for x in line[len(key):].split()
                                  if x.isascii() and x.isdigit() and len(x) <= 10 and int(x) <= MAX_ASN]
            continue
        parts = line.split("|")
        if len(parts) not in (3, 4):
            raise TopologyError(source, f"line {lineno}: expected 'as1|as2|rel' or 'as1|as2|rel|source', "
                                        f"got {line[:80]!r}")
        rel = RELATIONSHIPS.get(parts[2].strip())
        if rel is None:
            raise TopologyError(source, f"line {lineno}: relationship {parts[2]!r} is not "
                                        "-1 (provider-customer) or 0 (peer)")
        src = parts[3].strip() if len(parts) == 4 else None
        yield _asn(parts[0].strip(), source, lineno), _asn(parts[1].strip(), source, lineno), rel, src, lineno


def _edge_attrs(a: str, b: str, rel: str, src: str | None) -> dict[str, Any]:
    return {
        "link_id": f"{a}-{b}", "capacity_bps": DEFAULT_CAPACITY_BPS, "capacity_source": "default",
        "delay_s": DEFAULT_DELAY_S, "delay_source": "default", "distance_km": None, "ospf_cost": 1,
        "parallel": 1, "relationship": rel, "provider": a if rel == "provider-customer" else None,
        "rel_source": src,
    }


def _add_node(g: nx.Graph, asn: int) -> str:
    nid = f"AS{asn}"
    if nid not in g:
        g.add_node(nid, label=nid, zoo_id=str(asn), asn=asn, kind="router", lat=None, lon=None)
    return nid


def _fill(g: nx.Graph, rows: Iterator[Row], notes: list[str]) -> None:
    dup = loops = conflicts = 0
    for x, y, rel, src, _ in rows:
        if x == y:
            loops += 1
            continue
        a, b = _add_node(g, x), _add_node(g, y)
        if g.has_edge(a, b):
            dup += 1
            conflicts += g.edges[a, b]["relationship"] != rel
            continue
        g.add_edge(a, b, **_edge_attrs(a, b, rel, src))
    if dup:
        notes.append(f"{dup} repeated AS pairs kept their first line ({conflicts} with another relationship)")
    if loops:
        notes.append(f"dropped {loops} self-loops")


def load_caida(path: str | Path) -> nx.Graph:
    """Load a CAIDA AS-relationships file (serial-1 or serial-2; plain, ``.bz2`` or ``.gz``).

    Parameters
    ----------
    path : str or Path
        The file, e.g. ``20161101.as-rel.txt.bz2``.

    Returns
    -------
    networkx.Graph
        One node per AS, one link per AS pair (module docstring).

    Raises
    ------
    TopologyError
        If the file is missing, unreadable, not decompressible, has a
        malformed line (named by number) or no links.
    """
    p = Path(path)
    if not p.is_file():
        raise TopologyError(str(p), "not a file" if p.exists() else "no such file")
    notes: list[str] = []
    meta: dict[str, list[str]] = {"clique": [], "ixps": []}
    g = nx.Graph(name=p.name.split(".")[0] + " AS relationships", source=str(p), notes=notes)
    try:
        with _open(p) as fh:
            _fill(g, _parse(fh, str(p), meta), notes)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error, ValueError) as exc:
        if isinstance(exc, TopologyError):
            raise
        raise TopologyError(str(p), f"cannot read: {str(exc)[:200]}") from exc
    if g.number_of_edges() == 0:
        raise TopologyError(str(p), "no AS relationships in the file")
    g.graph.update(meta)
    rels = [r for *_, r in g.edges(data="relationship")]
    notes.append(f"{rels.count('provider-customer')} provider-customer and {rels.count('peer')} peer links")
    notes += [n for n in _summary_notes(g) if "coordinates" not in n]
    return g

