"""Topology Zoo networks for the fluid tier's tests, skipped with a message where the data is absent."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from ani.kg.io import load_network

ZOO = Path("/work/shared/data/topologyzoo")


def zoo_network(name: str) -> nx.Graph:
    """The Topology Zoo network ``name`` (file stem), or skip the test naming the missing file."""
    path = ZOO / f"{name}.graphml"
    if not path.is_file():
        pytest.skip(f"{path} is absent (Topology Zoo data, see /work/shared/data/README.md)")
    return load_network(str(path))
