"""``ani templates list|show|validate|new``: the researcher's view of the scenario templates."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import click

from ani.kg.errors import TemplateError
from ani.ns3_scenarios.build import build_program
from ani.ns3_scenarios.program_source import local_headers
from ani.ns3_scenarios.templates import discover, get_template, load_template

user_dirs_option = click.option("--dir", "dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
                                help="also look for templates in this folder (repeatable)")


@click.group()
def templates() -> None:
    """List, inspect, validate and create ns-3 scenario templates."""


@templates.command("list")
@user_dirs_option
def list_(dirs: tuple[Path, ...]) -> None:
    """Every template: name, digest, folder, description."""
    for name, t in sorted(discover(list(dirs)).items()):
        base = f" (extends {t.manifest.extends})" if t.manifest.extends else ""
        click.echo(f"{name:<16} {t.digest()}  {t.folder}{base}\n    {t.manifest.description}")


@templates.command()
@click.argument("name")
@user_dirs_option
def show(name: str, dirs: tuple[Path, ...]) -> None:
    """A template's events and parameters (type, unit, default, range)."""
    t = get_template(name, list(dirs))
    click.echo(f"{t.manifest.name} v{t.manifest.version}: {t.manifest.description}")
    headers = ", ".join(h.name for h in local_headers(t.program_path))
    click.echo(f"program: {t.program_path}" + (f" (+ {headers})" if headers else ""))
    click.echo(f"events: {', '.join(t.manifest.events)}\nparameters:")
    for pname, p in t.manifest.parameters.items():
        rng = "" if p.type == "bool" else f" [{p.min:g}, {p.max:g}]"
        click.echo(f"  {pname:<22} {p.type:<5} {p.unit:<8} default {p.default!s:<8}{rng}  {p.description}")


@templates.command()
@click.argument("name")
@user_dirs_option
@click.option("--golden/--no-golden", default=False, help="also run the golden scenario and compare its KPIs")
@click.option("--update-golden", is_flag=True, help="record the golden run's KPIs as the new expected output")
def validate(name: str, dirs: tuple[Path, ...], golden: bool, update_golden: bool) -> None:
    """Check a template: manifest, program compiles, and (--golden) its golden output reproduces."""
    from ani.orchestrator.measure.golden import check_golden

    t = get_template(name, list(dirs))
    build_program(t.source(), t.manifest.ns3_modules, name=t.manifest.name)
    click.echo(f"{t.manifest.name}: manifest valid, program compiles")
    if golden or update_golden:
        with tempfile.TemporaryDirectory() as tmp:
            problems = check_golden(t, Path(tmp), update=update_golden)
        if problems:
            raise click.ClickException("golden output differs:\n  " + "\n  ".join(problems))
        click.echo("golden output " + ("recorded" if update_golden else "reproduces"))


@templates.command()
@click.argument("name")
@click.option("--from", "source", default="ospf_failure", show_default=True, help="template to start from")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=Path("templates"),
              show_default=True, help="folder that will hold the new template")
def new(name: str, source: str, dest: Path) -> None:
    """Copy a template to NAME under --dest, to edit and use with --template/--dir."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise click.BadParameter("letters, digits and _ only", param_hint="NAME")
    src = get_template(source)
    target = dest / name
    if target.exists():
        raise click.ClickException(f"{target} already exists")
    shutil.copytree(src.folder, target, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    if src.program_path.parent != src.folder:  # an extending template: bring the program and its headers
        for program_file in (src.program_path, *local_headers(src.program_path)):
            shutil.copy2(program_file, target / program_file.name)
    manifest = target / "manifest.toml"
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', manifest.read_text(), count=1)
    manifest.write_text(text)
    try:
        load_template(target)
    except TemplateError:
        shutil.rmtree(target)
        raise
    click.echo(f"created {target} from {src.manifest.name}; edit it, then: ani templates validate {target}")
