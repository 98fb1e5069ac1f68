"""``ani.llm.metrics`` on hand-made scenarios over the real Abilene knowledge graph."""

from __future__ import annotations

import math
from collections import Counter

from ani.llm.metrics import chain_length, entropy_bits, mean_jaccard_distance, scenario_metrics
from ani.kg.scenario import Event, EventType, Scenario

E = EventType


def _s(*events: tuple[EventType, str, float]) -> Scenario:
    return Scenario(events=[Event(event_type=k, target=t, timestamp=ts) for k, t, ts in events])


CUT = (E.fiber_link_failure, "Denver-Kansas_City", 1.0)


def test_three_levels_of_validity(abilene_kg) -> None:
    items = [
        _s(CUT),                                                    # valid
        _s(CUT, (E.router_overload, "Kansas_City", 1.5)),           # valid chain (endpoint of the cut)
        _s((E.router_failure, "Atlantis", 1.0)),                    # not grounded: unknown target
        _s((E.router_failure, "Denver-Kansas_City", 1.0)),          # not grounded: wrong kind
        _s(CUT, (E.router_failure, "Seattle", 2.0)),                # grounded, not causally valid
        {"events": [{"event_type": "meteor_strike", "target": "Denver", "timestamp": 1}]},  # not schema-valid
        "{ not json",                                                # not schema-valid
        '[{"event_type": "router_failure", "target": "Denver", "timestamp": 1.0}]',  # paper encoding, valid
    ]
    m = scenario_metrics(items, abilene_kg)
    assert m.n == 8
    assert m.schema_valid_rate == 6 / 8
    assert m.grounded_rate == 4 / 8
    assert m.causal_valid_rate == 3 / 8
    assert m.max_chain_length == 2 and m.mean_chain_length == (1 + 2 + 0 + 0 + 1 + 1) / 6


def test_diversity_measures() -> None:
    assert entropy_bits(Counter({"a": 1})) == 0.0
    assert entropy_bits(Counter({"a": 1, "b": 1, "c": 1, "d": 1})) == 2.0
    a, b, c = frozenset({1, 2}), frozenset({2, 3}), frozenset({1, 2})
    assert mean_jaccard_distance([a, b]) == 1 - 1 / 3
    assert mean_jaccard_distance([a, c]) == 0.0
    assert math.isnan(mean_jaccard_distance([a]))


def test_identical_scenarios_have_no_diversity(abilene_kg) -> None:
    m = scenario_metrics([_s(CUT)] * 5, abilene_kg)
    assert (m.distinct_actions, m.distinct_scenarios, m.action_entropy_bits, m.mean_jaccard_distance) == (1, 1, 0.0, 0.0)


def test_chain_length_stops_at_the_first_issue(abilene_kg) -> None:
    s = _s(CUT, (E.router_overload, "Kansas_City", 1.5), (E.router_failure, "Seattle", 2.0))
    assert chain_length(s, abilene_kg.validate(s)) == 2
    assert chain_length(s, []) == 3


def test_empty_set_gives_nan_rates(abilene_kg) -> None:
    m = scenario_metrics([], abilene_kg)
    assert m.n == 0 and math.isnan(m.causal_valid_rate) and m.max_chain_length == 0
    assert "causal_valid_rate" in m.table()
