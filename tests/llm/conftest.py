"""Fixtures of the generator tests: real knowledge graphs (embedded Abilene, Topology Zoo files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ani.kg.model import KnowledgeGraph, build_kg
from ani.kg.topology import load_graphml, load_topology

#: Zoo networks the baselines are checked on: small, mid-size with SRLGs, larger.
ZOO = ("Abilene", "Geant2010", "Deltacom", "TataNld")


@pytest.fixture(scope="session")
def abilene_kg() -> KnowledgeGraph:
    """The embedded Abilene network with all its layers (gravity demands, derived SRLGs)."""
    return build_kg(load_topology("abilene"))


@pytest.fixture(scope="session")
def zoo_kgs(shared_data: Path) -> dict[str, KnowledgeGraph]:
    """Knowledge graphs of the real Topology Zoo files in ``ZOO`` that are present."""
    out = {}
    for name in ZOO:
        path = shared_data / "topologyzoo" / f"{name}.graphml"
        if path.is_file():
            out[name] = build_kg(load_graphml(path))
    if not out:
        pytest.skip("none of the Topology Zoo files of the generator tests is present")
    return out
