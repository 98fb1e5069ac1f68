"""The controls (frontier-greedy, frontier-random, the shuffled LLM) and the one intervention policy.

Everything is real but the chat model: the Abilene knowledge graph, its frontier, the enum
``step_choices`` builds, the validator. The FAKE chat model of the shuffled-LLM test answers the
first option its prompt lists -- a model that reads the ranking, not the options.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ani.kg.event_types import EventType
from ani.kg.scenario import Event, Scenario
from ani.llm.base import rng_for, run_generator
from ani.llm.constraints import GenerationConstraints, step_choices
from ani.llm.controls import FrontierGreedyGenerator, FrontierRandomGenerator, listed, shuffled_choices
from ani.llm.policy import InterventionPolicy, with_policy
from ani.llm.registry import get_generator

C = GenerationConstraints(min_events=1, max_events=3, start_s=0.4, max_delay_s=0.2, seed=7)
LISTED = 12


def _enum(kg: Any, events: list[Event], step: int, index: int = 0) -> list[str]:
    """The labels the LLM's prompt lists at this step (its enum, cut to the listed ones)."""
    return listed(step_choices(kg.frontier(events), C, rng_for(C, index), step=step), LISTED)


def _label(e: Event) -> str:
    return f"{e.event_type.value} on {e.target}"


def test_controls_are_registered_under_their_exact_names() -> None:
    assert get_generator("frontier-greedy").name == "frontier-greedy"
    assert get_generator("frontier-random", listed_actions=5).listed_actions == 5


def test_frontier_greedy_takes_the_top_ranked_option_at_every_step(abilene_kg) -> None:
    gen = FrontierGreedyGenerator(listed_actions=LISTED)
    first, second = gen.generate(abilene_kg, 2, C)
    assert len(first.events) == C.max_events
    for step, e in enumerate(first.events):
        assert _label(e) == _enum(abilene_kg, first.events[:step], step)[0]
    # scenario 1: option 1 first, then option 0 -- the next chain in rank order
    assert _label(second.events[0]) == _enum(abilene_kg, [], 0)[1]
    assert _label(second.events[1]) == _enum(abilene_kg, second.events[:1], 1)[0]
    assert all(abilene_kg.validate(s) == [] for s in (first, second))


def test_frontier_random_draws_only_listed_options(abilene_kg) -> None:
    gen = FrontierRandomGenerator(listed_actions=LISTED)
    scenarios = gen.generate(abilene_kg, 20, C)
    assert len(scenarios) == 20 and all(abilene_kg.validate(s) == [] for s in scenarios)
    firsts = set()
    for s in scenarios:
        for step, e in enumerate(s.events):
            assert _label(e) in _enum(abilene_kg, s.events[:step], step), (step, e)  # the listed head is rank-fixed
        firsts.add(_label(s.events[0]))
    assert len(firsts) > 3  # uniform over the listed options, not the top one
    assert {len(s.events) for s in scenarios} <= set(range(C.min_events, C.max_events + 1))


def test_shuffled_choices_keep_the_options_and_change_their_order(abilene_kg) -> None:
    choices = step_choices(abilene_kg.frontier([]), C, random.Random(1))
    mixed = shuffled_choices(choices, random.Random(2))
    assert set(mixed.actions) == set(choices.actions) and mixed.labels != choices.labels
    assert mixed.actions == choices.actions  # same mapping, another order
    assert set(mixed.targets) == set(choices.targets)


def test_the_policy_fixes_severity_for_every_arm_and_the_ablation_keeps_it(abilene_kg) -> None:
    fixed = InterventionPolicy()
    for name in ("causal-walk", "frontier-greedy", "frontier-random", "rule-based", "worst-case"):
        got = run_generator(with_policy(get_generator(name), fixed), abilene_kg, 6, C)
        events = [e for s in got.scenarios for e in s.events]
        assert events and {e.severity for e in events} == {"high"}, name
        assert all(e.magnitude is None for e in events)
        assert {e.event_type for e in events} <= set(EventType)
        assert all(s.provenance and s.provenance.generator == name for s in got.scenarios)
    own = run_generator(with_policy(get_generator("frontier-greedy"), InterventionPolicy(severity="own")),
                        abilene_kg, 3, C)
    assert {e.severity for s in own.scenarios for e in s.events} == {"critical"}


def test_the_policy_drops_invalid_scenarios_before_simulation(abilene_kg) -> None:
    bare = run_generator(get_generator("random"), abilene_kg, 30, C)
    assert bare.report.invalid_returned > 0  # the random baseline proposes invalid scenarios
    got = run_generator(with_policy(get_generator("random"), InterventionPolicy()), abilene_kg, 30, C)
    assert all(abilene_kg.validate(s) == [] for s in got.scenarios)
    rep = got.report
    assert rep.invalid_returned == 0 and rep.dropped == rep.proposed - rep.valid > 0
    assert rep.returned == rep.valid


def test_same_policy_same_enum_same_events_for_every_control(abilene_kg) -> None:
    """Controls under the policy read the enum with the event types of the constraints, like the LLM."""
    only = GenerationConstraints(min_events=1, max_events=2, start_s=0.4, max_delay_s=0.2, seed=3,
                                 event_types=(EventType.fiber_link_failure, EventType.router_failure))
    for name in ("frontier-greedy", "frontier-random"):
        got = get_generator(name).generate(abilene_kg, 5, only)
        assert {e.event_type for s in got for e in s.events} <= set(only.event_types)


# --- the shuffled LLM: a fake model that answers the first option it is shown ------------------
langchain = pytest.importorskip("langchain_core", reason="the 'llm' extra (langchain-core) is not installed")


def _first_listed_model() -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class FirstListed(GenericFakeChatModel):
        """FAKE: answers the first option listed in the prompt (it reads the rank, not the options)."""

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
            text = messages[-1].content
            block = text.split("Allowed actions (most relevant first):\n", 1)[1]
            action = block.splitlines()[0][2:]
            answer = json.dumps({"why": "top", "action": action, "delay_ms": 100, "severity": "critical",
                                 "stop": False})
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=answer))])

    return FirstListed(messages=iter([]))


def test_llm_shuffled_sees_the_same_options_in_another_order(abilene_kg) -> None:
    from ani.llm.llm_generator import LLMGenerator
    from ani.llm.providers import LLMSettings

    settings = LLMSettings(provider="ollama", model="fake", context_chars=0, listed_actions=LISTED)
    plain = LLMGenerator(settings, chat_model=_first_listed_model()).generate(abilene_kg, 3, C)
    greedy = FrontierGreedyGenerator(listed_actions=LISTED).generate(abilene_kg, 1, C)[0]
    # a model that reads the ranking is the greedy control on its first scenario's first step
    assert _label(plain[0].events[0]) == _label(greedy.events[0])
    shuffled = get_generator("llm", provider="ollama", model="fake", context_chars=0, listed_actions=LISTED,
                             shuffle_options=True, chat_model=_first_listed_model()).generate(abilene_kg, 3, C)
    assert all(abilene_kg.validate(s) == [] for s in shuffled)
    firsts = {_label(s.events[0]) for s in shuffled}
    assert firsts != {_label(greedy.events[0])}  # the order changed, so the first listed did too
    top_set = set(step_choices(abilene_kg.frontier([]), C, rng_for(C, 0)).labels)
    assert firsts <= top_set  # same enum


def test_policy_applies_to_a_scenario() -> None:
    s = Scenario(events=[Event(event_type=EventType.traffic_spike, target="x", timestamp=1.0, severity="critical",
                               magnitude=8.0)])
    fixed = InterventionPolicy().apply(s)
    assert fixed.events[0].severity == "high" and fixed.events[0].magnitude is None
    assert InterventionPolicy(severity="own").apply(s) == s
