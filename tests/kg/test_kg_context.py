"""Prompt context: k-hop neighbourhood text within a size budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kg_graphs import make_graph

from ani.kg.errors import UnknownComponentError
from ani.kg.model import build_kg
from ani.kg.srlg import Srlg
from ani.kg.topology import abilene

KG = build_kg(abilene(), srlgs=[Srlg(id="west", links=("Seattle-Sunnyvale", "Sunnyvale-Los_Angeles"))])


def test_neighbourhood_of_a_link() -> None:
    text = KG.context(["Kansas_City-Denver"], budget_chars=4000)
    lines = text.splitlines()
    assert lines[0].startswith("network Abilene: 11 nodes, 14 links, 1 SRLGs, 110 demands")
    assert KG.digest in lines[0]
    assert lines[1] == "focus: Denver-Kansas_City (link)"
    assert any(line.startswith("Denver-Kansas_City 9.95G") and line.endswith("%") for line in lines)
    assert "New_York" not in text  # more than 2 hops from Denver and Kansas City


def test_srlg_focus_lists_the_group() -> None:
    text = KG.context(["srlg:west"], budget_chars=4000)
    assert "srlg:west declared: Seattle-Sunnyvale, Sunnyvale-Los_Angeles" in text


@settings(max_examples=30, deadline=None)
@given(st.integers(60, 3000), st.sampled_from(["Denver", "Chicago-Indianapolis", "srlg:west"]))
def test_never_exceeds_the_budget(budget: int, focus: str) -> None:
    text = KG.context([focus], budget_chars=budget)
    assert len(text) <= budget
    if budget >= 400:
        assert text.splitlines()[1].startswith(f"focus: {focus}")


def test_hub_keeps_its_best_neighbours() -> None:
    leaves = [f"L{i}" for i in range(300)]
    kg = build_kg(make_graph(["Hub", *leaves], [("Hub", x) for x in leaves]), demands=None)
    text = kg.context(["Hub"], budget_chars=1500)
    assert len(text) <= 1500 and "Hub router" in text and "more" in text.splitlines()[-1]


def test_unknown_component() -> None:
    with pytest.raises(UnknownComponentError):
        KG.context(["Atlantis"])
