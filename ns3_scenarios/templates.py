"""Template discovery, manifests and parameter validation.

A template is a folder with ``manifest.toml`` (the parameters: type, unit,
default, range, description; and the event types it executes), the ns-3
program it names, and a ``README.md``. Templates are found in this package and
in any folder given by the user; a manifest is parsed as data (TOML), never
executed.

You must provide (to add a template): a folder with those three files, whose
manifest declares the :data:`CONTRACT` parameters (checked at load); the
program declares the scalar parameters it reads in one table that it registers
with ns-3's ``CommandLine`` (:mod:`ani.ns3_scenarios.program_params`; checked
against the manifest at load), reads the network, flows and events from the
data file ``ani`` writes (see :mod:`ani.ns3_scenarios.render`) and writes the
result files listed in the bundled template's README.
You get: ``ani run --template NAME`` and campaigns can use it; parameters are
validated against the manifest before anything runs.
"""

from __future__ import annotations

import difflib

import hashlib
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ani.kg.errors import SimulationError, TemplateError
from ani.kg.safety import clip, parse_text, read_text
from ani.ns3_scenarios.build import check_modules
from ani.ns3_scenarios.program_params import program_parameters, table_problems
from ani.ns3_scenarios.program_source import inline_source, local_headers
from ani.kg.event_types import EventType

PACKAGE_DIR = Path(__file__).resolve().parent
MAX_EXTENDS_DEPTH = 16  # templates in one ``extends`` chain
ParamValue = int | float | bool

#: The template contract: parameters the renderer and the measurement read from every template
#: (:mod:`ani.ns3_scenarios.render`, :mod:`ani.orchestrator.measure.summary`), with their types.
#: A manifest (with what it extends) must declare each of them; its program may use more.
CONTRACT: dict[str, str] = {
    "seed": "int", "warmup_s": "float", "observe_s": "float", "drain_s": "float", "interval_s": "float",
    "capacity_scale": "float", "load_factor": "float", "gravity_traffic": "bool", "packet_bytes": "int",
    "cpu_model": "bool", "cpu_reference_bytes": "float",
}


class ParameterSpec(BaseModel):
    """One researcher-editable parameter of a template."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "float", "bool"]
    unit: str = ""
    default: ParamValue
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    description: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered_range(self) -> "ParameterSpec":
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    def coerce(self, name: str, value: object) -> ParamValue:
        """Return ``value`` as this parameter's type, or raise TemplateError."""
        try:
            out = _convert(self.type, value)
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"parameter {name}: {value!r} is not a valid {self.type}") from exc
        if not isinstance(out, bool):
            if self.min is not None and out < self.min:
                raise TemplateError(f"parameter {name}: {out} is below the minimum {self.min}")
            if self.max is not None and out > self.max:
                raise TemplateError(f"parameter {name}: {out} is above the maximum {self.max}")
        return out


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _convert(kind: str, value: object) -> ParamValue:
    """``value`` (from TOML or a ``NAME=VALUE`` string) as a bool, int or finite float."""
    if kind == "bool":
        text = str(value).strip().lower()
        if text not in _TRUE | _FALSE:
            raise ValueError(text)
        return text in _TRUE
    if isinstance(value, bool):
        raise TypeError("a bool is not a number")
    number = float(value)  # type: ignore[arg-type]
    if number != number or abs(number) == float("inf"):
        raise ValueError(value)
    if kind == "int":
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    return number


class Manifest(BaseModel):
    """The parsed ``manifest.toml`` of a template.

    A template either has its own program and parameters, or ``extends``
    another template: it then inherits the program, the parameters and the
    event list, and may change parameter ``defaults`` and narrow ``events``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")  # a folder name too: bounded
    version: int = Field(ge=1)
    description: str
    extends: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{1,64}$")
    program: str = Field(default="scenario.cc", pattern=r"^[A-Za-z0-9_.-]{1,100}\.cc$")
    events: list[str] = Field(default_factory=list)
    ns3_modules: list[str] = Field(default_factory=list)
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    defaults: dict[str, ParamValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("extends") and "parameters" in data:
            raise ValueError("a template that extends another changes 'defaults', not 'parameters'")
        return data

    @field_validator("events")
    @classmethod
    def _catalogued(cls, events: list[str]) -> list[str]:
        if unknown := sorted(set(events) - {t.value for t in EventType}):
            raise ValueError(f"unknown event type(s) {unknown} (known: ani.kg.event_types)")
        return events

    @field_validator("ns3_modules")
    @classmethod
    def _shipped(cls, modules: list[str]) -> list[str]:
        try:
            return check_modules(modules)
        except SimulationError as exc:  # a manifest error, reported with the other fields
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _complete(self) -> "Manifest":
        if self.extends is None and not (self.events and self.ns3_modules and self.parameters):
            raise ValueError("a template without 'extends' needs events, ns3_modules and parameters")
        for name, spec in self.parameters.items():
            spec.coerce(name, spec.default)
        return self


class Template(BaseModel):
    """A discovered template: its folder, its resolved manifest and the files it is made of."""

    model_config = ConfigDict(frozen=True)

    folder: Path
    manifest: Manifest
    program_path: Path
    files: tuple[Path, ...]  # the manifests (own first), the program, its own headers

    def source(self) -> str:
        """The program with its own headers inlined: what is compiled and written into run folders."""
        return inline_source(self.program_path)

    def digest(self) -> str:
        """Hash of the manifests, the program and its headers: part of every run id."""
        h = hashlib.sha256()
        for path in self.files:
            h.update(path.read_bytes())
        return h.hexdigest()[:16]

    def params(self, overrides: dict[str, object] | None = None) -> dict[str, ParamValue]:
        """Defaults merged with ``overrides``, each validated against the manifest.

        Setting ``capacity_scale`` or ``packet_bytes`` turns ``auto_size`` off
        (unless ``auto_size`` itself is given): the user's sizing wins.
        """
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.manifest.parameters))
        if unknown:
            close = {u: difflib.get_close_matches(u, list(self.manifest.parameters), n=3, cutoff=0.6) for u in unknown}
            hint = "; ".join(f"{u}: did you mean {' or '.join(c)}?" for u, c in close.items() if c)
            known = ", ".join(sorted(self.manifest.parameters))
            raise TemplateError(f"template {self.manifest.name}: unknown parameter(s) {unknown}"
                                + (f" ({hint})" if hint else "") + f"; known: {known}")
        if "auto_size" in self.manifest.parameters and "auto_size" not in overrides \
                and not {"capacity_scale", "packet_bytes"}.isdisjoint(overrides):
            overrides["auto_size"] = False
        return {
            name: spec.coerce(name, overrides.get(name, spec.default))
            for name, spec in self.manifest.parameters.items()
        }


def _read_manifest(path: Path) -> Manifest:
    text = read_text(path, TemplateError, "template manifest")
    data = parse_text(text, tomllib.loads, tomllib.TOMLDecodeError, TemplateError, path, "TOML")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {clip(e['msg'])}" for e in exc.errors()[:5])
        raise TemplateError(f"{path}: invalid manifest: {problems}") from exc


def _inherit(own: Manifest, base: Template, path: Path) -> Manifest:
    """``own`` completed from ``base``: its parameters with the new defaults, its events unless narrowed."""
    unknown = sorted(set(own.defaults) - set(base.manifest.parameters))
    if unknown:
        raise TemplateError(f"{path}: defaults for unknown parameter(s) {unknown}")
    extra = sorted(set(own.events) - set(base.manifest.events))
    if extra:
        raise TemplateError(f"{path}: events {extra} are not executed by {base.manifest.name}")
    try:
        params = {n: spec.model_copy(update={"default": spec.coerce(n, own.defaults[n])})
                  if n in own.defaults else spec for n, spec in base.manifest.parameters.items()}
    except TemplateError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    return own.model_copy(update={"parameters": params, "events": own.events or base.manifest.events,
                                  "ns3_modules": base.manifest.ns3_modules, "program": base.manifest.program})


def _check_contract(manifest: Manifest, path: Path) -> Manifest:
    """``manifest`` if it declares every :data:`CONTRACT` parameter with its type, else a one-line error."""
    missing = sorted(set(CONTRACT) - set(manifest.parameters))
    if missing:
        raise TemplateError(f"{path}: the renderer needs parameter(s) {', '.join(missing)} "
                            "(declare them under [parameters]; see ani.ns3_scenarios.templates.CONTRACT)")
    wrong = [f"{n} ({manifest.parameters[n].type}, needs {t})" for n, t in CONTRACT.items()
             if manifest.parameters[n].type != t]
    if wrong:
        raise TemplateError(f"{path}: parameter type(s) differ from the renderer's: {', '.join(wrong)}")
    return manifest


def _check_program_table(manifest: Manifest, program: Path, path: Path, own_program: bool) -> None:
    """One-line TemplateError unless ``program``'s parameter table agrees with ``manifest``."""
    try:
        problems = table_problems(program_parameters(inline_source(program)), manifest.parameters, own_program)
    except TemplateError as exc:
        raise TemplateError(f"{program}: {exc}") from exc
    if problems:
        raise TemplateError(f"{path}: the program's parameter table differs from the manifest: "
                            + "; ".join(problems[:5]))


def load_template(folder: str | Path, _seen: tuple[str, ...] = ()) -> Template:
    """Read and validate the template in ``folder`` (resolving ``extends`` in the same root or the package).

    Raises :class:`TemplateError` (one line, naming the file) for a bad manifest, a
    missing program or a manifest that breaks the :data:`CONTRACT`.
    """
    folder = Path(folder)
    path = folder / "manifest.toml"
    own = _read_manifest(path)
    if own.extends is None:
        program = folder / own.program
        if not program.is_file():
            raise TemplateError(f"{path}: program {own.program} not found in {folder}")
        manifest = _check_contract(own, path)
        _check_program_table(manifest, program, path, own_program=True)
        return Template(folder=folder, manifest=manifest, program_path=program,
                        files=(path, program, *local_headers(program)))
    if own.extends in _seen or own.extends == own.name:
        raise TemplateError(f"{path}: 'extends' makes a cycle through {own.extends}")
    if len(_seen) >= MAX_EXTENDS_DEPTH:
        raise TemplateError(f"{path}: 'extends' chain longer than {MAX_EXTENDS_DEPTH} templates")
    base_dir = folder.parent / own.extends
    base_dir = base_dir if (base_dir / "manifest.toml").is_file() else PACKAGE_DIR / own.extends
    if not (base_dir / "manifest.toml").is_file():
        raise TemplateError(f"{path}: extends unknown template {own.extends!r}")
    base = load_template(base_dir, (*_seen, own.name))
    own_program = folder / own.program
    program = own_program if own_program.is_file() else base.program_path
    manifests = tuple(f for f in base.files if f.name == "manifest.toml")
    manifest = _inherit(own, base, path)
    if program == own_program:
        _check_program_table(manifest, program, path, own_program=False)
    return Template(folder=folder, manifest=manifest, program_path=program,
                    files=(path, *manifests, program, *local_headers(program)))


def discover(extra_dirs: list[Path] | None = None) -> dict[str, Template]:
    """Templates bundled with the package plus those under ``extra_dirs``.

    A user template with the same name as a bundled one replaces it.
    """
    found: dict[str, Template] = {}
    for root in [PACKAGE_DIR, *(extra_dirs or [])]:
        for manifest in sorted(Path(root).glob("*/manifest.toml")):
            template = load_template(manifest.parent)
            found[template.manifest.name] = template
    return found


def get_template(name_or_dir: str | Path, extra_dirs: list[Path] | None = None) -> Template:
    """A template by name (bundled or in ``extra_dirs``) or by folder path."""
    path = Path(name_or_dir)
    if (path / "manifest.toml").is_file():
        return load_template(path)
    templates = discover(extra_dirs)
    if str(name_or_dir) not in templates:
        raise TemplateError(f"unknown template {str(name_or_dir)!r}; available: {sorted(templates)}")
    return templates[str(name_or_dir)]
