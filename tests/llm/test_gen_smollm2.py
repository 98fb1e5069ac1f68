"""A real language model, offline: SmolLM2-135M-Instruct in process (llama.cpp), constrained by GBNF.

A 135M model writes poor scenarios; the point is that the constraints hold
for any model: under the step grammars no event can leave the causal
frontier, so no scenario breaks a graph rule (only a truncated answer can be
schema-invalid, and then it is repaired or dropped, and counted).

llama.cpp runs in a child process of the chat model
(:mod:`ani.llm.llama_worker`): a native crash of the model (as the AMX kernel
of a native build on some Xeon VMs) fails these tests with a one-line error,
it cannot end the test session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("langchain_core", reason="the 'llm' extra is not installed")
pytest.importorskip("llama_cpp", reason="the 'llm-local' extra (llama-cpp-python) is not installed")

from ani.llm.constraints import GenerationConstraints  # noqa: E402
from ani.llm.llm_generator import LLMGenerator  # noqa: E402
from ani.llm.metrics import scenario_metrics  # noqa: E402
from ani.llm.providers import LLMSettings, LLMUnavailableError, smollm2_path  # noqa: E402
from ani.kg.scenario import Scenario  # noqa: E402
from ani.orchestrator.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def smollm2() -> LLMGenerator:
    try:
        smollm2_path()
    except LLMUnavailableError as exc:
        pytest.skip(str(exc))
    settings = LLMSettings(provider="smollm2", temperature=0.7, context_chars=800, listed_actions=12, seed=1)
    return LLMGenerator(settings)


@pytest.mark.llm
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_smollm2_generates_constrained_scenarios_on_abilene(smollm2: LLMGenerator, abilene_kg) -> None:
    constraints = GenerationConstraints(min_events=1, max_events=2, top_k=8, explore_k=2, seed=11)
    result = smollm2.run(abilene_kg, 2, constraints)
    rep = result.report
    assert rep.proposed == 2 and rep.returned + rep.dropped == 2
    assert rep.returned >= 1, rep
    assert set(rep.issue_codes) <= {"schema_invalid"}, f"a graph rule was broken under the grammar: {rep}"
    assert rep.llm_calls >= rep.returned and rep.attempts >= 2
    for s in result.scenarios:
        assert abilene_kg.validate(s) == []
        assert s.provenance.model == "smollm2:SmolLM2-135M-Instruct.Q4_1" and s.provenance.prompt_sha256
        assert s.events[0].timestamp > constraints.start_s
    m = scenario_metrics(result.scenarios, abilene_kg)
    assert m.causal_valid_rate == 1.0 and m.grounded_rate == 1.0


@pytest.mark.llm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_any_gguf_file_runs_by_path_through_the_cli(smollm2: LLMGenerator, abilene_kg, tmp_path: Path) -> None:
    """``--provider llamacpp --model PATH.gguf`` (here SmolLM2's file) as the README prints it."""
    args = ["generate", "--generator", "llm", "--provider", "llamacpp", "--model", str(smollm2_path()),
            "--topology", "abilene", "-n", "1", "--max-events", "2", "--seed", "4", "--out", str(tmp_path)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "generator llm (llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf): requested 1" in res.output
    for f in tmp_path.glob("llm-*.json"):
        assert abilene_kg.validate(Scenario.model_validate_json(f.read_text())) == []
