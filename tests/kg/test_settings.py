"""The settings object: arguments > environment > ``ani.toml`` > defaults, and the only reader of the environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ani.kg.errors import SettingsError
from ani.kg.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {ROOT / "kg" / "settings.py"}


def test_arguments_beat_the_environment_which_beats_the_project_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ani.toml").write_text('cache_dir = "/from/file"\ntopology_zoo = "/zoo/file"\n')
    monkeypatch.setenv("ANI_CACHE_DIR", "/from/env")
    monkeypatch.setenv("CXX", "clang++")
    s = load_settings()
    assert (s.cache_dir, s.topology_zoo, s.cxx) == (Path("/from/env"), Path("/zoo/file"), "clang++")
    assert load_settings(cache_dir="/from/arg", topology_zoo=None).cache_dir == Path("/from/arg")
    monkeypatch.setenv("ANI_CXX", "g++-13")
    assert load_settings().cxx == "g++-13"


def test_a_bad_project_file_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ani.toml").write_text("cache_dir = \n")
    with pytest.raises(SettingsError, match="ani.toml: not valid TOML"):
        load_settings()


def _reads_environment(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv") and
               isinstance(n.value, ast.Name) and n.value.id == "os" for n in ast.walk(tree)) or any(
        isinstance(n, ast.ImportFrom) and n.module == "os" and {a.name for a in n.names} & {"environ", "getenv"}
        for n in ast.walk(tree))


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {p for top in ("kg", "llm", "ns3_scenarios", "orchestrator") for p in (ROOT / top).rglob("*.py")
               if _reads_environment(ast.parse(p.read_text()))}
    assert readers <= ALLOWED, sorted(str(p.relative_to(ROOT)) for p in readers - ALLOWED)


def test_llm_endpoint_settings_from_the_environment_and_the_project_file(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("ANI_LLM_PROVIDER", "ANI_LLM_MODEL", "ANI_LLM_BASE_URL", "ANI_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "ani.toml").write_text('llm_provider = "openai"\nllm_base_url = "http://127.0.0.1:9/v1"\n')
    monkeypatch.setenv("ANI_LLM_MODEL", "qwen")
    monkeypatch.setenv("ANI_LLM_BASE_URL", "")  # empty counts as unset: the file's value stays
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    s = load_settings()
    assert (s.llm_provider, s.llm_model, s.llm_base_url) == ("openai", "qwen", "http://127.0.0.1:9/v1")
    assert s.llm_api_key is not None and s.llm_api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(s)
    monkeypatch.setenv("ANI_LLM_API_KEY", "ani-key")
    assert load_settings().llm_api_key.get_secret_value() == "ani-key", "ANI_LLM_API_KEY wins over OPENAI_API_KEY"
