"""The scalar parameters a template program declares, read from its source.

A template program declares every scalar parameter it reads once, in one table
of its source (``ospf_failure``: ``kParameters`` in ``input.h``), between the
lines ``// ani:parameters begin`` and ``// ani:parameters end``, one entry per
line::

    {"detect_delay_s", ParamType::Float, 0.05, 0, 120, "s", "failure detection: ..."},

(name, type ``Float``/``Int``/``Bool``, default, min, max, unit, help). Its
``main()`` registers each with ns-3's ``CommandLine``: ``--name=value`` sets
it, ``./scenario --PrintHelp`` lists it with its default, an unknown name is
refused by ns-3. ``ani`` reads the same table to pass a run's values as
arguments (:func:`program_args`) and, when it loads a template, checks the
table against the manifest (:func:`table_problems`): every entry a manifest
parameter of the same type and range, and, for the template that owns the
program, the same default. The manifest's other parameters shape the input
file (traffic, timeline, sizing) and never reach the program as arguments.
"""

from __future__ import annotations

import functools
import re
from typing import Literal, NamedTuple, Protocol

from ani.kg.errors import TemplateError

ParamValue = int | float | bool


class ManifestParameter(Protocol):
    """What :func:`table_problems` reads of a manifest parameter (``templates.ParameterSpec``;
    a Protocol, so that this module does not import the templates module that imports it)."""

    @property
    def type(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def default(self) -> ParamValue: ...
    @property
    def min(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...

BEGIN, END = "// ani:parameters begin", "// ani:parameters end"
_NUMBER = r"\s*([-+0-9.eE]+)\s*"
ENTRY = re.compile(r'^\s*\{\s*"([A-Za-z_][A-Za-z0-9_]{0,63})"\s*,\s*ParamType::(Float|Int|Bool)\s*,'
                   + ",".join([_NUMBER] * 3) + r',\s*"([^"\\]*)"\s*,\s*"([^"\\]*)"\s*\},?\s*$')
TYPES: dict[str, Literal["float", "int", "bool"]] = {"Float": "float", "Int": "int", "Bool": "bool"}


class ProgramParameter(NamedTuple):
    """One entry of a program's parameter table."""

    name: str
    type: Literal["float", "int", "bool"]
    default: float
    min: float
    max: float
    unit: str
    help: str


@functools.lru_cache(maxsize=16)
def program_parameters(source: str) -> tuple[ProgramParameter, ...]:
    """The parameter table of a program's (inlined) ``source``, in its order.

    Raises :class:`TemplateError` when the table is missing, appears twice or
    has a line that is not one entry.
    """
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise TemplateError(f"the program needs one parameter table between '{BEGIN}' and '{END}' "
                            "(see ospf_failure/input.h)")
    out: list[ProgramParameter] = []
    for line in lines[starts[0] + 1:ends[0]]:
        if line.strip() and not line.strip().startswith("//"):
            out.append(_entry(line))
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise TemplateError(f"the program's parameter table declares {sorted({n for n in names if names.count(n) > 1})} twice")
    return tuple(out)


def _entry(line: str) -> ProgramParameter:
    match = ENTRY.match(line)
    if not match:
        raise TemplateError(f"program parameter table: not one entry: {line.strip()[:120]!r}")
    name, kind, default, low, high, unit, text = match.groups()
    try:
        return ProgramParameter(name, TYPES[kind], float(default), float(low), float(high), unit, text)
    except ValueError as exc:
        raise TemplateError(f"program parameter table: a number of {name!r} does not parse") from exc


def format_value(param: ProgramParameter, value: ParamValue) -> str:
    """``value`` as the program's ``--name=value`` text: ``true``/``false``, an integer, or a float's repr."""
    if param.type == "bool":
        return "true" if value else "false"
    if param.type == "int":
        return str(int(value))
    return repr(float(value))


def program_args(source: str, params: dict[str, ParamValue]) -> list[str]:
    """``--name=value`` for every parameter the program in ``source`` declares, from ``params``.

    Raises :class:`TemplateError` when ``params`` lacks one of them.
    """
    table = program_parameters(source)
    missing = [p.name for p in table if p.name not in params]
    if missing:
        raise TemplateError(f"the program reads parameter(s) {missing}, which the run's parameters lack")
    return [f"--{p.name}={format_value(p, params[p.name])}" for p in table]


def table_problems(table: tuple[ProgramParameter, ...], manifest: dict[str, ManifestParameter],
                   own_program: bool) -> list[str]:
    """How the program's table disagrees with the manifest's parameters (empty: it agrees).

    Names, types, units and ranges always; defaults only when the manifest owns the
    program (a template that ``extends`` another changes defaults on purpose).
    """
    problems = []
    for p in table:
        spec = manifest.get(p.name)
        if spec is None:
            problems.append(f"{p.name} is not a manifest parameter")
            continue
        if spec.type != p.type:
            problems.append(f"{p.name} is {p.type} in the program, {spec.type} in the manifest")
        if spec.unit != p.unit:
            problems.append(f"{p.name} is in {p.unit!r} in the program, {spec.unit!r} in the manifest")
        if p.type != "bool" and (spec.min, spec.max) != (p.min, p.max):
            problems.append(f"{p.name} ranges {p.min:g} to {p.max:g} in the program, "
                            f"{spec.min} to {spec.max} in the manifest")
        if own_program and float(spec.default) != p.default:
            problems.append(f"{p.name} defaults to {p.default:g} in the program, {spec.default} in the manifest")
    return problems
