"""Progress of a campaign (a bar on a terminal, plain lines elsewhere) and its structured log.

:func:`make_progress` picks a ``rich`` bar with counts, failures and ETA when the
stream is a terminal, and :class:`PlainProgress` lines (``ani campaign: 40/200
done …``) when it is not (CI logs, files). Every campaign event also goes to the
``ani.campaign`` logger as a structured record; :func:`json_log` writes them as
JSON lines (``<store>/log.jsonl``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TextIO

LOGGER = logging.getLogger("ani.campaign")
STATUSES = ("ok", "failed", "timeout", "lost")


class Progress(Protocol):
    """What the campaign driver reports to; every method is cheap."""

    def start(self, total: int, done: int, description: str) -> None:
        """``total`` planned runs, of which ``done`` are already in the store."""

    def advance(self, status: str) -> None:
        """One run finished with ``status`` (ok, failed, timeout or lost)."""

    def note(self, message: str) -> None:
        """Something worth a line of its own (a retry, a lost worker)."""

    def close(self) -> None:
        """The campaign run ended (finished or interrupted)."""

    def resize(self, total: int) -> None:
        """The plan changed: ``total`` runs in all (a loop that ended under its budget)."""

    def reuse(self, n: int) -> None:
        """``n`` more runs were found done before (they count as done, not towards the ETA)."""


class _Counts:
    """Counting and the ETA shared by both displays."""

    def __init__(self) -> None:
        self.total = self.done_before = 0
        self.counts: Counter[str] = Counter()
        self.t0 = time.monotonic()
        self.description = "campaign"

    def begin(self, total: int, done: int, description: str) -> None:
        self.total, self.done_before, self.description = total, done, description
        self.t0 = time.monotonic()

    def resize(self, total: int) -> None:
        self.total = max(total, self.finished)

    def reuse(self, n: int) -> None:
        self.done_before += n

    @property
    def finished(self) -> int:
        return self.done_before + sum(self.counts.values())

    def eta_s(self) -> float | None:
        new = sum(self.counts.values())
        if not new:
            return None
        return (self.total - self.finished) * (time.monotonic() - self.t0) / new

    def line(self) -> str:
        eta = self.eta_s()
        parts = ", ".join(f"{s} {self.counts[s]}" for s in STATUSES)
        before = f"; {self.done_before} of them done before (the counts are this run's)" if self.done_before else ""
        return (f"{self.description}: {self.finished}/{self.total} done ({parts}); elapsed "
                f"{_clock(time.monotonic() - self.t0)}, ETA {_clock(eta) if eta is not None else '?'}{before}")


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class PlainProgress(_Counts):
    """Plain lines on ``stream``: at the start, at most every ``every_s`` seconds, and at the end."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 10.0) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self._last = 0.0

    def start(self, total: int, done: int, description: str) -> None:
        self.begin(total, done, description)
        self._print(self.line())

    def advance(self, status: str) -> None:
        self.counts[status] += 1
        now = time.monotonic()
        if now - self._last >= self.every_s or self.finished >= self.total:
            self._print(self.line())

    def note(self, message: str) -> None:
        self._print(f"{self.description}: {message}")

    def reuse(self, n: int) -> None:
        super().reuse(n)
        self._print(self.line())

    def close(self) -> None:
        if self.finished < self.total:
            self._print(self.line())

    def _print(self, text: str) -> None:
        self._last = time.monotonic()
        print(text, file=self.stream, flush=True)


class RichProgress(_Counts):
    """A ``rich`` progress bar: done/total, ok/failed/timeout/lost, elapsed and remaining time."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.console = Console(file=stream or sys.stderr)
        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
                       TimeRemainingColumn(), console=self.console)
        self.task: Any = None

    def start(self, total: int, done: int, description: str) -> None:
        self.begin(total, done, description)
        self.bar.start()
        self.task = self.bar.add_task(description, total=total, completed=done, counts=self._counts())

    def _counts(self) -> str:
        return " ".join(f"{s} {self.counts[s]}" for s in STATUSES)

    def advance(self, status: str) -> None:
        self.counts[status] += 1
        self.bar.update(self.task, advance=1, counts=self._counts())

    def note(self, message: str) -> None:
        self.console.print(message)

    def resize(self, total: int) -> None:
        super().resize(total)
        self.bar.update(self.task, total=self.total)

    def reuse(self, n: int) -> None:
        super().reuse(n)
        self.bar.update(self.task, advance=n)

    def close(self) -> None:
        self.bar.stop()


class NullProgress(_Counts):
    """Reports nothing (library use, tests)."""

    def start(self, total: int, done: int, description: str) -> None:
        self.begin(total, done, description)

    def advance(self, status: str) -> None:
        self.counts[status] += 1

    def note(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(stream: TextIO | None = None, enabled: bool = True) -> Progress:
    """A bar on a terminal (when ``rich`` is installed), plain lines otherwise, nothing if not ``enabled``."""
    stream = stream or sys.stderr
    if not enabled:
        return NullProgress()
    if stream.isatty():
        try:
            return RichProgress(stream)
        except ImportError:
            pass
    return PlainProgress(stream)


# ------------------------------------------------------------------ structured log


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: ``time``, ``level``, ``event`` and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                   "event": record.getMessage(), **getattr(record, "fields", {})}
        return json.dumps(payload, default=str)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with its fields on the ``ani.campaign`` logger."""
    LOGGER.log(level, event, extra={"fields": fields})


@contextmanager
def json_log(path: Path) -> Iterator[None]:
    """Append the ``ani.campaign`` events to ``path`` as JSON lines while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonLinesFormatter())
    old_level = LOGGER.level
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(old_level)
        handler.close()
