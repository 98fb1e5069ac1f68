"""The exact request each provider sends, through the real client libraries and a mocked HTTP transport.

No server is involved: ``httpx.MockTransport`` answers in place of Ollama
and of an OpenAI-compatible server (a FAKE server: canned replies), and
records the request the real ``langchain-ollama`` / ``langchain-openai``
clients built. For llama.cpp the FAKE is the ``Llama`` object
(``fakes_llamacpp.ScriptedLlama``, run in the real child process), so the test
sees what llama.cpp is handed; the real model runs in ``test_gen_smollm2.py``,
the real llama-cpp-python server in ``test_gen_server.py``, and a tiny real
HTTP server with scripted answers in ``test_gen_dialects.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="the 'llm' extra is not installed")
httpx = pytest.importorskip("httpx", reason="the 'llm' extra is not installed")

from ani.llm.constraints import GenerationConstraints, step_choices  # noqa: E402
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
    assert body["model"] == "served-model" and body["seed"] == 5000 and body["max_tokens"] == 200
    assert "max_completion_tokens" not in body, "a server at a base_url gets the classic max_tokens"
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


#: the /api/chat request fields and the "format" values of the Ollama API documentation (docs/api.md:
#: "format: the format to return a response in. Format can be `json` or a JSON schema")
OLLAMA_CHAT_FIELDS = {"model", "messages", "tools", "think", "format", "options", "stream", "keep_alive"}
JSON_TYPES = {"object": dict, "string": str, "integer": int, "number": (int, float), "boolean": bool}


def _conforms(value: object, schema: dict) -> bool:
    """A small JSON-schema check (type, enum, properties, required, additionalProperties, bounds)."""
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "type" in schema and not isinstance(value, JSON_TYPES[schema["type"]]):
        return False
    if isinstance(value, (int, float)) and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        return False
    if schema.get("type") != "object":
        return True
    props = schema.get("properties", {})
    return (set(schema.get("required", [])) <= set(value)
            and (schema.get("additionalProperties", True) or set(value) <= set(props))
            and all(_conforms(v, props[k]) for k, v in value.items() if k in props))


def test_ollama_request_matches_the_documented_api_fake_server_no_ollama_here(abilene_kg) -> None:
    """FAKE Ollama (no Ollama server can be installed here): the body checked against the documented API."""
    pytest.importorskip("langchain_ollama")
    server = Recorder(_ollama_reply)
    settings = LLMSettings(provider="ollama", model="llama3.2", base_url="http://ollama.test:11434")
    LLMGenerator(settings, client_kwargs={"transport": httpx.MockTransport(server)}).generate(abilene_kg, 1, C)
    body = server.body()
    assert set(body) <= OLLAMA_CHAT_FIELDS, set(body) - OLLAMA_CHAT_FIELDS
    fmt = body["format"]
    assert fmt == "json" or (isinstance(fmt, dict) and fmt["type"] == "object"), "format: 'json' or a JSON schema"
    answer = {k: v for k, v in json.loads(ANSWER).items() if k in fmt["properties"]}
    assert _conforms(answer, fmt), "the answer the schema asks for is valid under it"
    assert not _conforms(answer | {"action": "nonsense"}, fmt), "an action outside the step's enum is not"
    assert not _conforms(answer | {"extra": 1}, fmt), "nor is an extra field"
    assert all(isinstance(m["content"], str) and m["role"] in {"system", "user"} for m in body["messages"])


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
    with pytest.raises(LLMCallError, match=r"^openai:m at http://llm.test/v1: chat call failed: .*500 - boom"):
        gen.generate(abilene_kg, 1, C)


def test_llamacpp_child_gets_the_steps_grammar_compiled(abilene_kg, tmp_path, monkeypatch) -> None:
    """FAKE llama.cpp model (``fakes_llamacpp.ScriptedLlama``) in the real child process; real LlamaGrammar."""
    pytest.importorskip("llama_cpp", reason="the 'llm-local' extra is not installed")
    import fakes_llamacpp
    from ani.llm.llamacpp import ChatLlamaCpp

    monkeypatch.syspath_prepend(str(Path(fakes_llamacpp.__file__).parent))
    script = tmp_path / "model.gguf"
    script.write_text(json.dumps({"answer": ANSWER}))
    settings = LLMSettings(provider="llamacpp", model=str(script), temperature=0.1)
    chat = ChatLlamaCpp(model_path=str(script), label=settings.model_id, temperature=0.1,
                        loader="fakes_llamacpp:ScriptedLlama")
    [scenario] = LLMGenerator(settings, chat_model=chat).generate(abilene_kg, 1, C)
    chat.close()
    assert scenario.provenance.model == "llamacpp:model.gguf"
    [call] = fakes_llamacpp.calls(script)
    assert call["grammar"] == "LlamaGrammar", "the child compiled the GBNF text into a LlamaGrammar"
    assert call["temperature"] == 0.1 and call["seed"] == 5000 and call["max_tokens"] == 200
    assert [m["role"] for m in call["messages"]] == ["system", "user"]


def test_make_chat_model_builds_a_child_process_model(tmp_path) -> None:
    pytest.importorskip("llama_cpp", reason="the 'llm-local' extra is not installed")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    chat = make_chat_model(LLMSettings(provider="llamacpp", model=str(gguf), local_timeout_s=7))
    assert chat.label == "llamacpp:model.gguf" and chat.timeout_s == 7 and chat.loader == "llama_cpp:Llama"
    assert chat.worker.pid is None, "no child runs before the first call"


def test_missing_model_files_are_clear_errors(tmp_path) -> None:
    with pytest.raises(LLMUnavailableError, match="needs --model PATH"):
        make_chat_model(LLMSettings(provider="llamacpp"))
    with pytest.raises(LLMUnavailableError, match="does not exist"):
        make_chat_model(LLMSettings(provider="llamacpp", model=str(tmp_path / "none.gguf")))
    (tmp_path / "page.gguf").write_text("<html>not a model</html>")
    with pytest.raises(LLMUnavailableError, match="page.gguf is not a GGUF model file"):
        make_chat_model(LLMSettings(provider="llamacpp", model=str(tmp_path / "page.gguf")))


def test_settings_resolve_arguments_over_environment(monkeypatch) -> None:
    monkeypatch.setenv("ANI_LLM_PROVIDER", "ollama")
    monkeypatch.setenv("ANI_LLM_MODEL", "from-env")
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    monkeypatch.setenv("ANI_LLM_STRUCTURED_OUTPUT", "json_object")
    s = LLMSettings.resolve(model="from-arg", base_url=None)
    assert (s.provider, s.model, s.base_url, s.structured_output) == ("ollama", "from-arg", None, "json_object")
    assert s.api_key.get_secret_value() == "secret" and "secret" not in repr(s)

