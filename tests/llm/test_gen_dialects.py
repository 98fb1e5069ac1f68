"""Server dialects and bad answers, against a tiny real HTTP server (``http.server`` in a thread).

The server is real (sockets, HTTP, the real ``langchain-openai`` / ``openai``
clients); its answers are scripted per test: the dialect of llama-cpp-python's
server (HTTP 500 to ``json_schema``), a grammar-only server, and every bad
answer a server can give (down, HTML, non-JSON, truncated JSON, no choice, a
200 carrying an error). Each ends in the repair loop or in a one-line error
naming the provider and the URL, with the scenarios made before kept.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("langchain_openai", reason="the 'llm' extra is not installed")

from ani.llm.constraints import GenerationConstraints  # noqa: E402
from ani.llm.llm_generator import LLMGenerator  # noqa: E402
from ani.llm.providers import LLMSettings  # noqa: E402
from ani.orchestrator.cli import main  # noqa: E402

ANSWER = json.dumps({"why": "the busiest fibre", "action": "fiber_link_failure on Denver-Kansas_City",
                     "delay_ms": 120, "severity": "critical", "stop": True})
C = GenerationConstraints(max_events=1, seed=5, top_k=6, explore_k=2, max_attempts=2)
#: what llama-cpp-python 0.3.36's server answers (HTTP 500) to a json_schema response format (recorded here)
LCPP_500 = {"error": {"message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                      "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': "
                      "'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"...app.py\", "
                      "line 376, in create_chat_completion\n    POST /v1/chat/completions",
                      "type": "internal_server_error", "param": None, "code": None}}

Reply = tuple[int, str, bytes]


def completion(content: str = ANSWER, choices: bool = True) -> Reply:
    body = {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
            if choices else [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return 200, "application/json", json.dumps(body).encode()


class Server:
    """A real HTTP server on 127.0.0.1 whose answers come from ``reply(body, n)`` (n = request number)."""

    def __init__(self, reply: Callable[[dict[str, Any], int], Reply]) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.bodies.append(body)
                status, ctype, data = reply(body, len(outer.bodies) - 1)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(reply: Callable[[dict[str, Any], int], Reply]) -> Server:
        servers.append(Server(reply))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def llama_cpp_python_dialect(body: dict[str, Any], _: int) -> Reply:
    """Like llama-cpp-python's server: json_object + schema or grammar, HTTP 500 to json_schema."""
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return 500, "application/json", json.dumps(LCPP_500).encode()
    return completion()


def test_auto_falls_back_to_json_object_for_llama_cpp_python_and_remembers_it(abilene_kg, serve) -> None:
    server = serve(llama_cpp_python_dialect)
    gen = LLMGenerator(LLMSettings(provider="openai", model="m", base_url=server.url))
    scenarios = gen.generate(abilene_kg, 2, C)
    assert len(scenarios) == 2
    kinds = [b.get("response_format", {}).get("type") for b in server.bodies]
    # json_schema refused (the openai client retries a 500 once), then json_object for every later call
    assert kinds[0] == "json_schema" and kinds[-2:] == ["json_object", "json_object"]
    assert kinds.count("json_schema") <= 2 and gen.dialect.form == "json_object"
    body = server.bodies[-1]
    assert body["response_format"]["schema"]["properties"]["action"]["enum"]
    assert body["max_tokens"] == 200 and "max_completion_tokens" not in body, "llama-cpp-python honours max_tokens"


def test_a_server_that_only_takes_a_grammar_gets_one(abilene_kg, serve) -> None:
    def grammar_only(body: dict[str, Any], _: int) -> Reply:
        if "response_format" in body:
            return 400, "application/json", b'{"error": {"message": "response_format is not supported"}}'
        return completion()
    server = serve(grammar_only)
    gen = LLMGenerator(LLMSettings(provider="openai", model="m", base_url=server.url))
    assert len(gen.generate(abilene_kg, 1, C)) == 1
    assert [("response_format" in b, "grammar" in b) for b in server.bodies] == [
        (True, False), (True, False), (False, True)]
    assert server.bodies[-1]["grammar"].startswith("root ::=") and gen.dialect.form == "grammar"


@pytest.mark.parametrize("form", ["json_schema", "json_object", "grammar", "none"])
def test_the_structured_output_option_fixes_the_form(abilene_kg, serve, form: str) -> None:
    server = serve(lambda body, n: completion())
    settings = LLMSettings(provider="openai", model="m", base_url=server.url, structured_output=form)
    LLMGenerator(settings).generate(abilene_kg, 1, C)
    [body] = server.bodies
    assert (body.get("response_format") or {}).get("type") == (form if form.startswith("json") else None)
    assert ("grammar" in body) == (form == "grammar")


def test_official_openai_gets_max_completion_tokens() -> None:
    s = LLMSettings(provider="openai", model="gpt-4o-mini")
    assert s.token_cap_field == "max_completion_tokens" and s.endpoint == "https://api.openai.com/v1"
    assert LLMSettings(provider="openai", base_url="http://127.0.0.1:1/v1").token_cap_field == "max_tokens"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD_ANSWERS: dict[str, Reply] = {
    "html": (200, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "non-json": (200, "application/json", b"this is not json"),
    "truncated-json": (200, "application/json", b'{"id": "c1", "choices": [{"index": 0, "mess'),
    "no-choice": completion(choices=False),
    "error-in-200": (200, "application/json", b'{"error": {"message": "model is overloaded", "code": 503}}'),
    "http-503": (503, "text/plain", b"Service Unavailable"),
}


def _generate(url: str, out: Path, n: int = 1) -> Any:
    args = ["generate", "--generator", "llm", "--provider", "openai", "--base-url", url, "--model", "m",
            "--topology", "abilene", "-n", str(n), "--max-events", "1", "--out", str(out)]
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("bad", sorted(BAD_ANSWERS))
def test_a_bad_answer_is_a_one_line_error_naming_provider_and_url(serve, tmp_path: Path, bad: str) -> None:
    server = serve(lambda body, n: BAD_ANSWERS[bad])
    res = _generate(server.url, tmp_path / "out")
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines[-1].startswith(f"Error: openai:m at {server.url}: chat call failed:"), res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    assert "0 scenario(s) kept" in lines[-1]
    print(bad, "->", lines[-1])


def test_a_server_that_is_down_is_named(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    res = _generate(url, tmp_path / "out")
    assert res.exit_code == 1
    last = res.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: openai:m at {url}: chat call failed: ") and "Connection error." in last


def test_scenarios_made_before_the_server_failed_are_written(serve, tmp_path: Path) -> None:
    server = serve(lambda body, n: completion() if n < 2 else BAD_ANSWERS["html"])
    res = _generate(server.url, tmp_path / "out", n=4)
    assert res.exit_code == 1 and "2 scenario(s) kept" in res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["generation.json", "llm-000.json",
                                                                    "llm-001.json"]
    report = json.loads((tmp_path / "out" / "generation.json").read_text())["report"]
    assert report["returned"] == 2 and server.url in report["error"]


def test_a_truncated_answer_goes_to_the_repair_loop(abilene_kg, serve) -> None:
    server = serve(lambda body, n: completion(ANSWER[:40]) if n == 0 else completion())
    result = LLMGenerator(LLMSettings(provider="openai", model="m", base_url=server.url,
                                      structured_output="json_object")).run(abilene_kg, 1, C)
    rep = result.report
    assert rep.error is None and rep.first_try_valid == 0 and rep.repaired == 1 and rep.attempts == 2
    assert rep.issue_codes == {"schema_invalid": 1}
