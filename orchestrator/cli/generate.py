"""``ani generate``: scenarios from any registered generator, written as JSON, with their metrics.

Thin over :mod:`ani.llm`: builds the knowledge graph, calls the generator's
``run``, writes one ``<name>.json`` per scenario (each one runs with
``ani run``) and ``generation.json`` (report, metrics, constraints), and
prints the report and the metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ani.kg.errors import ProjectError
from ani.kg.safety import ensure_under, safe_name
from ani.llm.base import run_generator
from ani.llm.registry import available, get_generator
from ani.llm.constraints import GenerationConstraints
from ani.llm.feedback import Feedback
from ani.llm.metrics import ScenarioMetrics, scenario_metrics
from ani.kg.scenario import EventType
from ani.orchestrator.cli.types import FiniteFloatRange

LLM_OPTIONS = ("provider", "model", "base_url", "temperature", "structured_output")


def _constraints(opts: dict[str, Any]) -> GenerationConstraints:
    types: list[EventType] | None = [EventType(t) for t in opts["event_types"]] or None
    if opts["template"]:
        from ani.ns3_scenarios.templates import get_template

        executed = [EventType(t) for t in get_template(opts["template"]).manifest.events]
        types = [t for t in (types or executed) if t in executed]
    if opts["min_events"] > opts["max_events"]:
        raise click.BadParameter(f"--min-events {opts['min_events']} exceeds --max-events {opts['max_events']}",
                                 param_hint="--min-events")
    try:
        return GenerationConstraints(min_events=opts["min_events"], max_events=opts["max_events"], seed=opts["seed"],
                                     start_s=opts["start_s"], max_delay_s=opts["max_delay_s"],
                                     max_attempts=opts["max_attempts"],
                                     event_types=tuple(types) if types is not None else None)
    except ValidationError as exc:
        raise click.UsageError(f"generation constraints: {exc.errors()[0]['msg']}") from None


def _generator_options(opts: dict[str, Any]) -> dict[str, Any]:
    name = opts["generator_name"]
    if name == "llm":
        out = {k: opts[k] for k in LLM_OPTIONS if opts[k] is not None}
        return out | ({"constrained": False} if opts["unconstrained"] else {})
    if name == "composer":
        return {"base": opts["base"]}
    if name == "replay" and opts["replay_files"]:
        return {"incidents": list(opts["replay_files"])}
    return {}


def _feedback(path: Path | None) -> Feedback | None:
    if path is None:
        return None
    try:
        return Feedback.model_validate_json(path.read_text())
    except OSError as exc:
        raise click.BadParameter(f"{path}: cannot read ({exc.strerror})", param_hint="--feedback") from None
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise click.BadParameter(f"{path}: not a feedback digest ({first})", param_hint="--feedback") from None


def _write(out: Path, scenarios: list[Any], summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for s in scenarios:  # a generated name is data: one safe file name under ``out``, the original inside
        path = ensure_under(out / f"{safe_name(s.name)}.json", out)
        path.write_text(s.model_dump_json(indent=1, exclude_none=True) + "\n")
    (out / "generation.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")


def _print(report: Any, metrics: ScenarioMetrics, out: Path) -> None:
    rep = report
    click.echo(f"generator {rep.generator}{f' ({rep.model})' if rep.model else ''}: requested {rep.requested}, "
               f"returned {rep.returned}, first-try valid {rep.first_try_valid}/{rep.proposed}, "
               f"valid after repair {rep.valid}/{rep.proposed}, dropped {rep.dropped}, "
               f"attempts {rep.attempts}, LLM calls {rep.llm_calls}")
    if rep.issue_codes:
        click.echo("issues: " + ", ".join(f"{k} {v}" for k, v in rep.issue_codes.items()))
    click.echo(metrics.table())
    click.echo(f"wrote {rep.returned} scenario(s) and generation.json to {out}")


@click.command()
@click.option("--generator", "generator_name", required=True, type=click.Choice(available()),
              help="registered generator")
@click.option("--topology", required=True, help="'abilene', a .graphml file or a project .yaml/.json knowledge graph")
@click.option("-n", "n", type=click.IntRange(0, 100_000), default=10, show_default=True, help="scenarios")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="output folder (default results/scenarios/<network>-<generator>)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--min-events", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--max-events", type=click.IntRange(1, 100), default=4, show_default=True)
@click.option("--start-s", type=FiniteFloatRange(0, 3600), default=1.0, show_default=True, help="earliest first event")
@click.option("--max-delay-s", type=click.FloatRange(0.001, 3600), default=2.0, show_default=True,
              help="longest gap between events")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=3, show_default=True,
              help="LLM: attempts per scenario (first + repairs)")
@click.option("--event-type", "event_types", multiple=True, type=click.Choice([e.value for e in EventType]),
              help="allow only this event type (repeatable)")
@click.option("--template", help="allow only the event types this template executes")
@click.option("--incidents", "incident_file", type=click.Path(dir_okay=False),
              help="past incidents (CSV/JSON) added to the knowledge graph (replay reads them)")
@click.option("--replay-file", "replay_files", multiple=True, type=click.Path(dir_okay=False),
              help="replay: scenario JSON file to replay (repeatable)")
@click.option("--feedback", "feedback_file", type=click.Path(dir_okay=False, path_type=Path),
              help="feedback digest JSON (past scenarios with KPIs, rejections)")
@click.option("--base", default="causal-walk", show_default=True, help="composer: generator of parent scenarios")
@click.option("--provider", type=click.Choice(["ollama", "openai", "llamacpp", "smollm2"]),
              help="llm: provider (default $ANI_LLM_PROVIDER or smollm2)")
@click.option("--model", help="llm: model name (ollama/openai), or PATH.gguf for llamacpp")
@click.option("--base-url", help="llm: server URL (Ollama, vLLM, llama.cpp server, OpenAI)")
@click.option("--structured-output", type=click.Choice(["auto", "json_schema", "json_object", "grammar", "none"]),
              help="llm/openai: how the step's schema is sent (default auto: the first form the server accepts)")
@click.option("--temperature", type=click.FloatRange(0, 2))
@click.option("--unconstrained", is_flag=True, help="llm: send no schema/grammar (post-hoc filtering ablation)")
def generate(**opts: Any) -> None:
    """Generate N failure scenarios on a topology, write them as JSON and print validity and diversity."""
    try:
        _generate(opts)
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None


def _generate(opts: dict[str, Any]) -> None:
    from ani.kg.io import open_kg

    constraints = _constraints(opts)
    feedback = _feedback(opts["feedback_file"])
    build: dict[str, Any] = {}
    if opts["incident_file"]:
        from ani.kg.incidents import load_incidents

        build["incidents"] = load_incidents(opts["incident_file"])
    kg = open_kg(opts["topology"], **build)
    gen = get_generator(opts["generator_name"], **_generator_options(opts))
    result = run_generator(gen, kg, opts["n"], constraints, feedback)
    metrics = scenario_metrics(result.scenarios, kg)
    network = str(kg.topology.graph.get("name") or "network")
    out = opts["out"] or Path("results") / "scenarios" / safe_name(f"{network}-{opts['generator_name']}")
    _write(out, result.scenarios, {"report": result.report.model_dump(), "metrics": metrics.model_dump(),
                                   "constraints": constraints.model_dump(mode="json"), "graph_digest": kg.digest,
                                   "rejected": [r.model_dump(mode="json") for r in result.rejected[:50]]})
    _print(result.report, metrics, out)
    if result.report.error:  # the backend failed mid-run: what was made is written, the cause is one line
        raise ProjectError(f"{result.report.error} (stopped early; {result.report.returned} scenario(s) kept)")
