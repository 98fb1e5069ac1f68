"""Open any supported network description as a topology or a knowledge graph.

=========================================  =========================================
input                                      read by
=========================================  =========================================
``abilene``                                the embedded network (:func:`ani.kg.topology.abilene`)
``*.graphml``, ``*.xml``                   Topology Zoo or project GraphML (:mod:`ani.kg.topology`)
``*.yaml``, ``*.yml``, ``*.json``          the project format, all layers (:mod:`ani.kg.yamlio`)
``*.txt``, ``*.bz2``, ``*.gz``             CAIDA AS relationships (:mod:`ani.kg.caida`)
=========================================  =========================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx

from .caida import load_caida
from .errors import TopologyError
from .model import KnowledgeGraph, build_kg
from .topology import load_topology
from .yamlio import read_kg

KG_SUFFIXES = (".yaml", ".yml", ".json")
CAIDA_SUFFIXES = (".txt", ".bz2", ".gz")
GRAPHML_SUFFIXES = (".graphml", ".xml")


def _suffix(spec: str) -> str:
    return Path(spec).suffix.lower()


def load_network(spec: str | Path) -> nx.Graph:
    """The topology named by ``spec`` (a project file gives its network layer and its SRLGs,
    as ``g.graph["srlgs"]``: id -> link ids, which the ns-3 renderer reads).

    Raises
    ------
    TopologyError
        For an unknown form or a file that cannot be loaded (message names it).
    """
    text = str(spec).strip()
    if text.lower() == "abilene" or _suffix(text) in GRAPHML_SUFFIXES:
        return load_topology(text)
    if _suffix(text) in CAIDA_SUFFIXES:
        return load_caida(text)
    if _suffix(text) in KG_SUFFIXES:
        kg = read_kg(text, demands=None, derive_srlgs=False)
        g = kg.topology.copy()
        if kg.srlgs:  # the file's SRLGs, so that an srlg_cut of one can be simulated
            g.graph["srlgs"] = {s.id.removeprefix("srlg:"): list(s.links) for s in kg.srlgs}
        return g
    raise TopologyError(text, "unknown network; give 'abilene' or a .graphml, .yaml/.json or CAIDA .txt/.bz2/.gz file")


def open_kg(spec: str | Path, **build: Any) -> KnowledgeGraph:
    """The knowledge graph of ``spec``: read from a project file, or built from a topology.

    ``build`` goes to :func:`ani.kg.model.build_kg` (and overrides what a
    project file says).
    """
    text = str(spec).strip()
    if _suffix(text) in KG_SUFFIXES:
        return read_kg(text, **build)
    return build_kg(load_network(text), **build)
