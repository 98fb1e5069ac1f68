"""``ani screen``: N generated scenarios through the fluid tier, ranked by damage, with the rate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from ani.llm.registry import available
from ani.orchestrator.cli.types import parse_params




@click.command()
@click.option("--topology", required=True, help="'abilene', a .graphml file or a project .yaml/.json knowledge graph")
@click.option("--generator", "generator_name", type=click.Choice(available()),
              help="registered generator (required unless --exhaustive)")
@click.option("--exhaustive", type=click.Choice(["n1", "n2"]),
              help="instead of a generator: n1 = every single link, router and SRLG failure; n2 = every pair of links")
@click.option("-n", "n", type=click.IntRange(1, 1_000_000), default=1000, show_default=True, help="scenarios")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--min-events", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--max-events", type=click.IntRange(1, 100), default=4, show_default=True)
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="rows of the ranked list")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="template parameter override")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write every row as JSON lines")
@click.option("--workers", type=click.IntRange(1, 256), help="processes screening  [default: the usable CPUs]")
def screen(topology: str, generator_name: str | None, exhaustive: str | None, n: int, seed: int,
           min_events: int, max_events: int, top: int, params: tuple[str, ...], out: Path | None,
           workers: int | None) -> None:
    """Screen N generated scenarios (or every N-1 / N-2 failure) with the fluid tier; print the ranked list
    and scenarios/s."""
    from ani.ns3_scenarios.fluid.parallel import usable_cpus
    from ani.orchestrator.evaluate.screen import screen as run
    from ani.orchestrator.evaluate.screen import screen_exhaustive

    if min_events > max_events:
        raise click.BadParameter(f"--min-events {min_events} exceeds --max-events {max_events}",
                                 param_hint="--min-events")
    if (generator_name is None) == (exhaustive is None):
        raise click.UsageError("give either --generator NAME or --exhaustive n1|n2")
    workers = workers or usable_cpus()
    if exhaustive:
        result = screen_exhaustive(topology, exhaustive, parse_params(params), workers=workers)
    else:
        options = _search_options(generator_name, parse_params(params))
        result = run(topology, generator_name, n, parse_params(params), seed=seed, min_events=min_events,
                     max_events=max_events, workers=workers, **options)
    click.echo(result.table(top))
    if out is not None:
        out.write_text("".join(json.dumps(_row(r)) + "\n" for r in result.rows))
        click.echo(f"wrote {len(result.rows)} rows to {out}")


def _search_options(generator_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``worst-case`` searches with the fluid tier (its scorer); other generators take no option here."""
    if generator_name != "worst-case":
        return {}
    from ani.ns3_scenarios.fluid import refuse_setup
    from ani.ns3_scenarios.templates import get_template
    from ani.orchestrator.loop.screening import FluidScorer

    values = get_template("ospf_failure").params({k: str(v) for k, v in params.items()})
    refuse_setup(values)  # before searching: screening these parameters would be refused anyway
    return {"scorer": FluidScorer(values)}


def _row(r: Any) -> dict[str, Any]:
    return r.model_dump(mode="json", exclude_none=True)
