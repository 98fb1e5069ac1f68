"""llama.cpp as a langchain-core chat model (``llama-cpp-python``) with GBNF grammar support.

A small langchain-core :class:`BaseChatModel`: ``chat.bind(grammar=GBNF,
seed=N).invoke(messages)`` decodes under the grammar, so the answer can only
be a string the grammar accepts. The model runs in a child process owned by
the chat model (:class:`~ani.llm.llama_worker.LlamaWorker`), loaded on first
use: a native crash, an out-of-memory kill or a hang of llama.cpp becomes a
one-line :class:`~ani.llm.providers.LLMCallError` naming the provider and the
model, and the caller keeps what it made so far. Needs the ``llm-local``
extra (``llama-cpp-python``); this module itself needs the ``llm`` extra
(``langchain-core``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

from ani.llm.llama_worker import DEFAULT_LOADER, LlamaWorker
from ani.llm.providers import LLMCallError, require

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _as_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """langchain messages as llama.cpp chat messages (text content only)."""
    return [{"role": _ROLES.get(m.type, "user"), "content": m.text if hasattr(m, "text") else str(m.content)}
            for m in messages]


class ChatLlamaCpp(BaseChatModel):
    """llama.cpp on a GGUF file, in a child process.

    Call options (``bind`` or ``invoke`` keyword arguments): ``grammar`` (GBNF
    text; compiled once in the child and cached) and ``seed`` (per call).
    ``timeout_s`` bounds the model load and each answer; ``label``
    (``provider:model``) names the model in errors; ``loader`` is the model
    class as ``"module:attribute"`` (tests use fakes that crash or hang).
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    temperature: float = 0.7
    max_tokens: int = 200
    seed: int = 0
    top_k: int = Field(default=40, ge=1)
    timeout_s: float = Field(default=900.0, gt=0)
    label: str = "llamacpp"
    loader: str = DEFAULT_LOADER
    _worker: LlamaWorker | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-child-process"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature}

    @property
    def worker(self) -> LlamaWorker:
        """The child process that holds the model (started on the first call)."""
        if self._worker is None:
            if self.loader == DEFAULT_LOADER:
                require("llama_cpp", "llm-local", "in-process llama.cpp")  # fail here, not in the child
            init = {"n_ctx": self.n_ctx, "n_threads": self.n_threads, "seed": self.seed, "verbose": False}
            self._worker = LlamaWorker(self.label, self.model_path, init, self.timeout_s, self.loader)
        return self._worker

    def close(self) -> None:
        """Stop the child process (the next call starts a new one)."""
        if self._worker is not None:
            self._worker.close()

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        out = self.worker.complete({
            "messages": _as_dicts(messages), "grammar": kwargs.get("grammar") or None,
            "temperature": self.temperature, "top_k": self.top_k, "max_tokens": self.max_tokens, "stop": stop,
            "seed": kwargs.get("seed", self.seed)})
        choices = out.get("choices") or []
        if not choices:
            raise LLMCallError(f"{self.label} (model {self.model_path}): llama.cpp returned no choice")
        choice = choices[0]
        text = (choice.get("message") or {}).get("content") or ""
        meta = {"finish_reason": choice.get("finish_reason"), "usage": out.get("usage", {}),
                "model_provider": "llamacpp"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text, response_metadata=meta))])
