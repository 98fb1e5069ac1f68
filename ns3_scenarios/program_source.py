"""A template program and its own headers, as one self-contained source.

A template's program may be split into headers that sit beside it in the
template folder (``#include "routing.h"``). ``ani`` inlines them, each once,
into the source it compiles and writes into every run folder, so a run folder
stays one ``scenario.cc`` that ``run.sh`` rebuilds by hand; ``#line`` marks
keep compiler messages pointing at the header and its line. Any other quoted
include (``"ns3/core-module.h"``, a path with a folder) is left to the
compiler. The headers are part of the template's digest and of every run id.
"""

from __future__ import annotations

import re
from pathlib import Path

from ani.kg.errors import TemplateError
from ani.kg.safety import read_text

#: ``#include "name.h"`` on a line of its own; group 1 is the quoted name
QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]*)"\s*(//.*)?$')
#: the file names a template's own header may have (no folder, nothing a shell or compiler could misread)
HEADER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\.(h|hh|hpp)$")
PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\s*$")
MAX_HEADERS = 64


def own_header(folder: Path, line: str) -> Path | None:
    """The template header that ``line`` includes, if it is one of ``folder``'s files; else None."""
    match = QUOTED_INCLUDE.match(line)
    if not match or not HEADER_NAME.match(match[1]):
        return None
    path = folder / match[1]
    return path if path.is_file() else None


def local_headers(program: Path) -> tuple[Path, ...]:
    """The headers beside ``program`` that it includes (and they include), each once, in inclusion order."""
    found: list[Path] = []
    _collect(program, found)
    return tuple(found)


def _collect(path: Path, found: list[Path]) -> None:
    for line in _lines(path):
        header = own_header(path.parent, line)
        if header is not None and header not in found:
            if len(found) >= MAX_HEADERS:
                raise TemplateError(f"{path}: includes more than {MAX_HEADERS} headers of its own")
            found.append(header)
            _collect(header, found)


def inline_source(program: Path) -> str:
    """``program`` with each of its own headers inlined once, between ``#line`` marks."""
    return "\n".join(_inline(program, set())) + "\n"


def _inline(path: Path, seen: set[Path]) -> list[str]:
    out: list[str] = []
    for number, line in enumerate(_lines(path), start=1):
        header = own_header(path.parent, line)
        if header is None:
            out.append("" if PRAGMA_ONCE.match(line) else line)
            continue
        if header not in seen:
            seen.add(header)
            out += [f'#line 1 "{header.name}"', *_inline(header, seen), f'#line {number + 1} "{path.name}"']
        else:
            out.append(f"// {line.strip()}: inlined above")
    return out


def _lines(path: Path) -> list[str]:
    return read_text(path, TemplateError, "template program").splitlines()
