"""Template discovery, manifests and parameter validation.

A template is a folder with ``manifest.toml`` (the parameters: type, unit,
default, range, description; and the event types it executes), the ns-3
program it names, and a ``README.md``. Templates are found in this package and
in any folder given by the user; a manifest is parsed as data (TOML), never
executed.

You must provide (to add a template): a folder with those three files; the
program reads its values from the data file ``ani`` writes (see
:mod:`ani.ns3_scenarios.render`) and writes the result files listed in the
bundled template's README.
You get: ``ani run --template NAME`` and campaigns can use it; parameters are
validated against the manifest before anything runs.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ani.kg.errors import TemplateError

PACKAGE_DIR = Path(__file__).resolve().parent
ParamValue = int | float | bool


class ParameterSpec(BaseModel):
    """One researcher-editable parameter of a template."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "float", "bool"]
    unit: str = ""
    default: ParamValue
    min: float | None = None
    max: float | None = None
    description: str = Field(min_length=1)

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
    """The parsed ``manifest.toml`` of a template."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    version: int = Field(ge=1)
    description: str
    program: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.cc$")
    events: list[str]
    ns3_modules: list[str]
    parameters: dict[str, ParameterSpec]

    @model_validator(mode="after")
    def _defaults_in_range(self) -> "Manifest":
        for name, spec in self.parameters.items():
            spec.coerce(name, spec.default)
        return self


class Template(BaseModel):
    """A discovered template: its folder and manifest."""

    model_config = ConfigDict(frozen=True)

    folder: Path
    manifest: Manifest

    @property
    def program_path(self) -> Path:
        return self.folder / self.manifest.program

    def source(self) -> str:
        return self.program_path.read_text()

    def digest(self) -> str:
        """Hash of the manifest and program: part of every run id."""
        h = hashlib.sha256()
        h.update((self.folder / "manifest.toml").read_bytes())
        h.update(self.program_path.read_bytes())
        return h.hexdigest()[:16]

    def params(self, overrides: dict[str, object] | None = None) -> dict[str, ParamValue]:
        """Defaults merged with ``overrides``, each validated against the manifest."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.manifest.parameters))
        if unknown:
            known = ", ".join(sorted(self.manifest.parameters))
            raise TemplateError(f"template {self.manifest.name}: unknown parameter(s) {unknown}; known: {known}")
        return {
            name: spec.coerce(name, overrides.get(name, spec.default))
            for name, spec in self.manifest.parameters.items()
        }


def load_template(folder: str | Path) -> Template:
    """Read and validate the template in ``folder``."""
    folder = Path(folder)
    path = folder / "manifest.toml"
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read template manifest ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path}: not valid TOML ({exc})") from exc
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TemplateError(f"{path}: invalid manifest: {problems}") from exc
    template = Template(folder=folder, manifest=manifest)
    if not template.program_path.is_file():
        raise TemplateError(f"{path}: program {manifest.program} not found in {folder}")
    return template


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
