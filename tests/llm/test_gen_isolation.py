"""Crash isolation: llama.cpp runs in a child process, so its death or hang is a one-line error, not ours.

The child runs a FAKE model (``fakes_llamacpp.ScriptedLlama``) that really
segfaults (reads address 0), hangs, is SIGKILLed (as by the OOM killer) or
raises -- on the call its JSON script names. The parent (this pytest
process) must survive, raise the project's error naming provider and model,
keep the scenarios made before, and start a fresh child on the next call.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="the 'llm' extra is not installed")

import fakes_llamacpp  # noqa: E402
from ani.llm.base import BackendError  # noqa: E402
from ani.llm.constraints import GenerationConstraints  # noqa: E402
from ani.llm.llama_worker import LLMCrashError, LLMTimeoutError, LlamaWorker, death  # noqa: E402
from ani.llm.llamacpp import ChatLlamaCpp  # noqa: E402
from ani.llm.llm_generator import LLMGenerator  # noqa: E402
from ani.llm.providers import LLMCallError, LLMSettings  # noqa: E402

ANSWER = json.dumps({"why": "the busiest fibre", "action": "fiber_link_failure on Denver-Kansas_City",
                     "delay_ms": 120, "severity": "critical", "stop": True})
LOADER = "fakes_llamacpp:ScriptedLlama"
C = GenerationConstraints(max_events=1, seed=5, top_k=6, explore_k=2)
REQUEST = {"messages": [{"role": "user", "content": "hi"}], "grammar": None, "max_tokens": 8}


@pytest.fixture(autouse=True)
def _fakes_importable_in_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spawned child gets this process's sys.path: make sure the fakes' folder is on it."""
    monkeypatch.syspath_prepend(str(Path(fakes_llamacpp.__file__).parent))


def _script(tmp_path: Path, **script: Any) -> Path:
    path = tmp_path / "model.gguf"
    path.write_text(json.dumps({"answer": ANSWER, **script}))
    return path


def _worker(model: Path, timeout_s: float = 20.0) -> LlamaWorker:
    return LlamaWorker("llamacpp:model.gguf", str(model), {}, timeout_s, LOADER)


def test_a_segfault_in_the_child_is_a_one_line_error_and_the_next_call_restarts_it(tmp_path: Path) -> None:
    model = _script(tmp_path, calls=["answer", "segv"])
    worker = _worker(model)
    assert worker.complete(dict(REQUEST))["choices"][0]["message"]["content"] == ANSWER
    first = worker.pid
    with pytest.raises(LLMCrashError) as err:
        worker.complete(dict(REQUEST))
    msg = str(err.value)
    assert "\n" not in msg and "llamacpp:model.gguf" in msg and str(model) in msg
    assert "died by SIGSEGV (a native crash)" in msg
    assert isinstance(err.value, BackendError) and worker.pid is None
    assert worker.complete(dict(REQUEST))["choices"], "a fresh child answers the next call"
    assert worker.pid != first
    worker.close()


def test_a_hanging_child_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    worker = _worker(_script(tmp_path, calls=["hang"]), timeout_s=3.0)
    t0 = time.monotonic()
    with pytest.raises(LLMTimeoutError, match=r"llamacpp:model.gguf: no answer .* within 3 s .*child was stopped"):
        worker.complete(dict(REQUEST))
    assert time.monotonic() - t0 < 20 and worker.pid is None
    assert worker.complete(dict(REQUEST))["choices"], "the next call gets a fresh child"
    worker.close()


def test_an_oom_kill_a_python_error_and_a_failed_load_are_named(tmp_path: Path) -> None:
    worker = _worker(_script(tmp_path, calls=["abort", "raise"]))
    with pytest.raises(LLMCrashError, match=r"died by SIGKILL \(killed, e.g. out of memory\)"):
        worker.complete(dict(REQUEST))
    with pytest.raises(LLMCallError, match=r"RuntimeError: llama_decode returned -3"):
        worker.complete(dict(REQUEST))
    worker.close()
    (tmp_path / "bad").mkdir()
    broken = _worker(_script(tmp_path / "bad", load="fail"))
    with pytest.raises(LLMCallError, match=r"cannot load the model: ValueError: Failed to load model"):
        broken.complete(dict(REQUEST))
    (tmp_path / "segv").mkdir()
    with pytest.raises(LLMCrashError, match="died by SIGSEGV .* during the model load"):
        _worker(_script(tmp_path / "segv", load="segv")).complete(dict(REQUEST))


def test_death_names_signals_and_exit_codes() -> None:
    assert death(-11) == "died by SIGSEGV (a native crash)"
    assert death(-9) == "died by SIGKILL (killed, e.g. out of memory)"
    assert death(3) == "exited with status 3" and death(None) == "is unresponsive"


def _generator(model: Path, timeout_s: float = 20.0) -> LLMGenerator:
    settings = LLMSettings(provider="llamacpp", model=str(model), constrained=False, local_timeout_s=timeout_s)
    chat = ChatLlamaCpp(model_path=str(model), label=settings.model_id, loader=LOADER, timeout_s=timeout_s)
    return LLMGenerator(settings, chat_model=chat)


@pytest.mark.parametrize("fault", ["segv", "hang"])
def test_the_generator_keeps_the_scenarios_made_before_the_child_died(abilene_kg, tmp_path: Path,
                                                                      fault: str) -> None:
    model = _script(tmp_path, calls=["answer", "answer", fault])
    gen = _generator(model, timeout_s=3.0)
    result = gen.run(abilene_kg, 4, C)
    rep = result.report
    assert [s.name for s in result.scenarios] == ["llm-000", "llm-001"], "the scenarios made so far are kept"
    assert rep.proposed == 2 and rep.returned == 2
    assert rep.error and "\n" not in rep.error and rep.error.startswith("llamacpp:model.gguf")
    assert ("died by SIGSEGV" if fault == "segv" else "no answer") in rep.error
    assert len(fakes_llamacpp.calls(model)) == 3
    gen.chat.close()


def test_the_generator_raises_when_nothing_was_made(abilene_kg, tmp_path: Path) -> None:
    gen = _generator(_script(tmp_path, calls=["segv"]))
    with pytest.raises(BackendError, match="died by SIGSEGV"):
        gen.generate(abilene_kg, 2, C)
    gen.chat.close()


def test_an_empty_choice_list_from_llama_cpp_is_a_named_error(abilene_kg, tmp_path: Path) -> None:
    gen = _generator(_script(tmp_path, calls=["empty"]))
    result = gen.run(abilene_kg, 1, C)
    assert result.scenarios == [] and "returned no choice" in result.report.error
    gen.chat.close()
