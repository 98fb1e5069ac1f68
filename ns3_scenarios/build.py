"""Compile template programs against the ns-3 wheel, with a content-addressed cache.

The ``ns3`` wheel from PyPI ships ns-3's C++ headers and shared libraries next
to its Python bindings; a template program is compiled once per (source,
modules, compiler flags, ns-3 version) and the binary is reused by every run.
"""

from __future__ import annotations

import hashlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from ani.kg.errors import SimulationError
from ani.kg.settings import load_settings

CXXFLAGS = ["-O2", "-std=c++20", "-w"]
MODULE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # an ns-3 module: never an option, never shell syntax


def ns3_root() -> Path:
    """Folder of the installed ns3 wheel's C++ tree (``include/``, ``lib64/``)."""
    try:
        dist = metadata.distribution("ns3")
    except metadata.PackageNotFoundError as exc:
        raise SimulationError("the ns3 wheel is not installed (pip install ns3)") from exc
    root = Path(str(dist.locate_file("ns3")))
    if not (root / "include" / "ns3").is_dir():
        raise SimulationError(f"ns3 wheel at {root} has no C++ headers")
    return root


def ns3_version() -> str:
    """Version string of the ns3 wheel, recorded in every run."""
    return metadata.version("ns3")


@functools.cache
def wheel_modules() -> frozenset[str]:
    """The ns-3 modules the installed wheel ships (``lib64/libns<version>-<module>.so``)."""
    major = ".".join(ns3_version().split(".")[:2])
    pattern = re.compile(rf"^libns{re.escape(major)}-(.+)\.so$")
    return frozenset(m[1] for f in (ns3_root() / "lib64").iterdir() if (m := pattern.match(f.name)))


def check_modules(modules: list[str]) -> list[str]:
    """``modules`` if each is a module of the ns3 wheel; else SimulationError naming the others."""
    bad = [m for m in modules if not MODULE_NAME.match(m) or m not in wheel_modules()]
    if bad:
        shown = ", ".join(repr(m[:60]) for m in bad[:5])
        raise SimulationError(f"unknown ns-3 module(s) {shown}; the ns3 wheel ships: {', '.join(sorted(wheel_modules()))}")
    return modules


def compile_command(source: Path, output: Path, modules: list[str], root: Path | None = None) -> list[str]:
    """The g++ command line that builds ``source`` into ``output`` (``modules``: see :func:`check_modules`)."""
    check_modules(modules)
    root = root or ns3_root()
    major = ".".join(ns3_version().split(".")[:2])
    libs = [f"-lns{major}-{m}" for m in modules]
    lib = root / "lib64"
    return [load_settings().cxx, *CXXFLAGS, str(source), "-o", str(output),
            f"-I{root / 'include'}", f"-L{lib}", *libs, f"-Wl,-rpath,{lib}"]


def cache_dir() -> Path:
    """Where compiled programs are kept (the ``cache_dir`` setting: ``ANI_CACHE_DIR`` or ``~/.cache/ani``)."""
    return load_settings().cache_dir / "bin"


def build_program(source_text: str, modules: list[str], name: str = "scenario") -> Path:
    """Return the path of the compiled program for ``source_text``, compiling it if needed.

    The same program cached under another name (a template that ``extends`` another
    and keeps its program, a copy made by ``ani templates new``) is linked, not compiled
    again. Safe under concurrency: each compiler writes to a private file that is
    renamed into place atomically.
    """
    key = hashlib.sha256("\0".join([source_text, *modules, *CXXFLAGS, ns3_version()]).encode()).hexdigest()[:20]
    target = cache_dir() / f"{name}-{key}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    same = next((p for p in target.parent.glob(f"*-{key}") if p.is_file()), None)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / name
        if same is not None:
            _link_or_copy(same, out)
        else:
            _compile(source_text, modules, name, out)
        os.replace(out, target)
    return target


def _compile(source_text: str, modules: list[str], name: str, out: Path) -> None:
    src = out.parent / f"{name}.cc"
    src.write_text(source_text)
    cmd = compile_command(src, out, modules)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:  # no such compiler, or not executable
        raise SimulationError(f"compiling {name}.cc: cannot run the compiler {cmd[0]!r}: {exc.strerror}") from None
    if proc.returncode != 0:
        raise SimulationError(f"compiling {name}.cc failed:\n{proc.stderr[-4000:]}")


def _link_or_copy(source: Path, out: Path) -> None:
    try:
        os.link(source, out)
    except OSError:  # a file system without hard links
        shutil.copy2(source, out)


def compiler_available() -> bool:
    """True when a C++ compiler is on PATH."""
    return shutil.which(load_settings().cxx) is not None
