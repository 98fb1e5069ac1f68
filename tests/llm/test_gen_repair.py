"""The repair loop of the LLM generator, driven by a scripted FAKE chat model (no LLM involved).

``ScriptedFakeChatModel`` is langchain-core's ``GenericFakeChatModel`` that
also records what each call received: it returns the scripted answers in
order, whatever the prompt or the schema. Everything else is real: the
Abilene knowledge graph, its frontier and its validator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="the 'llm' extra (langchain-core) is not installed")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from pydantic import Field  # noqa: E402

from ani.llm.constraints import GenerationConstraints  # noqa: E402
from ani.llm.llm_generator import LLMGenerator  # noqa: E402
from ani.llm.providers import LLMSettings  # noqa: E402
from ani.kg.scenario import Event, EventType  # noqa: E402

CUT = "fiber_link_failure on Denver-Kansas_City"


class ScriptedFakeChatModel(GenericFakeChatModel):
    """FAKE: replays scripted answers and records (messages, call options) of every call."""

    calls: list[tuple[list[Any], dict[str, Any]]] = Field(default_factory=list)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append((list(messages), dict(kwargs)))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def answer(action: str, delay_ms: int = 200, stop: bool = False, why: str = "next") -> str:
    return json.dumps({"why": why, "action": action, "delay_ms": delay_ms, "severity": "high", "stop": stop})


def _second_step(kg) -> str:
    """A valid action after the Denver-Kansas City cut, from the real frontier."""
    cut = Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City", timestamp=1.0)
    target, types = next(iter(kg.frontier([cut]).items()))
    return f"{types[0].value} on {target}"


def _generator(script: list[str], provider: str = "ollama") -> tuple[LLMGenerator, ScriptedFakeChatModel]:
    fake = ScriptedFakeChatModel(messages=iter(script))
    settings = LLMSettings(provider=provider, model="scripted-fake", context_chars=600)
    return LLMGenerator(settings, chat_model=fake), fake


def test_invalid_then_valid_is_repaired_and_counted(abilene_kg) -> None:
    script = [answer("router_failure on Denver-Kansas_City"),  # wrong kind: a link cannot fail as a router
              answer(CUT), answer(_second_step(abilene_kg), stop=True)]
    gen, fake = _generator(script)
    result = gen.run(abilene_kg, 1, GenerationConstraints(min_events=2, max_events=2))
    rep = result.report
    assert (rep.proposed, rep.returned, rep.first_try_valid, rep.valid, rep.repaired, rep.dropped) == (1, 1, 0, 1, 1, 0)
    assert (rep.attempts, rep.llm_calls) == (2, 3)
    assert rep.issue_codes == {"wrong_kind": 1}
    [rejection] = result.rejected
    assert rejection.issues[0].code == "wrong_kind" and rejection.events[0].target == "Denver-Kansas_City"
    repair_prompt = fake.calls[1][0][-1].content
    assert "broke these rules" in repair_prompt and "wrong_kind (event 0)" in repair_prompt
    s = result.scenarios[0]
    assert abilene_kg.validate(s) == []
    assert s.provenance.attempts == 2 and s.provenance.first_try_valid is False
    assert s.provenance.model == "ollama:scripted-fake" and len(s.provenance.prompt_sha256) == 16


def test_repair_keeps_the_valid_prefix(abilene_kg) -> None:
    script = [answer(CUT), answer("router_failure on Seattle"),  # Seattle is not reachable from the cut
              answer(_second_step(abilene_kg), stop=True)]
    gen, fake = _generator(script)
    result = gen.run(abilene_kg, 1, GenerationConstraints(min_events=2, max_events=2))
    assert result.report.repaired == 1 and result.report.llm_calls == 3
    assert result.rejected[0].issues[0].code == "not_reachable"
    third_prompt = fake.calls[2][0][-1].content
    assert '"target": "Denver-Kansas_City"' in third_prompt.split("Scenario so far:")[1], "the prefix is kept"
    assert result.scenarios[0].events[0].target == "Denver-Kansas_City"


def test_schema_invalid_answers_are_violations_too(abilene_kg) -> None:
    gen, fake = _generator(["Sure! Here is the event: the Denver link fails.", answer(CUT, stop=True)])
    result = gen.run(abilene_kg, 1, GenerationConstraints(max_events=1))
    assert result.report.first_try_valid == 0 and result.report.valid == 1
    assert result.report.issue_codes == {"schema_invalid": 1}
    assert "schema_invalid (event 0)" in fake.calls[1][0][-1].content


def test_a_scenario_still_invalid_after_the_last_attempt_is_dropped(abilene_kg) -> None:
    gen, _ = _generator([answer("router_failure on Atlantis")] * 2 + ["{not json"])
    result = gen.run(abilene_kg, 1, GenerationConstraints(max_events=1, max_attempts=3))
    rep = result.report
    assert (rep.returned, rep.dropped, rep.valid, rep.attempts, rep.llm_calls) == (0, 1, 0, 3, 3)
    assert rep.issue_codes == {"unknown_target": 2, "schema_invalid": 1}
    assert [r.issues[0].code for r in result.rejected] == ["unknown_target", "unknown_target", "schema_invalid"]


def test_every_step_is_sent_the_frontier_as_a_schema_enum(abilene_kg) -> None:
    second = _second_step(abilene_kg)
    gen, fake = _generator([answer(CUT), answer(second, stop=True)])
    gen.run(abilene_kg, 1, GenerationConstraints(min_events=1, max_events=3))
    (m0, opts0), (m1, opts1) = fake.calls
    enum0 = opts0["format"]["properties"]["action"]["enum"]
    enum1 = opts1["format"]["properties"]["action"]["enum"]
    assert CUT in enum0 and CUT not in enum1 and second in enum1
    cut = Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City", timestamp=1.0)
    frontier = abilene_kg.frontier([cut])
    assert all(a.split(" on ")[1] in frontier for a in enum1)
    assert "Network knowledge graph (context):\nnetwork Abilene" in m0[-1].content


def test_feedback_digest_reaches_the_prompt(abilene_kg) -> None:
    from ani.llm.feedback import Feedback, PastScenario

    past = PastScenario(name="p", kpis={"loss_pct": 4.67},
                        events=[Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City",
                                      timestamp=1.0)])
    gen, fake = _generator([answer(CUT, stop=True)])
    gen.run(abilene_kg, 1, GenerationConstraints(max_events=1), Feedback(past=[past], goal="maximise loss"))
    prompt = fake.calls[0][0][-1].content
    assert "Goal: maximise loss" in prompt and "loss_pct=4.67" in prompt


def test_unconstrained_mode_sends_no_schema(abilene_kg) -> None:
    fake = ScriptedFakeChatModel(messages=iter([answer(CUT, stop=True)]))
    gen = LLMGenerator(LLMSettings(provider="ollama", model="scripted-fake", constrained=False), chat_model=fake)
    assert gen.generate(abilene_kg, 1, GenerationConstraints(max_events=1))
    assert fake.calls[0][1] == {}
