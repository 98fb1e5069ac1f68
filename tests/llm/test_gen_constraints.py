"""Step choices, JSON schemas and GBNF grammars built from real causal frontiers."""

from __future__ import annotations

import json
import random

import pytest

from ani.kg.errors import ScenarioError
from ani.llm.constraints import (
    GenerationConstraints,
    StepChoices,
    action_label,
    parse_step,
    step_choices,
    step_grammar,
    step_schema,
)
from ani.kg.scenario import Event, EventType


def _answer(action: str, delay_ms: int = 250, stop: bool | None = None, **extra: object) -> str:
    body: dict[str, object] = {"why": "because", "action": action, "delay_ms": delay_ms, "severity": "high"}
    if stop is not None:
        body["stop"] = stop
    return json.dumps(body | extra)


def test_choices_are_exactly_the_frontier_pairs_in_rank_order(abilene_kg) -> None:
    frontier = abilene_kg.frontier([])
    c = GenerationConstraints(top_k=1000, max_enum_values=10_000, max_enum_chars=10**6)
    choices = step_choices(frontier, c, random.Random(0))
    expected = [action_label(e, t) for t, types in frontier.items() for e in types]
    assert choices.labels == expected
    assert choices.cut == 0 and choices.frontier_size == len(frontier)


def test_top_k_keeps_the_best_ranked_targets_plus_seeded_exploration(abilene_kg) -> None:
    frontier = abilene_kg.frontier([])
    ranked = list(frontier)
    c = GenerationConstraints(top_k=5, explore_k=3)
    a = step_choices(frontier, c, random.Random(1))
    b = step_choices(frontier, c, random.Random(1))
    assert a.labels == b.labels, "exploration must be deterministic per seed"
    assert list(a.targets[:5]) == ranked[:5]
    assert len(a.targets) == 8 and set(a.targets) <= set(ranked)
    assert a.cut == sum(len(v) for v in frontier.values()) - len(a.actions)


@pytest.mark.parametrize(("values", "chars"), [(7, 10**6), (1000, 120)])
def test_enum_caps_bound_count_and_total_length(abilene_kg, values: int, chars: int) -> None:
    c = GenerationConstraints(top_k=1000, max_enum_values=values, max_enum_chars=chars)
    choices = step_choices(abilene_kg.frontier([]), c, random.Random(0))
    assert 0 < len(choices.actions) <= values
    assert sum(len(label) for label in choices.labels) <= chars
    schema = step_schema(choices, c)
    assert schema["properties"]["action"]["enum"] == choices.labels


def test_event_type_restriction_applies_before_ranking(abilene_kg) -> None:
    c = GenerationConstraints(event_types=(EventType.fiber_link_failure,), top_k=1000)
    choices = step_choices(abilene_kg.frontier([]), c, random.Random(0))
    assert {e for e, _ in choices.actions.values()} == {EventType.fiber_link_failure}
    assert len(choices.actions) == 14  # every Abilene link, nothing else


def test_schema_is_in_the_strict_subset_and_stop_only_when_allowed(abilene_kg) -> None:
    c = GenerationConstraints(min_events=2, max_events=3, max_delay_s=1.5)
    first = step_choices(abilene_kg.frontier([]), c, random.Random(0), step=0)
    second = step_choices(abilene_kg.frontier([]), c, random.Random(0), step=1)
    last = step_choices(abilene_kg.frontier([]), c, random.Random(0), step=2)
    assert (first.allow_stop, second.allow_stop, last.allow_stop) == (False, True, False)
    s0, s1 = step_schema(first, c), step_schema(second, c)
    assert "stop" not in s0["properties"] and "stop" in s1["properties"]
    for schema in (s0, s1):
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == set(schema["properties"])
        assert schema["properties"]["delay_ms"] == {"type": "integer", "minimum": 1, "maximum": 1500,
                                                     "description": schema["properties"]["delay_ms"]["description"]}


def test_grammar_lists_the_same_actions_and_compiles_in_llama_cpp(abilene_kg) -> None:
    c = GenerationConstraints(max_delay_s=2.0)
    choices = step_choices(abilene_kg.frontier([]), c, random.Random(0))
    grammar = step_grammar(choices, c)
    action_rule = next(line for line in grammar.splitlines() if line.startswith("action ::="))
    assert action_rule.count(" | ") == len(choices.actions) - 1
    for label in choices.labels:
        assert f'"\\"{label}\\""' in action_rule
    assert "delay ::= [1-9] [0-9]{0,3}" in grammar  # at most 4 digits for 2000 ms
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python (the llm-local extra) is not installed")
    llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)


def test_grammar_escapes_quotes_and_backslashes_in_targets() -> None:
    odd = 'a"b\\c'
    choices = StepChoices(actions={action_label(EventType.router_failure, odd): (EventType.router_failure, odd)})
    grammar = step_grammar(choices, GenerationConstraints())
    assert '"\\"router_failure on a\\\\\\"b\\\\\\\\c\\""' in grammar
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python (the llm-local extra) is not installed")
    llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)


def test_empty_frontier_has_no_schema() -> None:
    with pytest.raises(ScenarioError, match="frontier is empty"):
        step_schema(StepChoices(actions={}), GenerationConstraints())


def test_parse_step_maps_labels_clamps_delays_and_rejects_malformed(abilene_kg) -> None:
    c = GenerationConstraints(max_delay_s=1.0)
    choices = step_choices(abilene_kg.frontier([]), c, random.Random(0))
    label = choices.labels[0]
    ok = parse_step(_answer(label, delay_ms=99_999), choices, c)
    assert (ok.event_type, ok.target) == choices.actions[label] and ok.delay_s == 1.0
    assert parse_step(_answer(label, delay_ms=-5), choices, c).delay_s == 0.001
    off = parse_step(_answer("router_failure on Nowhere"), choices, c)
    assert (off.event_type, off.target) == (EventType.router_failure, "Nowhere")  # the validator judges it
    for bad in ("not json", _answer("explode Denver"), _answer("melt on Denver"), _answer(label, extra_key=1),
                json.dumps({"action": label})):
        with pytest.raises(ScenarioError, match="schema-invalid|not '<event_type> on <target>'|unknown event type"):
            parse_step(bad, choices, c)


def test_stop_is_ignored_where_not_allowed(abilene_kg) -> None:
    c = GenerationConstraints(min_events=2, max_events=3)
    choices = step_choices(abilene_kg.frontier([]), c, random.Random(0), step=0)
    assert parse_step(_answer(choices.labels[0], stop=True), choices, c).stop is False


def test_frontier_after_an_event_drives_the_next_step(abilene_kg) -> None:
    cut = Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City", timestamp=1.0)
    choices = step_choices(abilene_kg.frontier([cut]), GenerationConstraints(top_k=1000), random.Random(0))
    assert choices.actions
    assert all(e in abilene_kg.frontier([cut])[t] for e, t in choices.actions.values())
    assert (EventType.fiber_link_failure, "Denver-Kansas_City") not in choices.actions.values()
