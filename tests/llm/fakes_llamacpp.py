"""FAKE llama.cpp models for the crash-isolation tests; they run inside the worker's child process.

The "model file" is a JSON script, so a test decides what the child does on
each call: ``{"calls": ["answer", "segv"], "then": "answer", "answer": "..."}``.
Behaviours: ``answer``, ``segv`` (a real segmentation fault: a read of address
0), ``hang`` (sleeps for an hour), ``raise`` (a Python error inside the
model), ``abort`` (SIGKILL, as the out-of-memory killer sends). Every call is
appended to ``<model file>.calls.jsonl`` (so the count survives a restart of
the child), with the grammar's type name in place of the grammar object.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import time
from pathlib import Path
from typing import Any


class ScriptedLlama:
    """FAKE ``llama_cpp.Llama``: does what its JSON "model file" says, call by call."""

    def __init__(self, model_path: str, **init: Any) -> None:
        self.script = json.loads(Path(model_path).read_text())
        self.log = Path(model_path + ".calls.jsonl")
        if self.script.get("load") == "fail":
            raise ValueError(f"Failed to load model from file: {model_path}")
        if self.script.get("load") == "segv":
            ctypes.string_at(0)

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        done = len(self.log.read_text().splitlines()) if self.log.exists() else 0
        record = {k: (v if isinstance(v, (str, int, float, list, type(None))) else type(v).__name__)
                  for k, v in kwargs.items()}
        with self.log.open("a") as f:
            f.write(json.dumps(record) + "\n")
        calls = self.script.get("calls", [])
        behaviour = calls[done] if done < len(calls) else self.script.get("then", "answer")
        if behaviour == "segv":
            ctypes.string_at(0)
        if behaviour == "hang":
            time.sleep(3600)
        if behaviour == "abort":
            os.kill(os.getpid(), signal.SIGKILL)
        if behaviour == "raise":
            raise RuntimeError("llama_decode returned -3")
        if behaviour == "empty":
            return {"choices": [], "usage": {}}
        return {"choices": [{"message": {"role": "assistant", "content": self.script["answer"]},
                             "finish_reason": "stop"}], "usage": {"completion_tokens": 7}}


def calls(model_file: Path) -> list[dict[str, Any]]:
    """The calls the fake received (read from its log)."""
    log = Path(str(model_file) + ".calls.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
