"""llama.cpp in a child process: a native crash, an out-of-memory kill or a hang becomes a one-line error.

llama.cpp is C++; a fault in one of its kernels (e.g. the AMX matmul of a
native build, which faults in some VMs) kills the whole Python process, and a
runaway decode blocks it. :class:`LlamaWorker` therefore loads the model in a
child process (``multiprocessing`` with *spawn*: no inherited threads or
locks) and talks to it over a pipe with plain dicts:

- the parent sends ``{"messages", "grammar" (GBNF text or None),
  "temperature", "top_k", "max_tokens", "stop", "seed"}``;
- the child answers ``{"result": <llama.cpp chat completion dict>}`` or
  ``{"error": "<one line>"}`` (a Python exception inside llama-cpp-python).

If the child dies (SIGSEGV, SIGKILL from the OOM killer, ...) the parent
raises :class:`LLMCrashError`; if no answer comes within ``timeout_s`` it kills
the child and raises :class:`LLMTimeoutError`. Both name the provider and the
model file. The next call starts a fresh child, so a caller may go on.

You must provide
    ``loader``: ``"module:attribute"`` of a callable ``(model_path=..., **init)``
    returning an object with ``create_chat_completion(**kwargs)`` (default
    ``llama_cpp:Llama``; tests load fakes that crash or hang).
You get
    :meth:`LlamaWorker.complete` -- a chat completion dict, or one of the
    errors above; the child is stopped by :meth:`LlamaWorker.close` or at exit.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
import weakref
from multiprocessing.connection import Connection, wait
from typing import Any

from ani.llm.providers import LLMCallError

DEFAULT_LOADER = "llama_cpp:Llama"


class LLMCrashError(LLMCallError):
    """The model's child process died (native crash, out-of-memory kill); names provider and model."""


class LLMTimeoutError(LLMCallError):
    """The model's child process gave no answer in time and was stopped; names provider and model."""


# --- the child -----------------------------------------------------------------------------
def _load(loader: str, model_path: str, init: dict[str, Any]) -> Any:
    module, _, attr = loader.partition(":")
    return getattr(importlib.import_module(module), attr)(model_path=model_path, **init)


def _complete(llama: Any, grammars: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """One chat completion in the child; GBNF grammars are compiled once and cached."""
    text = request.pop("grammar", None)
    if text and text not in grammars:
        from llama_cpp import LlamaGrammar

        if len(grammars) > 64:
            grammars.clear()
        grammars[text] = LlamaGrammar.from_string(text, verbose=False)
    return dict(llama.create_chat_completion(grammar=grammars.get(text) if text else None, **request))


def serve(conn: Connection, loader: str, model_path: str, init: dict[str, Any]) -> None:
    """The child's loop: load the model, then answer requests until ``None`` or EOF."""
    try:
        llama = _load(loader, model_path, init)
    except Exception as exc:  # the parent turns it into a one-line error
        conn.send({"error": f"cannot load the model: {type(exc).__name__}: {exc}"})
        return
    conn.send({"ready": True})
    grammars: dict[str, Any] = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            conn.send({"result": _complete(llama, grammars, request)})
        except Exception as exc:
            conn.send({"error": f"{type(exc).__name__}: {exc}"})


# --- the parent -----------------------------------------------------------------------------
def _stop(proc: multiprocessing.process.BaseProcess, conn: Connection) -> None:
    """Ask the child to leave, then kill it if it does not."""
    try:
        conn.send(None)
    except (OSError, ValueError):
        pass
    proc.join(2)
    if proc.is_alive():
        proc.kill()
        proc.join(5)
    conn.close()


def death(exitcode: int | None) -> str:
    """How a child ended, in words: ``"died by SIGSEGV (a native crash)"``."""
    if exitcode is None:
        return "is unresponsive"
    if exitcode >= 0:
        return f"exited with status {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    hint = {"SIGSEGV": "a native crash", "SIGBUS": "a native crash", "SIGILL": "an unsupported CPU instruction",
            "SIGKILL": "killed, e.g. out of memory", "SIGABRT": "aborted"}.get(name, "")
    return f"died by {name}" + (f" ({hint})" if hint else "")


class LlamaWorker:
    """One llama.cpp model in one child process (see the module docstring).

    Parameters
    ----------
    label
        ``provider:model`` used in every error message.
    model_path
        The GGUF file.
    init
        Keyword arguments of the loader (``n_ctx``, ``n_threads``, ``seed``, ``verbose``, ...).
    timeout_s
        Longest wait for the model to load, and for each answer.
    loader
        ``"module:attribute"`` of the model class (default ``llama_cpp:Llama``).
    """

    def __init__(self, label: str, model_path: str, init: dict[str, Any], timeout_s: float = 900.0,
                 loader: str = DEFAULT_LOADER) -> None:
        self.label, self.model_path, self.init = label, model_path, dict(init)
        self.timeout_s, self.loader = timeout_s, loader
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._finalizer: weakref.finalize | None = None

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """One chat completion (see the module docstring for ``request``)."""
        conn = self._start()
        conn.send(request)
        return self._receive("answer")["result"]

    def close(self) -> None:
        """Stop the child (a later :meth:`complete` starts a new one)."""
        if self._finalizer is not None:
            self._finalizer()
        self._proc = self._conn = self._finalizer = None

    @property
    def pid(self) -> int | None:
        """The child's process id, or None when no child runs."""
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def _start(self) -> Connection:
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            return self._conn
        self.close()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=serve, args=(child, self.loader, self.model_path, self.init),
                           name=f"ani-llama {self.label}", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._finalizer = weakref.finalize(self, _stop, proc, parent)
        self._receive("model load")
        return parent

    def _receive(self, what: str) -> dict[str, Any]:
        """The child's next message, or the error that says why none came."""
        assert self._proc is not None and self._conn is not None
        ready = wait([self._conn, self._proc.sentinel], self.timeout_s)
        if self._conn in ready:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                message = None
            if message is not None:
                return self._checked(message)
        if not ready:
            self.close()
            raise LLMTimeoutError(f"{self.label}: no {what} from the llama.cpp child process within "
                                  f"{self.timeout_s:g} s (model {self.model_path}); the child was stopped")
        self._proc.join(5)
        code = self._proc.exitcode
        self.close()
        raise LLMCrashError(f"{self.label}: the llama.cpp child process {death(code)} during the {what} "
                            f"(model {self.model_path})")

    def _checked(self, message: dict[str, Any]) -> dict[str, Any]:
        if "error" in message:
            first = (str(message["error"]).strip().splitlines() or ["unknown error"])[0]
            raise LLMCallError(f"{self.label} (model {self.model_path}): {first[:300]}")
        return message
