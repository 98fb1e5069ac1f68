"""Hostile input at the boundaries: safe path components, writes kept under a root, bounded text.

Names that come from data (a scenario's ``name``, a graph's ``Network``
attribute, a campaign, template or generator name) become path components only
through :func:`safe_name`: a bounded name in ``[A-Za-z0-9_.-]`` that is never
``.``/``..``; a name that had to change gets a short hash of the original, so
two different names never share a folder. The original is kept in the record
that the folder holds. Every folder the project writes into is checked with
:func:`ensure_under` against its results root.

Files are decoded with :func:`read_text`: invalid UTF-8 or a NUL byte is a
one-line error naming the file, the line and the column. Messages quote values
through :func:`shorten`, so a 10,000-character label does not fill a terminal.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .errors import ProjectError, ResultsWriteError, UnsafePathError

MAX_NAME_CHARS = 80  # a path component made from data: well under every file system's 255 bytes
MAX_MESSAGE_VALUE_CHARS = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
E = TypeVar("E", bound=ProjectError)


def safe_name(text: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """``text`` as a safe, bounded path component.

    A name already in ``[A-Za-z0-9_.-]{1,max_chars}`` that does not start with
    ``.`` or ``-`` is returned unchanged; any other gets its unsafe characters
    replaced by ``_``, is cut to fit and ends in ``-<8 hex digits>`` (a hash of
    the original), so distinct names stay distinct.
    """
    text = str(text)
    if len(text) <= max_chars and not _UNSAFE.search(text) and text[:1] not in ("", ".", "-"):
        return text
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("_", folded).strip("._-") or "x"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem[: max(1, max_chars - 9)]}-{digest}"


def ensure_under(path: str | Path, root: str | Path) -> Path:
    """``path``, after checking that it resolves inside ``root`` (symbolic links followed).

    Raises
    ------
    UnsafePathError
        Naming both, when ``path`` would be written outside ``root``.
    """
    resolved, base = Path(path).resolve(), Path(root).resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafePathError(f"refusing to write {shorten(str(path))}: it is outside the results folder {base}")
    return Path(path)


def shorten(value: object, limit: int = MAX_MESSAGE_VALUE_CHARS) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length noted (for error messages)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} chars)"


def clip(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters with the full length noted (for error messages)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def read_text(path: str | Path, error: type[E], what: str = "file", allow_nul: bool = False) -> str:
    """The UTF-8 text of ``path``; any failure is ``error`` with one line naming the file.

    ``error`` is a :class:`ProjectError` subclass taking one message argument.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{path}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, "
                    f"offset {exc.start})") from None
    if not allow_nul and "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise error(f"{path}: {what} contains a NUL byte (line {line})")
    return text


def parse_text(text: str, loads: Callable[[str], Any], errors: type[Exception] | tuple[type[Exception], ...],
               error: type[E], path: str | Path, fmt: str, describe: Callable[[Any], str] = str) -> Any:
    """``loads(text)``, or one line naming the file: ``<path>: not valid <fmt> (<reason>)``.

    ``errors`` are the parser's decode errors (``describe`` turns one into the reason);
    nesting too deep for the parser (RecursionError) is said as such.
    """
    try:
        return loads(text)
    except errors as exc:
        raise error(f"{path}: not valid {fmt} ({describe(exc)})") from exc
    except RecursionError:
        raise error(f"{path}: not valid {fmt} (nested too deep)") from None


def finite(value: float, what: str, low: float | None = None, high: float | None = None) -> float:
    """``value`` if finite and within [low, high], else ValueError naming ``what`` (for pydantic validators)."""
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value}")
    if low is not None and value < low:
        raise ValueError(f"{what} must be at least {low:g}, got {value:g}")
    if high is not None and value > high:
        raise ValueError(f"{what} must be at most {high:g}, got {value:g}")
    return value


@contextlib.contextmanager
def writing(folder: str | Path) -> Iterator[None]:
    """Turn an OSError while writing into ``folder`` (read-only, full, no permission) into one line."""
    try:
        yield
    except ResultsWriteError:
        raise
    except OSError as exc:
        where = exc.filename or folder
        raise ResultsWriteError(f"cannot write to the results folder {folder} ({exc.strerror or exc}: "
                                f"{shorten(str(where), 200)})") from None
