"""The project's own file format for knowledge graphs (YAML or JSON), and GraphML export.

One document holds every layer; a hand-written network needs only ``nodes``
and ``links``. :class:`KgFile` is the schema (``extra="forbid"``; the JSON
Schema is :func:`json_schema`, shipped as ``ani/kg/data/kg.schema.json``)::

    schema_version: 1
    name: Triangle
    nodes:
      - {id: A, lat: 40.0, lon: -105.0}               # kind defaults to router
      - {id: B, lat: 39.1, lon: -94.6, resources: {cpu_capacity_bps: 2.0e10}}
      - {id: P, kind: external}
    links:
      - {a: A, b: B, capacity_bps: 1.0e10}            # delay from coordinates
      - {a: B, b: P, delay_s: 0.002, ospf_cost: 5}
    srlgs:                                             # declared by hand
      - {id: conduit-1, links: [A-B, B-P], reason: shared trench}
    derive_srlgs: true                                 # also derive from geography
    demands: gravity                                   # or a list of {src, dst, rate_bps}, or null
    incidents: []                                      # rows of ani.kg.incidents
    roots: null                                        # or the components a scenario may start on

Missing link values take the defaults of :mod:`ani.kg.topology`
(``capacity_source``/``delay_source`` say so); missing resources those of
:mod:`ani.kg.resources`. :func:`to_file` writes *every* value of a built
graph (derived SRLGs and demands included, ``derive_srlgs: false``), so
reading it back gives the same graph and the same digest.

GraphML export (:func:`ani.kg.graphml.write_graphml`, re-exported here) carries the network layer (nodes,
links, resources) in this schema, marked by the graph attribute
``ani_schema``; :func:`ani.kg.topology.load_graphml` reads such a file back
unchanged. Errors name the file and the line (YAML/JSON) and element.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .demands import Demand
from .errors import TopologyError, UnknownComponentError
from .safety import clip
from .graphml import DERIVED_ATTRS, SCHEMA_VERSION, write_graphml
from .incidents import IncidentEvent
from .model import KnowledgeGraph, build_kg
from .resources import RESOURCE_ATTRS, Resources
from .srlg import Srlg
from .topology import (COST_UNIT_S, DEFAULT_CAPACITY_BPS, MAX_CAPACITY_BPS, MAX_DELAY_S, MAX_OSPF_COST,
                       MIN_CAPACITY_BPS, _delay)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
Scalar = str | int | float | bool | None
_NODE_KEYS = {"label", "kind", "lat", "lon", "zoo_id", "resources_source", *RESOURCE_ATTRS, *DERIVED_ATTRS}
_LINK_KEYS = {"link_id", "capacity_bps", "capacity_source", "delay_s", "delay_source", "distance_km",
              "ospf_cost", "parallel", *DERIVED_ATTRS}


class NodeSpec(BaseModel):
    """A router, hyperedge pseudo-node or external peer."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.]+$", description="letters, digits, '_' and '.' (never '-')")
    kind: Literal["router", "hyperedge", "external"] = "router"
    label: str | None = Field(default=None, description="display name; default: the id")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    zoo_id: str | None = Field(default=None, description="the id in the source file, if any")
    resources: Resources | None = None
    resources_source: Literal["default", "declared", "mixed"] | None = None
    attrs: dict[str, Scalar] = Field(default_factory=dict, description="other attributes, kept as they are")


class LinkSpec(BaseModel):
    """An undirected link; its id is ``<a>-<b>``."""

    model_config = ConfigDict(extra="forbid")

    a: str
    b: str
    capacity_bps: float | None = Field(default=None, ge=MIN_CAPACITY_BPS, le=MAX_CAPACITY_BPS,
                                       allow_inf_nan=False, description="default DEFAULT_CAPACITY_BPS")
    capacity_source: str | None = None
    delay_s: float | None = Field(default=None, gt=0, le=MAX_DELAY_S, allow_inf_nan=False,
                                  description="default: great-circle from coordinates")
    delay_source: str | None = None
    distance_km: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    ospf_cost: int | None = Field(default=None, ge=1, le=MAX_OSPF_COST, description="default: 1 per COST_UNIT_S of delay")
    parallel: int = Field(default=1, ge=1)
    attrs: dict[str, Scalar] = Field(default_factory=dict)


class KgFile(BaseModel):
    """A knowledge graph on disk (module docstring)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(min_length=1)
    source: str | None = None
    notes: list[str] = Field(default_factory=list)
    graph_attrs: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    nodes: list[NodeSpec] = Field(min_length=1)
    links: list[LinkSpec] = Field(min_length=1)
    srlgs: list[Srlg] = Field(default_factory=list)
    derive_srlgs: bool = True
    demands: list[Demand] | Literal["gravity"] | None = "gravity"
    incidents: list[IncidentEvent] = Field(default_factory=list)
    roots: list[str] | None = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`KgFile`."""
    return KgFile.model_json_schema()


# --- reading -------------------------------------------------------------------
def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the element at ``loc`` in a YAML/JSON text, if it can be found."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            return None
    return node.start_mark.line + 1 if node is not None else None


def _where(text: str, loc: tuple[Any, ...]) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "document"
    line = _line_of(text, loc)
    return f"line {line}: {path}" if line else path


def _parse(text: str, source: str) -> Any:
    try:
        if source.lower().endswith(".json"):
            return json.loads(text)
        return yaml.load(text, Loader=_LOADER)
    except json.JSONDecodeError as exc:
        raise TopologyError(source, f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise TopologyError(source, "nested too deep to be a knowledge graph file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise TopologyError(source, f"{where}not valid YAML: {clip(getattr(exc, 'problem', None) or exc, 200)}") from None


def parse_kg_file(text: str, source: str = "<text>") -> KgFile:
    """Parse and check a YAML/JSON document against :class:`KgFile`.

    Raises
    ------
    TopologyError
        Naming ``source``, the line and the element of the first problem.
    """
    raw = _parse(text, source)
    if not isinstance(raw, dict):
        raise TopologyError(source, "expected a mapping with at least 'name', 'nodes' and 'links'")
    try:
        return KgFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise TopologyError(source, f"{_where(text, tuple(err['loc']))}: {err['msg']}{more}") from None


def _node_attrs(n: NodeSpec) -> dict[str, Any]:
    attrs: dict[str, Any] = {"label": n.label if n.label is not None else n.id, "zoo_id": n.zoo_id or n.id,
                             "kind": n.kind, "lat": n.lat, "lon": n.lon}
    if n.resources is not None:
        attrs.update({k: v for k, v in n.resources.model_dump().items() if v is not None})
    if n.resources_source is not None:
        attrs["resources_source"] = n.resources_source
    elif n.resources is not None:
        given = sum(v is not None for v in n.resources.model_dump().values())
        attrs["resources_source"] = "declared" if given == len(RESOURCE_ATTRS) else "mixed" if given else "default"
    return {**n.attrs, **attrs}


def _link_attrs(g: nx.Graph, spec: LinkSpec) -> dict[str, Any]:
    delay, delay_source, km = _delay(g.nodes[spec.a], g.nodes[spec.b])
    if spec.delay_s is not None:
        delay, delay_source = spec.delay_s, spec.delay_source or "declared"
    attrs = {
        "link_id": f"{spec.a}-{spec.b}",
        "capacity_bps": float(spec.capacity_bps or DEFAULT_CAPACITY_BPS),
        "capacity_source": spec.capacity_source or ("declared" if spec.capacity_bps else "default"),
        "delay_s": float(delay), "delay_source": spec.delay_source or delay_source,
        "distance_km": spec.distance_km if spec.distance_km is not None else km,
        "ospf_cost": spec.ospf_cost or max(1, round(delay / COST_UNIT_S)),
        "parallel": spec.parallel,
    }
    return {**spec.attrs, **attrs}


def to_graph(spec: KgFile, source: str = "<text>") -> nx.Graph:
    """The topology of a :class:`KgFile`, in the schema of :mod:`ani.kg.topology`.

    Raises
    ------
    TopologyError
        For a duplicate node, a link to an unknown node, a self-loop or a
        repeated pair; the message names the element.
    """
    g = nx.Graph(name=spec.name, source=spec.source or source, notes=list(spec.notes))
    g.graph.update(spec.graph_attrs)
    for i, n in enumerate(spec.nodes):
        if n.id in g:
            raise TopologyError(source, f"nodes[{i}]: duplicate node id {n.id!r}")
        g.add_node(n.id, **_node_attrs(n))
    for i, link in enumerate(spec.links):
        where = f"links[{i}] ({link.a}-{link.b})"
        for end in (link.a, link.b):
            if end not in g:
                raise TopologyError(source, f"{where}: unknown node {end!r}")
        if link.a == link.b:
            raise TopologyError(source, f"{where}: a link needs two different nodes")
        if g.has_edge(link.a, link.b):
            raise TopologyError(source, f"{where}: the pair is already linked by {g.edges[link.a, link.b]['link_id']}")
        g.add_edge(link.a, link.b, **_link_attrs(g, link))
    return g


def from_file_model(spec: KgFile, source: str = "<text>", **build: Any) -> KnowledgeGraph:
    """Build the knowledge graph a :class:`KgFile` describes (``build`` goes to :func:`build_kg`)."""
    g = to_graph(spec, source)
    options: dict[str, Any] = {"demands": spec.demands, "srlgs": spec.srlgs, "derive_srlgs": spec.derive_srlgs,
                               "incidents": spec.incidents, "roots": spec.roots}
    try:
        return build_kg(g, **{**options, **build})
    except (TopologyError, UnknownComponentError) as exc:
        raise TopologyError(source, str(exc)) from exc


def read_kg(path: str | Path, **build: Any) -> KnowledgeGraph:
    """Read a knowledge graph from a ``.yaml``/``.yml``/``.json`` file.

    Raises
    ------
    TopologyError
        If the file cannot be read or breaks the schema (file, line, element).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError(str(p), f"cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    return from_file_model(parse_kg_file(text, str(p)), str(p), **build)


# --- writing -------------------------------------------------------------------
def _node_spec(n: str, d: dict[str, Any]) -> NodeSpec:
    res = Resources(**{k: d[k] for k in RESOURCE_ATTRS if d.get(k) is not None})
    return NodeSpec(id=n, kind=d["kind"], label=d.get("label"), lat=d.get("lat"), lon=d.get("lon"),
                    zoo_id=d.get("zoo_id"), resources=res, resources_source=d.get("resources_source"),
                    attrs={k: v for k, v in d.items() if k not in _NODE_KEYS})


def _link_spec(g: nx.Graph, u: str, v: str, d: dict[str, Any]) -> LinkSpec:
    a, b = (u, v) if d["link_id"] == f"{u}-{v}" else (v, u)
    return LinkSpec(a=a, b=b, capacity_bps=d["capacity_bps"], capacity_source=d.get("capacity_source"),
                    delay_s=d["delay_s"], delay_source=d.get("delay_source"), distance_km=d.get("distance_km"),
                    ospf_cost=d["ospf_cost"], parallel=d.get("parallel", 1),
                    attrs={k: x for k, x in d.items() if k not in _LINK_KEYS})


def to_file_model(kg: KnowledgeGraph) -> KgFile:
    """Every layer of ``kg`` as a :class:`KgFile` (reads back to the same digest)."""
    g = kg.topology
    extra = {k: v for k, v in g.graph.items() if k not in ("name", "source", "notes")}
    return KgFile(name=g.graph.get("name") or "network", source=g.graph.get("source"),
                  notes=list(g.graph.get("notes", [])), graph_attrs=extra,
                  nodes=[_node_spec(n, d) for n, d in g.nodes(data=True)],
                  links=[_link_spec(g, u, v, d) for u, v, d in g.edges(data=True)],
                  srlgs=list(kg.srlgs), derive_srlgs=False, demands=list(kg.demands),
                  incidents=list(kg.incidents), roots=list(kg.root_ids) if kg.root_ids is not None else None)


def dumps(kg: KnowledgeGraph, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """The text of ``kg`` in the project format."""
    data = to_file_model(kg).model_dump(mode="json", exclude_defaults=True)
    if fmt == "json":
        return json.dumps(data, indent=1) + "\n"
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=None, width=120)


def write_kg(kg: KnowledgeGraph, path: str | Path, fmt: Literal["yaml", "json", "graphml"] | None = None) -> Path:
    """Write ``kg`` as YAML, JSON (all layers) or GraphML (network layer); format from the suffix by default."""
    p = Path(path)
    fmt = fmt or {".json": "json", ".graphml": "graphml", ".xml": "graphml"}.get(p.suffix.lower(), "yaml")
    if fmt == "graphml":
        write_graphml(kg.topology, p)
    else:
        p.write_text(dumps(kg, fmt), encoding="utf-8")
    return p


def load_srlgs(path: str | Path) -> list[Srlg]:
    """Declared SRLGs from a YAML/JSON file: a list of groups, or ``{srlgs: [...]}``.

    Raises
    ------
    TopologyError
        For an unreadable file or a malformed group (file, line, element).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError(str(p), f"cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    raw = _parse(text, str(p))
    items, prefix = (raw.get("srlgs"), ("srlgs",)) if isinstance(raw, dict) else (raw, ())
    if not isinstance(items, list):
        raise TopologyError(str(p), "expected a list of SRLGs or a mapping with 'srlgs'")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Srlg.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise TopologyError(str(p), f"{_where(text, (*prefix, i, *err['loc']))}: {err['msg']}") from None
    return out
