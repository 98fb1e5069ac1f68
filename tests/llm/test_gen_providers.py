"""The exact request each provider sends, through the real client libraries and a mocked HTTP transport.

No server is involved: ``httpx.MockTransport`` answers in place of Ollama
and of an OpenAI-compatible server (a FAKE server: canned replies), and
records the request the real ``langchain-ollama`` / ``langchain-openai``
clients built. For in-process llama.cpp the FAKE is the ``Llama`` object
(``FakeLlama``), so the test sees the grammar handed to llama.cpp; the real
model runs in ``test_gen_smollm2.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="the 'llm' extra is not installed")
httpx = pytest.importorskip("httpx", reason="the 'llm' extra is not installed")

from ani.llm.constraints import GenerationConstraints, step_choices, step_grammar  # noqa: E402
from ani.llm.llm_generator import LLMCallError, LLMGenerator  # noqa: E402
from ani.llm.providers import LLMSettings, LLMUnavailableError, make_chat_model  # noqa: E402

CUT = "fiber_link_failure on Denver-Kansas_City"
ANSWER = json.dumps({"why": "the busiest fibre", "action": CUT, "delay_ms": 120, "severity": "critical",
                     "stop": True})
C = GenerationConstraints(max_events=1, seed=5, top_k=6, explore_k=2)


class Recorder:
    """FAKE server: records every request and answers with ``reply(request)``."""

    def __init__(self, reply: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)

    def body(self, i: int = 0) -> dict[str, Any]:
        return json.loads(self.requests[i].content)


def _openai_reply(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "served-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})


def _ollama_reply(_: httpx.Request) -> httpx.Response:
    line = {"model": "llama3.2", "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": ANSWER}, "done": True, "done_reason": "stop"}
    return httpx.Response(200, content=(json.dumps(line) + "\n").encode(),
                          headers={"content-type": "application/x-ndjson"})


def _expected_enum(kg) -> list[str]:
    from ani.llm.base import rng_for

    return step_choices(kg.frontier([]), C, rng_for(C, 0)).labels


def test_openai_compatible_request_carries_a_strict_json_schema(abilene_kg) -> None:
    pytest.importorskip("langchain_openai")
    server = Recorder(_openai_reply)
    settings = LLMSettings(provider="openai", model="served-model", base_url="http://llm.test/v1", api_key="k")
    gen = LLMGenerator(settings, http_client=httpx.Client(transport=httpx.MockTransport(server)))
    [scenario] = gen.generate(abilene_kg, 1, C)
    assert scenario.events[0].target == "Denver-Kansas_City" and scenario.events[0].timestamp == 1.12
    req = server.requests[0]
    assert req.url == "http://llm.test/v1/chat/completions" and req.headers["authorization"] == "Bearer k"
    body = server.body()
    assert body["model"] == "served-model" and body["seed"] == 5000 and body["max_completion_tokens"] == 200
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "next_event" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
    assert schema["properties"]["action"]["enum"] == _expected_enum(abilene_kg)
    assert schema["properties"]["severity"]["enum"] == ["low", "medium", "high", "critical"]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_ollama_request_carries_the_schema_as_format(abilene_kg) -> None:
    pytest.importorskip("langchain_ollama")
    server = Recorder(_ollama_reply)
    settings = LLMSettings(provider="ollama", model="llama3.2", base_url="http://ollama.test:11434", seed=9)
    gen = LLMGenerator(settings, client_kwargs={"transport": httpx.MockTransport(server)})
    [scenario] = gen.generate(abilene_kg, 1, C)
    assert scenario.events[0].target == "Denver-Kansas_City"
    req = server.requests[0]
    assert req.url == "http://ollama.test:11434/api/chat"
    body = server.body()
    assert body["model"] == "llama3.2" and body["options"]["seed"] == 9 and body["options"]["num_predict"] == 200
    assert body["format"]["properties"]["action"]["enum"] == _expected_enum(abilene_kg)
    assert body["format"]["additionalProperties"] is False
    assert "strict" not in body and "response_format" not in body


def test_unconstrained_requests_carry_no_schema(abilene_kg) -> None:
    pytest.importorskip("langchain_openai")
    server = Recorder(_openai_reply)
    settings = LLMSettings(provider="openai", model="m", base_url="http://llm.test/v1", constrained=False)
    LLMGenerator(settings, http_client=httpx.Client(transport=httpx.MockTransport(server))).generate(abilene_kg, 1, C)
    assert "response_format" not in server.body()


def test_server_errors_become_a_project_error_naming_the_model(abilene_kg) -> None:
    pytest.importorskip("langchain_openai")
    server = Recorder(lambda _: httpx.Response(500, json={"error": {"message": "boom"}}))
    settings = LLMSettings(provider="openai", model="m", base_url="http://llm.test/v1")
    gen = LLMGenerator(settings, http_client=httpx.Client(transport=httpx.MockTransport(server)))
    with pytest.raises(LLMCallError, match="openai:m: chat call failed"):
        gen.generate(abilene_kg, 1, C)


class FakeLlama:
    """FAKE llama.cpp model object: records create_chat_completion's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"choices": [{"message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
                "usage": {}}


def test_llamacpp_wrapper_hands_llama_cpp_the_steps_grammar(abilene_kg, tmp_path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="the 'llm-local' extra is not installed")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    settings = LLMSettings(provider="llamacpp", model=str(gguf), temperature=0.1)
    chat = make_chat_model(settings)
    fake = FakeLlama()
    chat._llama = fake
    gen = LLMGenerator(settings, chat_model=chat)
    [scenario] = gen.generate(abilene_kg, 1, C)
    assert scenario.provenance.model == "llamacpp:model.gguf"
    call = fake.calls[0]
    assert isinstance(call["grammar"], llama_cpp.LlamaGrammar)
    assert call["temperature"] == 0.1 and call["seed"] == 5000 and call["max_tokens"] == 200
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    from ani.llm.base import rng_for

    grammar = step_grammar(step_choices(abilene_kg.frontier([]), C, rng_for(C, 0)), C)
    assert grammar in chat._grammars, "the grammar compiled is the step's grammar"


def test_missing_model_files_are_clear_errors(tmp_path) -> None:
    with pytest.raises(LLMUnavailableError, match="needs --model PATH"):
        make_chat_model(LLMSettings(provider="llamacpp"))
    with pytest.raises(LLMUnavailableError, match="does not exist"):
        make_chat_model(LLMSettings(provider="llamacpp", model=str(tmp_path / "none.gguf")))


def test_settings_resolve_arguments_over_environment(monkeypatch) -> None:
    monkeypatch.setenv("ANI_LLM_PROVIDER", "ollama")
    monkeypatch.setenv("ANI_LLM_MODEL", "from-env")
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    s = LLMSettings.resolve(model="from-arg", base_url=None)
    assert (s.provider, s.model, s.base_url) == ("ollama", "from-arg", None)
    assert s.api_key.get_secret_value() == "secret" and "secret" not in repr(s)

