"""``ani report FOLDER`` and ``ani map RUN_FOLDER``: pages and pictures re-rendered from a folder's files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def map_of_result(result: Any, g: Any) -> str:
    """Draw the map of an ``ani run`` result into its run folder; the line to print."""
    from ani.ns3_scenarios.render import node_coords
    from ani.orchestrator.evaluate.network_map import write_map

    base = result.baseline.folder if result.baseline is not None and result.baseline.status == "ok" else None
    files = write_map(result.scenario.folder, base, coords=node_coords(g))
    return f"map: {files.png} (and {files.svg.name})" if files.svg else f"map: {files.png}"


@click.command("report")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML file to write [default: FOLDER/report.html]")
def report(folder: Path, output: Path | None) -> None:
    """One self-contained HTML page for FOLDER: a run folder, a campaign store, a loop or an evaluation."""
    from ani.orchestrator.evaluate.report_page import write_report

    click.echo(f"report: {write_report(folder, output)}")


@click.command("map")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--baseline", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="baseline run folder [default: the one its run.json names, next to it]")
@click.option("--out", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write [default: FOLDER/map.png]; an SVG goes next to it")
@click.option("--topology", default=None,
              help="take node coordinates from this graph ('abilene', GraphML, YAML) when the run has none")
def map_command(folder: Path, baseline: Path | None, output: Path | None, topology: str | None) -> None:
    """Draw the network map of a run folder against its baseline (map.png and map.svg)."""
    from ani.orchestrator.evaluate.network_map import write_map

    coords = None
    if topology:
        from ani.kg.io import load_network
        from ani.ns3_scenarios.render import node_coords

        import json

        g = load_network(topology)
        by_name = dict(zip(map(str, g.nodes), node_coords(g)))
        coords = [by_name.get(n) for n in json.loads((folder / "spec.json").read_text())["nodes"]]
    files = write_map(folder, baseline, output, coords=coords)
    click.echo(f"map: {files.png} (and {files.svg})")
