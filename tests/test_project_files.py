"""The licence pyproject.toml declares is there in full, and CITATION.cff cites the project, the paper and the Zoo."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_declared_licence_is_shipped_in_full() -> None:
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text and "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 190  # the full text, not a notice


def test_the_citation_file_names_the_project_the_paper_and_the_topology_zoo() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "Apache-2.0" and cff["version"] == version
    refs = {r["title"]: r for r in cff["references"]}
    paper = refs["Adversarial Network Imagination: Causal LLMs and Digital Twins for Proactive Telecom Mitigation"]
    assert paper["year"] == 2026 and [a["family-names"] for a in paper["authors"]] == ["Sriram", "Meng", "Tang", "Xi"]
    zoo = refs["The Internet Topology Zoo"]
    assert zoo["year"] == 2011 and zoo["authors"][0]["family-names"] == "Knight"
    assert "Selected Areas in Communications" in zoo["journal"]
