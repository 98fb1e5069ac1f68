"""An in-process llama.cpp chat model (``llama-cpp-python``) with GBNF grammar support.

A small langchain-core :class:`BaseChatModel`: ``chat.bind(grammar=GBNF,
seed=N).invoke(messages)`` decodes under the grammar, so the answer can only
be a string the grammar accepts. The model file is loaded once, on first use.
Needs the ``llm-local`` extra (``llama-cpp-python``); this module itself
needs the ``llm`` extra (``langchain-core``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

from ani.llm.providers import require

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _as_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """langchain messages as llama.cpp chat messages (text content only)."""
    return [{"role": _ROLES.get(m.type, "user"), "content": m.text if hasattr(m, "text") else str(m.content)}
            for m in messages]


class ChatLlamaCpp(BaseChatModel):
    """llama.cpp in this process, on a GGUF file.

    Call options (``bind`` or ``invoke`` keyword arguments): ``grammar`` (GBNF
    text; compiled once and cached) and ``seed`` (per call).
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    temperature: float = 0.7
    max_tokens: int = 200
    seed: int = 0
    top_k: int = Field(default=40, ge=1)
    _llama: Any = PrivateAttr(default=None)
    _grammars: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-in-process"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature}

    def _client(self) -> Any:
        if self._llama is None:
            llama_cpp = require("llama_cpp", "llm-local", "in-process llama.cpp")
            self._llama = llama_cpp.Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                          seed=self.seed, verbose=False)
        return self._llama

    def _grammar(self, text: str | None) -> Any:
        if not text:
            return None
        if text not in self._grammars:
            llama_cpp = require("llama_cpp", "llm-local", "in-process llama.cpp")
            if len(self._grammars) > 64:
                self._grammars.clear()
            self._grammars[text] = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        llama = self._client()
        out = llama.create_chat_completion(
            messages=_as_dicts(messages), grammar=self._grammar(kwargs.get("grammar")),
            temperature=self.temperature, top_k=self.top_k, max_tokens=self.max_tokens, stop=stop,
            seed=kwargs.get("seed", self.seed))
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        meta = {"finish_reason": choice.get("finish_reason"), "usage": out.get("usage", {}),
                "model_provider": "llamacpp"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text, response_metadata=meta))])
