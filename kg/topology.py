"""Topology import: Topology Zoo GraphML into the project's graph schema.

The result of every importer here is a *simple undirected* :class:`networkx.Graph`
(no subclass, convention 9) with this schema:

* graph: ``name`` (str), ``source`` (str, where it came from), ``notes``
  (list[str], one line per data quirk that was handled).
* node key: a safe id built from the label (accents folded to ASCII; letters,
  digits, ``_`` and ``.`` only; never ``-``, which separates the two ends in a
  link id). A missing label or the Zoo's literal "None" gives ``n<zoo id>``;
  duplicates get ``_2``, ``_3``, ... in file order.
* node: ``label`` (str), ``zoo_id`` (str), ``kind`` ("router", "hyperedge" or
  "external"), ``lat`` / ``lon`` (float or None).
* edge: ``link_id`` ("u-v", ends in file order), ``capacity_bps`` (float),
  ``capacity_source`` ("LinkSpeedRaw", "LinkSpeed", "LinkLabel" or "default"),
  ``delay_s`` (float), ``delay_source`` ("great_circle" or "default"),
  ``distance_km`` (float or None), ``ospf_cost`` (int >= 1), ``parallel``
  (int >= 1, how many parallel edges of the file the link bundles). A bundle
  sums its members' capacities, and its ``capacity_source`` is the least
  reliable of its members' (in the order listed above).

A GraphML file written by :func:`ani.kg.yamlio.write_graphml` (graph
attribute ``ani_schema``) is already in this schema and is read back as it
is, so export and import keep the graph.

Documented defaults (module constants):

``FIBER_KM_PER_S``
    Speed of light in fibre, c / 1.468 (group index of standard single-mode
    fibre), i.e. about 4.9 us per km. Delay is the great-circle distance over
    this speed, with **no route slack factor** (real fibre paths are longer;
    the delay is a lower bound).
``DEFAULT_DELAY_S``
    1 ms, for a link where either end lacks coordinates.
``MIN_DELAY_S``
    1 us floor, for co-located ends (zero distance).
``DEFAULT_CAPACITY_BPS``
    1 Gbit/s, where no speed can be found on the edge.
``COST_UNIT_S``
    100 us: the default OSPF cost is ``max(1, round(delay_s / COST_UNIT_S))``
    (a delay-proportional metric). An explicit edge attribute ``ospf_cost``,
    ``weight`` or ``LinkCost`` that is a positive integer wins.

Physical bounds (a value outside them is an error naming the link, not a NaN later):
``MIN_CAPACITY_BPS`` / ``MAX_CAPACITY_BPS`` 1 kbit/s and 1 Pbit/s (a bundle's sum too;
the Topology Zoo spans 20 kbit/s to 45 Gbit/s); ``MAX_OSPF_COST`` 65535 (OSPF's 16-bit
interface cost); ``MAX_NODE_ID_CHARS`` 90 (longer labels are cut and get a hash, so a
link id stays under 200 characters).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import IO, Any

import networkx as nx

from .errors import TopologyError
from .graphml import from_native_graphml
from .linkspeed import UNITS as _UNITS
from .linkspeed import parse_link_label

FIBER_KM_PER_S: float = 299_792.458 / 1.468
DEFAULT_DELAY_S: float = 0.001
MIN_DELAY_S: float = 1e-6
DEFAULT_CAPACITY_BPS: float = 1e9
COST_UNIT_S: float = 1e-4
EARTH_RADIUS_KM: float = 6371.0088

MIN_CAPACITY_BPS: float = 1e3
MAX_CAPACITY_BPS: float = 1e15
MAX_OSPF_COST: int = 65535
MAX_DELAY_S: float = 10.0
MAX_NODE_ID_CHARS: int = 90

_COST_KEYS = ("ospf_cost", "weight", "LinkCost")
_CAP_SOURCES = ("LinkSpeedRaw", "LinkSpeed", "LinkLabel", "default")


# --- small value helpers -----------------------------------------------------
def _num(value: Any) -> float | None:
    """A finite float from a GraphML value, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _positive(value: Any) -> float | None:
    x = _num(value)
    return x if x is not None and x > 0 else None


def _coord(value: Any, limit: float) -> float | None:
    x = _num(value)
    return x if x is not None and abs(x) <= limit else None


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km on a sphere of radius ``EARTH_RADIUS_KM``.

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float
        Coordinates of the two points, in degrees.

    Returns
    -------
    float
        The great-circle distance in kilometres.
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# --- reading -----------------------------------------------------------------
def _read(src: str | IO[bytes], source: str) -> nx.Graph:
    """``nx.read_graphml`` with every failure turned into TopologyError."""
    try:
        return nx.read_graphml(src)
    except ET.ParseError as exc:
        line, col = exc.position
        what = str(exc).split(": line")[0]
        raise TopologyError(source, f"malformed XML at line {line}, column {col}: {what}") from exc
    except OSError as exc:
        raise TopologyError(source, f"cannot read file: {exc.strerror or exc}") from exc
    except Exception as exc:  # networkx raises many types on bad GraphML
        raise TopologyError(source, f"not valid GraphML: {type(exc).__name__}: {exc}") from exc


def load_graphml(path: str | Path) -> nx.Graph:
    """Load a Topology Zoo GraphML file into the project's graph schema.

    Parameters
    ----------
    path : str or Path
        A GraphML file. Parallel edges (a MultiGraph) become one bundled link
        with summed capacity; self-loops are dropped; directed files are read
        as undirected; disconnected graphs and isolated nodes are kept. Every
        quirk handled is recorded in ``g.graph["notes"]``.

    Returns
    -------
    networkx.Graph
        A simple undirected graph following the schema of this module.

    Raises
    ------
    TopologyError
        If the file is missing, unreadable, not (valid) GraphML, has no nodes
        or no links between distinct nodes. The message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise TopologyError(str(p), "not a file" if p.exists() else "no such file")
    return _build(_read(str(p), str(p)), str(p), p.stem)


def abilene() -> nx.Graph:
    """The embedded default network: the Internet2 Abilene backbone (2004-2007).

    Returns
    -------
    networkx.Graph
        11 PoPs and 14 OC-192 links, from ``ani/kg/data/abilene.graphml``.
    """
    source = "ani.kg.data/abilene.graphml"
    with resources.files("ani.kg.data").joinpath("abilene.graphml").open("rb") as fh:
        return _build(_read(fh, source), source, "abilene")


def load_topology(spec: str | Path) -> nx.Graph:
    """Load a topology named on the command line or in a configuration.

    Parameters
    ----------
    spec : str or Path
        ``"abilene"`` (any case) for the embedded default, or a path to a
        ``.graphml`` / ``.xml`` file (Topology Zoo or project GraphML). The
        project YAML/JSON format and CAIDA files: :func:`ani.kg.io.load_network`.

    Returns
    -------
    networkx.Graph
        The graph in the schema of this module.

    Raises
    ------
    TopologyError
        For any other form, or when the file cannot be loaded.
    """
    text = str(spec).strip()
    if text.lower() == "abilene":
        return abilene()
    if Path(text).suffix.lower() in (".graphml", ".xml"):
        return load_graphml(text)
    raise TopologyError(text, "unknown topology; give 'abilene' or a path to a .graphml/.xml file")


# --- building the graph ------------------------------------------------------
def _safe_id(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^A-Za-z0-9_.]+", "_", ascii_text).strip("_")
    if len(out) > MAX_NODE_ID_CHARS:  # keep link ids ("u-v") under 200 characters, distinct labels distinct
        out = f"{out[:MAX_NODE_ID_CHARS - 9]}_{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    return out


def _unlabelled(label: Any) -> bool:
    """True for a missing label, or the Zoo's literal "None" (359 nodes)."""
    return label is None or str(label).strip() in ("", "None")


def _node_ids(raw: nx.Graph, notes: list[str]) -> dict[Any, str]:
    """Map each GraphML node id to a unique safe id, in file order."""
    ids: dict[Any, str] = {}
    used: set[str] = set()
    for zoo_id, data in raw.nodes(data=True):
        label = "" if _unlabelled(data.get("label")) else str(data["label"])
        base = _safe_id(label) or _safe_id(f"n{zoo_id}") or "n"
        nid, k = base, 1
        while nid in used:
            k += 1
            nid = f"{base}_{k}"
        if nid != base:
            notes.append(f"duplicate node id {base!r}: node {zoo_id} renamed {nid!r}")
        used.add(nid)
        ids[zoo_id] = nid
    return ids


def _kind(data: dict[str, Any]) -> str:
    if _num(data.get("hyperedge")) == 1:
        return "hyperedge"
    if _num(data.get("Internal")) == 0:
        return "external"
    return "router"


def _node_attrs(zoo_id: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": str(data.get("label") or ""),
        "zoo_id": str(zoo_id),
        "kind": _kind(data),
        "lat": _coord(data.get("Latitude"), 90.0),
        "lon": _coord(data.get("Longitude"), 180.0),
    }


Members = list[tuple[bool, dict[str, Any]]]  # (forward in file order?, edge data)


def _group_edges(raw: nx.Graph, ids: dict[Any, str], notes: list[str]) -> dict[tuple[str, str], Members]:
    """Group the file's edges by unordered node pair; drop self-loops."""
    pos = {n: i for i, n in enumerate(raw.nodes)}
    groups: dict[tuple[str, str], Members] = {}
    for u, v, data in raw.edges(data=True):
        if u == v:
            notes.append(f"dropped self-loop on {ids[u]}")
            continue
        a, b = (u, v) if pos[u] < pos[v] else (v, u)
        forward = (a == u) or not raw.is_directed()
        groups.setdefault((ids[a], ids[b]), []).append((forward, data))
    if raw.is_directed():
        notes.append("directed graph read as undirected; opposite directions merged into one link")
    return groups


def _capacity(data: dict[str, Any]) -> tuple[float, str]:
    """Capacity in bit/s of one file edge, and where it came from."""
    raw_bps = _positive(data.get("LinkSpeedRaw"))
    if raw_bps:
        return raw_bps, "LinkSpeedRaw"
    speed = _positive(data.get("LinkSpeed"))
    unit = _UNITS.get(str(data.get("LinkSpeedUnits") or "").strip().upper()[:1])
    if speed and unit:
        return speed * unit, "LinkSpeed"
    label = data.get("LinkLabel")
    parsed = parse_link_label(label) if isinstance(label, str) else None
    if parsed:
        return parsed, "LinkLabel"
    return DEFAULT_CAPACITY_BPS, "default"


def _bundle_capacity(members: Members) -> tuple[float, str]:
    """Sum the members per direction; a directed pair keeps its larger side."""
    caps = [(fwd, *_capacity(d)) for fwd, d in members]
    total = max(sum(c for f, c, _ in caps if f == side) for side in (True, False))
    source = max((s for _, _, s in caps), key=_CAP_SOURCES.index)
    return total, source


def _checked_capacity(capacity: float, source: str, where: str) -> float:
    """``capacity`` if within [MIN_CAPACITY_BPS, MAX_CAPACITY_BPS], else TopologyError naming the link."""
    if not MIN_CAPACITY_BPS <= capacity <= MAX_CAPACITY_BPS:
        raise TopologyError(source, f"link {where[:200]}: capacity {capacity:g} bit/s is outside "
                                    f"[{MIN_CAPACITY_BPS:g}, {MAX_CAPACITY_BPS:g}]")
    return capacity


def _explicit_cost(members: Members) -> int | None:
    costs = [
        int(x) for _, d in members for key in _COST_KEYS if (x := _positive(d.get(key))) is not None and x == int(x)
    ]
    return min(costs, default=None)


def _delay(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, str, float | None]:
    if None in (a["lat"], a["lon"], b["lat"], b["lon"]):
        return DEFAULT_DELAY_S, "default", None
    km = great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
    return max(km / FIBER_KM_PER_S, MIN_DELAY_S), "great_circle", km


def _link_attrs(g: nx.Graph, u: str, v: str, members: Members) -> dict[str, Any]:
    capacity, cap_source = _bundle_capacity(members)
    _checked_capacity(capacity, str(g.graph.get("source", "")), f"{u}-{v}")
    delay, delay_source, km = _delay(g.nodes[u], g.nodes[v])
    cost = _explicit_cost(members) or max(1, round(delay / COST_UNIT_S))
    if cost > MAX_OSPF_COST:
        raise TopologyError(str(g.graph.get("source", "")), f"link {u[:90]}-{v[:90]}: OSPF cost {cost:.6g} is "
                                                            f"above {MAX_OSPF_COST} (OSPF's 16-bit metric)")
    parallel = max(sum(1 for f, _ in members if f == side) for side in (True, False))
    return {
        "link_id": f"{u}-{v}",
        "capacity_bps": float(capacity),
        "capacity_source": cap_source,
        "delay_s": float(delay),
        "delay_source": delay_source,
        "distance_km": km,
        "ospf_cost": int(cost),
        "parallel": parallel,
    }


def _summary_notes(g: nx.Graph) -> list[str]:
    """One line per kind of quirk that touched several nodes or links."""
    nodes = [d for _, d in g.nodes(data=True)]
    links = [d for *_, d in g.edges(data=True)]
    counts = {
        "nodes without coordinates": sum(d["lat"] is None or d["lon"] is None for d in nodes),
        "nodes without a label (id n<zoo id>)": sum(_unlabelled(d["label"]) for d in nodes),
        f"links with DEFAULT_DELAY_S={DEFAULT_DELAY_S:g} (an end lacks coordinates)": sum(
            d["delay_source"] == "default" for d in links
        ),
        f"links between co-located nodes (delay floor MIN_DELAY_S={MIN_DELAY_S:g})": sum(
            d["delay_s"] == MIN_DELAY_S and d["delay_source"] == "great_circle" for d in links
        ),
        f"links without a speed (DEFAULT_CAPACITY_BPS={DEFAULT_CAPACITY_BPS:g})": sum(
            d["capacity_source"] == "default" for d in links
        ),
    }
    notes = [f"{what}: {n}" for what, n in counts.items() if n]
    if (components := nx.number_connected_components(g)) > 1:
        notes.append(f"{components} connected components (kept whole; {nx.number_of_isolates(g)} isolated nodes)")
    return notes


def _build(raw: nx.Graph, source: str, stem: str) -> nx.Graph:
    """Turn what ``read_graphml`` returned into the project's schema."""
    if raw.number_of_nodes() == 0:
        raise TopologyError(source, "no nodes")
    if "ani_schema" in raw.graph:
        return _checked_links(from_native_graphml(raw, source), source)
    notes: list[str] = []
    name = str(raw.graph.get("Network") or "").strip() or stem
    g = nx.Graph(name=name, source=source, notes=notes)
    ids = _node_ids(raw, notes)
    for zoo_id, data in raw.nodes(data=True):
        g.add_node(ids[zoo_id], **_node_attrs(zoo_id, data))
    groups = _group_edges(raw, ids, notes)
    if not groups:
        raise TopologyError(source, "no links between distinct nodes")
    for (u, v), members in groups.items():
        g.add_edge(u, v, **_link_attrs(g, u, v, members))
        if (k := g.edges[u, v]["parallel"]) > 1:
            notes.append(f"collapsed {k} parallel edges between {u} and {v} into one link (capacities summed)")
    notes += _summary_notes(g)
    return g


def _checked_links(g: nx.Graph, source: str) -> nx.Graph:
    """``g`` if every link's capacity, delay and OSPF cost is a number within the bounds above."""
    for u, v, d in g.edges(data=True):
        where = str(d.get("link_id", f"{u}-{v}"))[:200]
        for key, low, high in (("capacity_bps", MIN_CAPACITY_BPS, MAX_CAPACITY_BPS), ("delay_s", 0.0, MAX_DELAY_S),
                               ("ospf_cost", 1, MAX_OSPF_COST)):
            x = _num(d.get(key))
            if x is None or not low <= x <= high or (key == "delay_s" and x <= 0):
                raise TopologyError(source, f"link {where}: {key} {str(d.get(key))[:40]!r} is not a number in "
                                            f"[{low:g}, {high:g}]")
        if isinstance(d.get("ospf_cost"), float | str):
            d["ospf_cost"] = int(float(d["ospf_cost"]))
    return g
