"""Hostile text is data: node names and LLM answers with code, template syntax or shell
metacharacters never change a prompt's structure, never reach the ns-3 program, never run.

The LLM is a scripted FAKE chat model (see ``test_gen_repair.py``); the graph,
the generator, the validator and the ns-3 renderer are real.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

pytest.importorskip("langchain_core", reason="the 'llm' extra is not installed")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402

from ani.kg.model import build_kg  # noqa: E402
from ani.kg.topology import load_graphml  # noqa: E402
from ani.llm.constraints import GenerationConstraints, StepChoices  # noqa: E402
from ani.llm.llm_generator import LLMGenerator  # noqa: E402
from ani.llm.prompts import step_prompt  # noqa: E402
from ani.llm.providers import LLMSettings  # noqa: E402
from ani.ns3_scenarios.render import render  # noqa: E402
from ani.ns3_scenarios.templates import get_template  # noqa: E402

CANARY = "ani_canary_pwned"
HOSTILE_LABELS = [
    "{{7*7}} {% import os %}",
    f"$(touch {CANARY}) `touch {CANARY}`",
    f"__import__('os').system('touch {CANARY}')",
    "a\"; rm -rf / #",
]
HOSTILE_TEXT = f"{{{{config}}}} $(touch {CANARY}); __import__('os').system('x') </script> {{0}}"


def _ring_graphml(labels: list[str], name: str) -> str:
    nodes = "".join(f'<node id="{i}"><data key="l">{escape(lbl)}</data></node>' for i, lbl in enumerate(labels))
    n = len(labels)
    edges = "".join(f'<edge source="{i}" target="{(i + 1) % n}"><data key="s">1e9</data></edge>' for i in range(n))
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
            '<key attr.name="label" attr.type="string" for="node" id="l"/>'
            '<key attr.name="LinkSpeedRaw" attr.type="double" for="edge" id="s"/>'
            '<key attr.name="Network" attr.type="string" for="graph" id="g"/>'
            f'<graph edgedefault="undirected"><data key="g">{escape(name)}</data>{nodes}{edges}</graph></graphml>')


@pytest.fixture()
def hostile_kg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # a canary created by anything would land here
    path = tmp_path / "hostile.graphml"
    path.write_text(_ring_graphml(HOSTILE_LABELS, "net {{7*7}} $(id)"))
    return build_kg(load_graphml(path))


def _fake(script: list[str]) -> GenericFakeChatModel:
    """FAKE chat model: replays ``script``."""
    return GenericFakeChatModel(messages=iter(script))


def _answer(action: str, why: str = HOSTILE_TEXT) -> str:
    return json.dumps({"why": why, "action": action, "delay_ms": 50, "severity": "high", "stop": True})


def test_hostile_labels_become_safe_ids(hostile_kg) -> None:
    for node in hostile_kg.topology.nodes:
        assert all(ch.isalnum() or ch in "_." for ch in node), node
    assert hostile_kg.components()


def test_prompt_keeps_template_syntax_verbatim() -> None:
    context = "node {x} {{y}} {0} %s $(z) `w`"
    prompt = step_prompt(context, "goal {feedback}", [], [], StepChoices(actions={}), 0, 3, 10)
    assert context in prompt.text() and "goal {feedback}" in prompt.text()


def test_hostile_llm_text_stays_description_and_never_reaches_the_program(hostile_kg, tmp_path: Path) -> None:
    link = next(c for c in hostile_kg.components() if hostile_kg.kind(c) == "link")
    gen = LLMGenerator(LLMSettings(provider="ollama", model="fake"), chat_model=_fake(
        [_answer(f"fiber_link_failure on {link}")]))
    [scenario] = gen.generate(hostile_kg, 1, GenerationConstraints(max_events=1))
    assert HOSTILE_TEXT[:60] in scenario.description, "the model's text is kept as description"
    template = get_template("ospf_failure")
    spec = render(template, scenario, hostile_kg.topology, template.params())
    text = spec.input_text()
    for needle in ("{{", "$(", "__import__", "system(", "</script>", "rm -rf", "`"):
        assert needle not in text, needle
    assert spec.program_source == template.source(), "no graph or LLM text is pasted into the program"
    assert not list(tmp_path.rglob(f"*{CANARY}*")), "nothing was executed"


def test_hostile_llm_targets_are_rejected_not_run(hostile_kg, tmp_path: Path) -> None:
    script = [_answer(f"router_failure on $(touch {CANARY})"), _answer("router_failure on {{7*7}}")]
    gen = LLMGenerator(LLMSettings(provider="ollama", model="fake", constrained=False), chat_model=_fake(script))
    result = gen.run(hostile_kg, 1, GenerationConstraints(max_events=1, max_attempts=2))
    assert result.scenarios == [] and result.report.dropped == 1
    assert result.report.issue_codes == {"unknown_target": 2}
    assert not list(tmp_path.rglob(f"*{CANARY}*"))
