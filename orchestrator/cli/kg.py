"""``ani kg …``: build, inspect, export and query knowledge graphs (thin over :mod:`ani.kg`)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from ani.kg.demands import load_demand_matrix
from ani.kg.errors import ProjectError
from ani.kg.incidents import load_incidents
from ani.kg.io import open_kg
from ani.kg.model import DEFAULT_LOAD_FACTOR, KnowledgeGraph
from ani.kg.yamlio import dumps, json_schema, load_srlgs, write_graphml, write_kg

SOURCE_HELP = "'abilene', a .graphml file, a project .yaml/.json file or a CAIDA .txt/.bz2/.gz file"


class _KgGroup(click.Group):
    """Turns the project's own errors into a one-line message (also when used on its own)."""

    def invoke(self, ctx: click.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ProjectError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_KgGroup)
def kg() -> None:
    """Knowledge graphs: build, show, export, causal frontier."""


def _demands(spec: str | None) -> Any:
    if spec is None or spec == "gravity":
        return "gravity"
    if spec == "none":
        return None
    return load_demand_matrix(spec)


@kg.command()
@click.argument("source")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="where to write the graph (.yaml, .yml or .json)")
@click.option("--srlgs", "srlg_file", type=click.Path(dir_okay=False), help="declared SRLGs (YAML/JSON)")
@click.option("--demands", "demand_spec", metavar="gravity|none|FILE",
              help="gravity (default), none, or a demand matrix .csv/.json (src,dst,rate_bps)")
@click.option("--incidents", "incident_file", type=click.Path(dir_okay=False), help="past incidents (CSV/JSON)")
@click.option("--derive-srlgs/--no-derive-srlgs", default=True, show_default=True,
              help="derive SRLGs from geography")
@click.option("--load-factor", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_LOAD_FACTOR,
              show_default=True, help="utilisation of the busiest link under gravity demands")
def build(source: str, output: Path, srlg_file: str | None, demand_spec: str | None, incident_file: str | None,
          derive_srlgs: bool, load_factor: float) -> None:
    """Build the knowledge graph of SOURCE (all layers) and write it to the project format."""
    if output.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise click.BadParameter(f"{output}: give a .yaml, .yml or .json file", param_hint="--output")
    options: dict[str, Any] = {"derive_srlgs": derive_srlgs, "load_factor": load_factor}
    if demand_spec is not None:
        options["demands"] = _demands(demand_spec)
    if srlg_file:
        options["srlgs"] = load_srlgs(srlg_file)
    if incident_file:
        options["incidents"] = load_incidents(incident_file)
    graph = open_kg(source, **options)
    write_kg(graph, output)
    click.echo(f"wrote {output}: {_one_line(graph)}")


def _one_line(graph: KnowledgeGraph) -> str:
    c = graph.counts()
    nodes = sum(c.get(k, 0) for k in ("router", "hyperedge", "external"))
    return (f"{graph.topology.graph.get('name', '')}: {nodes} nodes, {c.get('link', 0)} links, "
            f"{c.get('srlg', 0)} SRLGs, {c['demands']} demands, {c['incidents']} incidents, "
            f"{c['dependency_edges']} dependency edges, digest {graph.digest}")


def summary(graph: KnowledgeGraph) -> dict[str, Any]:
    """What ``ani kg show`` prints, as data."""
    relations: Counter[str] = Counter()
    for *_, rels in graph.dependency.edges(data="relations"):
        relations.update(rels)
    return {
        "name": graph.topology.graph.get("name", ""), "digest": graph.digest, "counts": graph.counts(),
        "srlgs": {s.id: {"source": s.source, "links": len(s.links)} for s in graph.srlgs},
        "demand_total_bps": sum(d.rate_bps for d in graph.demands),
        "dependency_relations": dict(sorted(relations.items())), "notes": list(graph.notes),
    }


@kg.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--links", "with_links", is_flag=True,
              help="also list every link: its id (what a scenario's target names), ends, capacity, delay, cost")
def show(source: str, as_json: bool, with_links: bool) -> None:
    """Summary of SOURCE: counts per kind, SRLGs, demands, dependency relations, notes (and links)."""
    graph = open_kg(source)
    info = summary(graph)
    if with_links:
        info["links"] = link_rows(graph)
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    click.echo(f"{info['name']} (digest {info['digest']})")
    click.echo("components: " + ", ".join(f"{k} {v}" for k, v in info["counts"].items()))
    by_source = Counter(s["source"] for s in info["srlgs"].values())
    click.echo(f"SRLGs: {len(info['srlgs'])}" + "".join(f", {k} {v}" for k, v in sorted(by_source.items())))
    for sid, s in list(info["srlgs"].items())[:10]:
        click.echo(f"  {sid} ({s['source']}, {s['links']} links)")
    click.echo(f"demands: {info['counts']['demands']}, total {info['demand_total_bps'] / 1e9:.3f} Gb/s")
    click.echo("dependency relations: " + ", ".join(f"{k} {v}" for k, v in info["dependency_relations"].items()))
    for note in info["notes"]:
        click.echo(f"note: {note}")
    if with_links:
        click.echo(f"links ({len(info['links'])}): id, ends, capacity, delay, OSPF cost")
        for row in info["links"]:
            click.echo(f"  {row['link_id']:<30} {row['a']} - {row['b']}  {row['capacity_bps'] / 1e9:g} Gb/s  "
                       f"{row['delay_s'] * 1e3:.2f} ms  cost {row['ospf_cost']}")


def link_rows(graph: KnowledgeGraph) -> list[dict[str, Any]]:
    """One row per link of ``graph``'s network: id, ends, capacity, delay and OSPF cost."""
    return [{"link_id": d["link_id"], "a": str(u), "b": str(v), "capacity_bps": d["capacity_bps"],
             "delay_s": d["delay_s"], "ospf_cost": d["ospf_cost"]} for u, v, d in graph.topology.edges(data=True)]


@kg.command()
@click.argument("source")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json", "graphml"]), default="yaml", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="output file (default: stdout for yaml/json)")
def export(source: str, fmt: str, output: Path | None) -> None:
    """Export SOURCE as the project YAML/JSON (all layers) or GraphML (network layer)."""
    graph = open_kg(source)
    if output is None:
        if fmt == "graphml":
            write_graphml(graph.topology, sys.stdout.buffer)  # type: ignore[arg-type]
        else:
            click.echo(dumps(graph, fmt), nl=False)  # type: ignore[arg-type]
        return
    write_kg(graph, output, fmt)  # type: ignore[arg-type]
    click.echo(f"wrote {output} ({fmt})", err=True)


@kg.command()
@click.argument("source")
@click.option("--failed", multiple=True, metavar="ID", help="a failed component (repeatable)")
@click.option("--stressed", multiple=True, metavar="ID", help="an overloaded/degraded component (repeatable)")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="how many to print")
@click.option("--json", "as_json", is_flag=True, help="print the whole ranked frontier as JSON")
def frontier(source: str, failed: tuple[str, ...], stressed: tuple[str, ...], top: int, as_json: bool) -> None:
    """Ranked causal frontier: what the failed/stressed components can plausibly affect next."""
    if not failed and not stressed:
        raise click.UsageError("give at least one --failed or --stressed component")
    graph = open_kg(source)
    result = graph.frontier(graph.failure_events(failed, stressed))
    if as_json:
        click.echo(json.dumps({t: [e.value for e in ts] for t, ts in result.items()}, indent=1))
        return
    click.echo(f"frontier of {', '.join(failed + stressed)}: {len(result)} components "
               f"(reachable {len(graph.reachable(failed + stressed))}, "
               f"cascade depth {graph.cascade_depth(failed + stressed)})")
    for rank, (target, types) in enumerate(list(result.items())[:top], start=1):
        click.echo(f"{rank:3d}. {target} ({graph.kind(target)}) {', '.join(t.value for t in types)}"
                   f"  score {graph.score(target) / 1e9:.3g} Gb/s")
    if len(result) > top:
        click.echo(f"... {len(result) - top} more (--top N)")


@kg.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="default: stdout")
def schema(output: Path | None) -> None:
    """The JSON Schema of the project YAML/JSON format."""
    text = json.dumps(json_schema(), indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
